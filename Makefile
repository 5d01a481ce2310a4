# coffer - thin wrapper over Meson/Ninja. `make run` and `make test` do everything
# on a fresh Debian machine (scripts/bootstrap installs what is missing).

BUILD      ?= build
TEST_BUILD ?= build-test
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECS  ?= 5
PYTHON     ?= /usr/bin/python3

.PHONY: all build build-test run test bootstrap unit asan fuzz integration node-tests format format-check check-secrets check-repo apidoc bench clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: bootstrap build
	$(BUILD)/coffer server --dev

# The tests run a build with -Dtest_hooks=true: only there do environment
# variables reach the fault-injection points and short timers the tests use.
$(TEST_BUILD)/build.ninja:
	meson setup $(TEST_BUILD) --buildtype=debugoptimized -Dtest_hooks=true

build-test: $(TEST_BUILD)/build.ninja
	ninja -C $(TEST_BUILD)

unit: build-test
	meson test -C $(TEST_BUILD) --print-errorlogs --suite unit

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	scripts/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECS)

integration: build-test
	COFFER_BIN=$(abspath $(TEST_BUILD)/coffer) $(PYTHON) -m pytest -q tests/integration

node-tests: build-test
	cd tests/integration/node && COFFER_BIN=$(abspath $(TEST_BUILD)/coffer) node --test

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

# Every free() of a name that looks like a secret must wipe it first
# (docs/internals/secrets.md); the self-test proves the check still finds one.
check-secrets:
	$(PYTHON) scripts/check-secrets --self-test
	$(PYTHON) scripts/check-secrets

# Layers only look down, nothing cites a document outside the repository, and
# docs/api.md is what tools/apidoc prints (docs/ARCHITECTURE.md); the
# self-test proves each rule still fires.
check-repo: build-test
	$(PYTHON) scripts/check-repo --self-test
	$(PYTHON) scripts/check-repo --apidoc $(TEST_BUILD)/tools/apidoc/apidoc

# Regenerates docs/api.md from the route tables and docs/api-deviations.md.
apidoc: build-test
	$(TEST_BUILD)/tools/apidoc/apidoc docs/api-deviations.md > docs/api.md.tmp
	mv docs/api.md.tmp docs/api.md

test: bootstrap build-test format-check check-secrets check-repo unit asan fuzz integration node-tests

bench: bootstrap build
	bench/run

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
