"""KV version 2 (Vault's KV v2 API) with hvac's real API against a dev server, on a kv-v2
mount enabled at `app/`."""

import hvac
import pytest

MOUNT = "app"


@pytest.fixture
def app(dev_server):
    dev_server.client.sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
    return dev_server


def kv(dev):
    return dev.client.secrets.kv.v2


def put(dev, path, secret, **kw):
    return kv(dev).create_or_update_secret(path, secret, mount_point=MOUNT, **kw)


def get(dev, path, version=None):
    return kv(dev).read_secret_version(path, version=version, mount_point=MOUNT)


def test_kv_v2_mount_is_listed_at_app(app):
    mounts = app.client.sys.list_mounted_secrets_engines()["data"]
    assert mounts["app/"]["type"] == "kv"
    assert mounts["app/"]["options"]["version"] == "2"
    assert app.client.sys.retrieve_mount_option(MOUNT, "version") == "2"


def test_kv_v2_by_type_name(dev_server):
    dev_server.client.sys.enable_secrets_engine("kv-v2", path="other")
    entry = dev_server.client.sys.list_mounted_secrets_engines()["data"]["other/"]
    assert entry["type"] == "kv"
    assert entry["options"]["version"] == "2"
    kv(dev_server).create_or_update_secret("x", {"k": "v"}, mount_point="other")
    assert kv(dev_server).read_secret_version("x", mount_point="other")["data"]["data"] == {"k": "v"}


def test_create_and_read(app):
    written = put(app, "db", {"password": "s3cret", "user": "app"})
    meta = written["data"]
    assert meta["version"] == 1
    assert meta["destroyed"] is False
    assert meta["deletion_time"] == ""
    assert meta["created_time"].endswith("Z")

    got = get(app, "db")
    assert got["data"]["data"] == {"password": "s3cret", "user": "app"}
    assert got["data"]["metadata"]["version"] == 1
    assert got["data"]["metadata"]["created_time"] == meta["created_time"]


def test_write_answers_200_with_version_metadata(app):
    resp = app.raw("POST", f"/v1/{MOUNT}/data/raw", {"data": {"a": "1"}})
    assert resp.status == 200, resp
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["data"]["version"] == 1


def test_any_json_values_round_trip(app):
    secret = {"n": 42, "f": 1.5, "b": True, "none": None, "list": [1, "two", {"three": 3}],
              "nested": {"deep": {"deeper": "x"}}, "unicode": "p\u00e4ss\u2603"}
    put(app, "types", secret)
    assert get(app, "types")["data"]["data"] == secret


def test_update_creates_new_version(app):
    put(app, "db", {"password": "one"})
    second = put(app, "db", {"password": "two"})
    assert second["data"]["version"] == 2
    assert get(app, "db")["data"]["data"] == {"password": "two"}
    assert get(app, "db")["data"]["metadata"]["version"] == 2


def test_hvac_patch_merges(app):
    put(app, "db", {"password": "one", "user": "app"})
    patched = kv(app).patch("db", {"password": "two", "host": "h"}, mount_point=MOUNT)
    assert patched["data"]["version"] == 2
    assert get(app, "db")["data"]["data"] == {"password": "two", "user": "app", "host": "h"}


def test_http_merge_patch(app):
    put(app, "db", {"password": "one", "user": "app", "drop": "me"})
    resp = app.raw("PATCH", f"/v1/{MOUNT}/data/db",
                   b'{"data": {"password": "two", "drop": null, "new": {"a": 1}}}',
                   headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200, resp
    assert resp.json()["data"]["version"] == 2
    assert get(app, "db")["data"]["data"] == {"password": "two", "user": "app", "new": {"a": 1}}


def test_patch_of_missing_key_is_404(app):
    resp = app.raw("PATCH", f"/v1/{MOUNT}/data/nothing", b'{"data": {"a": "b"}}',
                   headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 404


def test_read_old_versions(app):
    for i in range(1, 4):
        put(app, "hist", {"value": f"v{i}"})
    for i in range(1, 4):
        got = get(app, "hist", version=i)
        assert got["data"]["data"] == {"value": f"v{i}"}
        assert got["data"]["metadata"]["version"] == i
    assert get(app, "hist", version=0)["data"]["data"] == {"value": "v3"}


def test_read_missing_key_and_version_is_404(app):
    with pytest.raises(hvac.exceptions.InvalidPath):
        get(app, "nope")
    resp = app.raw("GET", f"/v1/{MOUNT}/data/nope")
    assert resp.status == 404
    assert resp.json()["errors"] == []
    put(app, "one", {"a": "b"})
    with pytest.raises(hvac.exceptions.InvalidPath):
        get(app, "one", version=7)


def test_cas_mismatch_is_400(app):
    put(app, "cas", {"v": "1"})
    put(app, "cas", {"v": "2"})
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        put(app, "cas", {"v": "bad"}, cas=1)
    assert "check-and-set" in str(exc.value)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        put(app, "cas", {"v": "bad"}, cas=0)  # 0 = must not exist
    assert get(app, "cas")["data"]["data"] == {"v": "2"}
    assert put(app, "cas", {"v": "3"}, cas=2)["data"]["version"] == 3
    assert put(app, "fresh", {"v": "1"}, cas=0)["data"]["version"] == 1


def test_cas_required_on_mount(app):
    kv(app).configure(max_versions=10, cas_required=True, mount_point=MOUNT)
    cfg = kv(app).read_configuration(mount_point=MOUNT)["data"]
    assert cfg["cas_required"] is True
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        put(app, "needs-cas", {"v": "1"})
    assert "check-and-set" in str(exc.value)
    assert put(app, "needs-cas", {"v": "1"}, cas=0)["data"]["version"] == 1


def test_cas_required_on_key(app):
    put(app, "k", {"v": "1"})
    kv(app).update_metadata("k", cas_required=True, mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        put(app, "k", {"v": "2"})
    assert put(app, "k", {"v": "2"}, cas=1)["data"]["version"] == 2
    put(app, "other", {"v": "free"})  # other keys are unaffected


def test_delete_latest_then_undelete(app):
    put(app, "del", {"v": "1"})
    put(app, "del", {"v": "2"})
    kv(app).delete_latest_version_of_secret("del", mount_point=MOUNT)

    with pytest.raises(hvac.exceptions.InvalidPath):
        get(app, "del")
    resp = app.raw("GET", f"/v1/{MOUNT}/data/del")
    assert resp.status == 404
    body = resp.json()  # soft-deleted: 404 with a full envelope
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["version"] == 2
    assert body["data"]["metadata"]["deletion_time"] != ""
    assert body["data"]["metadata"]["destroyed"] is False
    assert get(app, "del", version=1)["data"]["data"] == {"v": "1"}

    kv(app).undelete_secret_versions("del", versions=[2], mount_point=MOUNT)
    got = get(app, "del")
    assert got["data"]["data"] == {"v": "2"}
    assert got["data"]["metadata"]["deletion_time"] == ""


def test_delete_specific_versions(app):
    for i in range(1, 4):
        put(app, "multi", {"v": str(i)})
    kv(app).delete_secret_versions("multi", versions=[1, 2], mount_point=MOUNT)
    for v in (1, 2):
        with pytest.raises(hvac.exceptions.InvalidPath):
            get(app, "multi", version=v)
    assert get(app, "multi")["data"]["data"] == {"v": "3"}
    versions = kv(app).read_secret_metadata("multi", mount_point=MOUNT)["data"]["versions"]
    assert versions["1"]["deletion_time"] != ""
    assert versions["3"]["deletion_time"] == ""


def test_destroy_is_permanent(app):
    put(app, "gone", {"v": "1"})
    put(app, "gone", {"v": "2"})
    kv(app).destroy_secret_versions("gone", versions=[1], mount_point=MOUNT)

    resp = app.raw("GET", f"/v1/{MOUNT}/data/gone?version=1")
    assert resp.status == 404
    assert resp.json()["data"]["data"] is None
    assert resp.json()["data"]["metadata"]["destroyed"] is True
    meta = kv(app).read_secret_metadata("gone", mount_point=MOUNT)["data"]
    assert meta["versions"]["1"]["destroyed"] is True
    assert meta["versions"]["2"]["destroyed"] is False

    kv(app).undelete_secret_versions("gone", versions=[1], mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        get(app, "gone", version=1)
    assert get(app, "gone")["data"]["data"] == {"v": "2"}


def test_metadata_max_versions(app):
    kv(app).update_metadata("capped", max_versions=2, mount_point=MOUNT)
    for i in range(1, 5):
        put(app, "capped", {"v": str(i)})
    meta = kv(app).read_secret_metadata("capped", mount_point=MOUNT)["data"]
    assert meta["max_versions"] == 2
    assert meta["current_version"] == 4
    assert meta["oldest_version"] == 3
    assert sorted(meta["versions"]) == ["3", "4"]
    assert meta["delete_version_after"] == "0s"
    for v in (1, 2):
        with pytest.raises(hvac.exceptions.InvalidPath):
            get(app, "capped", version=v)
    assert get(app, "capped", version=3)["data"]["data"] == {"v": "3"}


def test_mount_max_versions(app):
    kv(app).configure(max_versions=3, mount_point=MOUNT)
    assert kv(app).read_configuration(mount_point=MOUNT)["data"]["max_versions"] == 3
    for i in range(1, 6):
        put(app, "m", {"v": str(i)})
    meta = kv(app).read_secret_metadata("m", mount_point=MOUNT)["data"]
    assert sorted(meta["versions"], key=int) == ["3", "4", "5"]


def test_default_configuration(app):
    cfg = kv(app).read_configuration(mount_point=MOUNT)["data"]
    assert cfg["cas_required"] is False
    assert cfg["delete_version_after"] == "0s"
    assert cfg["max_versions"] == 0


def test_custom_metadata(app):
    put(app, "cm", {"v": "1"})
    resp = app.raw("POST", f"/v1/{MOUNT}/metadata/cm", {"custom_metadata": {"owner": "team-a"}})
    assert resp.status in (200, 204), resp
    meta = kv(app).read_secret_metadata("cm", mount_point=MOUNT)["data"]
    assert meta["custom_metadata"] == {"owner": "team-a"}
    assert get(app, "cm")["data"]["metadata"]["custom_metadata"] == {"owner": "team-a"}
    assert meta["current_version"] == 1  # metadata writes make no version


def test_list(app):
    for p in ("a", "b", "dir/c", "dir/sub/d"):
        put(app, p, {"v": p})
    top = kv(app).list_secrets("", mount_point=MOUNT)["data"]["keys"]
    assert sorted(top) == ["a", "b", "dir/"]
    inner = kv(app).list_secrets("dir", mount_point=MOUNT)["data"]["keys"]
    assert sorted(inner) == ["c", "sub/"]


@pytest.mark.parametrize("query", ["list=true", "list=1", "list=True", "list=t"])
def test_list_with_get_query(app, query):
    put(app, "q/one", {"v": "1"})
    resp = app.raw("GET", f"/v1/{MOUNT}/metadata/q/?{query}")
    assert resp.status == 200, resp
    assert resp.json()["data"]["keys"] == ["one"]


def test_list_bad_bool_is_400(app):
    put(app, "q/one", {"v": "1"})
    assert app.raw("GET", f"/v1/{MOUNT}/metadata/q/?list=yes").status == 400


def test_list_empty_is_404(app):
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv(app).list_secrets("empty", mount_point=MOUNT)
    resp = app.raw("LIST", f"/v1/{MOUNT}/metadata/empty/")
    assert resp.status == 404
    assert resp.json()["errors"] == []


def test_delete_metadata_and_all_versions(app):
    put(app, "all", {"v": "1"})
    put(app, "all", {"v": "2"})
    put(app, "keep", {"v": "1"})
    kv(app).delete_metadata_and_all_versions("all", mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv(app).read_secret_metadata("all", mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        get(app, "all", version=1)
    assert kv(app).list_secrets("", mount_point=MOUNT)["data"]["keys"] == ["keep"]
    # writing again starts over at version 1
    assert put(app, "all", {"v": "new"})["data"]["version"] == 1


def test_v2_mount_without_data_prefix_is_404(app):
    put(app, "x", {"v": "1"})
    assert app.raw("GET", f"/v1/{MOUNT}/x").status == 404


def test_dev_secret_mount_is_kv_v2(dev_server):
    kv2 = dev_server.client.secrets.kv.v2
    kv2.create_or_update_secret("app/db", {"password": "x"})  # default mount_point "secret"
    assert kv2.read_secret_version("app/db")["data"]["data"] == {"password": "x"}
    assert dev_server.client.sys.retrieve_mount_option("secret", "version") == "2"
