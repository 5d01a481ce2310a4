/* config.h - `.coffer-scan.toml`, the scanner's configuration
 * (docs/scanner.md "Configuration (.coffer-scan.toml)").
 *
 * The file is read with a TOML subset parser written here: tables, arrays of
 * tables, dotted keys, basic and literal strings (one-line and multi-line),
 * integers, floats, booleans, arrays and comments. Dates and inline tables
 * are refused. What it may say:
 *
 *   disabled_rules = ["generic-secret", ...]     # built-in rule ids
 *   [allowlist]                                  # global
 *   paths = ['''(^|/)testdata/''']               # regexes on the file path
 *   regexes = ['''^EXAMPLE''']                   # regexes on the secret
 *   stopwords = ["example", "dummy"]             # secret contains one: drop
 *   [[rules]]                                    # an extra rule
 *   id = "acme-key"                              # required, unique
 *   description = "..."                          # optional
 *   regex = '''acme_(?<secret>[a-z0-9]{32})'''   # required (PCRE2)
 *   keywords = ["acme_"]                         # required, at least one
 *   entropy = 3.5                                # optional, bits per char
 *   secret_group = 1                             # optional capture group
 *   [rules.allowlist]                            # per rule, as above
 *
 * A per-rule allowlist may also name a built-in rule: [[rules]] with only id
 * and an allowlist. Errors name the file and line: "FILE:LINE: reason". */
#ifndef CF_TOOLS_SCAN_CONFIG_H
#define CF_TOOLS_SCAN_CONFIG_H

#include "tools/scan/report.h"
#include "tools/scan/scan.h"

#include <stdbool.h>
#include <stddef.h>

struct scan_allowlist {
	void **paths; /* compiled PCRE2 patterns (pcre2_code *) */
	size_t npaths;
	void **regexes;
	size_t nregexes;
	char **stopwords; /* lower-cased */
	size_t nstopwords;
};

struct scan_rule_allow {
	char *rule_id;
	struct scan_allowlist allow;
};

struct scan_config {
	/* What scan_engine_new takes: the built-in rules minus the disabled ones,
	 * then the extra rules, in that order. */
	struct scan_rule *rules;
	size_t nrules;
	struct scan_allowlist global;
	struct scan_rule_allow *per_rule;
	size_t nper_rule;
	/* storage of the extra rules' strings */
	char **strs;
	size_t nstrs;
	const char ***kwlists;
	size_t nkwlists;
};

/* Parses the configuration text (len bytes; name is used in errors) on top of
 * the built-in rules (builtin: nbuiltin rules, from scan_builtin_rules(); the
 * array is copied, the rules' strings must outlive cfg). Returns 0, CF_EINVAL with "name:LINE:
 * reason" in err, or CF_ENOMEM. On error *cfg is left empty. */
int scan_config_parse(const char *text, size_t len, const char *name,
                      const struct scan_rule *builtin, size_t nbuiltin, struct scan_config *cfg,
                      char *err, size_t errlen);

/* Reads and parses path. When the file is missing and !must_exist, cfg holds
 * the built-in rules only. Returns 0, CF_EINVAL (syntax or content, err names
 * the line), CF_EIO (err says why) or CF_ENOMEM. */
int scan_config_load(const char *path, bool must_exist, const struct scan_rule *builtin,
                     size_t nbuiltin, struct scan_config *cfg, char *err, size_t errlen);

/* Is the finding of rule_id at file with this secret allowed (dropped) by the
 * global allowlist or the rule's own? */
bool scan_config_allows(const struct scan_config *cfg, const char *rule_id, const char *file,
                        const char *secret, size_t secret_len);

/* Drops (and wipes) every finding of r that the config allows; returns how
 * many were dropped. Call it once the scan is over. */
size_t scan_config_filter(const struct scan_config *cfg, struct scan_report *r);

void scan_config_free(struct scan_config *cfg);

#endif
