"""The Python API on inputs that need no database: every function, every exception class."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

import pitr
import samples

ROOT = Path(__file__).resolve().parents[2]


def listing(*segments: tuple[str, int]) -> str:
    """`pgbackrest repo-ls --recurse --output=json` of an archive holding these segments."""
    entries: dict[str, Any] = {".": {"type": "path"}}
    for name, mtime in segments:
        entries[f"{name[:16]}/{name}-{'0' * 40}.zst"] = {"type": "file", "size": 100, "time": mtime}
    return json.dumps(entries)


# --- module -------------------------------------------------------------------------------


def test_version_is_the_workspace_version() -> None:
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    assert pitr.__version__ == cargo["workspace"]["package"]["version"]
    assert pitr._pitr.__version__ == pitr.__version__


def test_key_lists_are_the_cores() -> None:
    assert "pg_cluster" in pitr.SPEC_KEYS and "pgbackrest_repo" in pitr.SPEC_KEYS
    assert {"time", "name", "xid", "lsn", "backup", "before"} <= set(pitr.REQUEST_KEYS)
    assert isinstance(pitr.SPEC_KEYS, tuple)


def test_secret_keys_are_pgbackrests_secure_options_in_pigstys_form() -> None:
    assert isinstance(pitr.SECRET_KEYS, frozenset)
    assert {
        "cipher_pass", "s3_key", "s3_key_secret", "s3_token", "s3_sse_customer_key",
        "azure_account", "azure_key", "azure_endpoint", "gcs_key", "sftp_private_key_passphrase",
    } <= pitr.SECRET_KEYS
    assert not {"cipher_type", "s3_bucket", "s3_key_type", "path"} & pitr.SECRET_KEYS
    # Every key of a repo dict whose value the core treats as secret is one of them.
    spec = samples.cipher_spec()
    secrets = set(pitr.secret_values(spec))
    named = {value for repo in spec["pgbackrest_repo"].values() for key, value in repo.items()
             if key in pitr.SECRET_KEYS}
    assert named == secrets


def test_package_exports_everything_the_module_has() -> None:
    assert sorted(pitr.__all__) == sorted(pitr._pitr.__all__)


# --- exceptions ---------------------------------------------------------------------------


def test_exception_tree() -> None:
    assert issubclass(pitr.PitrError, Exception)
    assert issubclass(pitr.PitrInputError, pitr.PitrError)
    assert issubclass(pitr.PitrInputError, ValueError)
    assert issubclass(pitr.RecoveryError, pitr.PitrError)
    assert not issubclass(pitr.RecoveryError, ValueError)
    assert not issubclass(pitr.PitrError, ValueError)
    for cls in (pitr.PitrError, pitr.PitrInputError, pitr.RecoveryError):
        assert cls.__module__ == "pitr"
        e = cls("made by hand")
        assert (e.code, e.step, e.rolled_back) == ("failed", None, None)
        assert str(e) == "made by hand"


def test_input_errors_are_value_errors_with_the_cores_code() -> None:
    with pytest.raises(ValueError) as caught:
        pitr.render_config({"pg_cluster": "pg-test", "pg_clsuter": "x"})
    e = caught.value
    assert type(e) is pitr.PitrInputError
    assert e.code == "unknown_key"
    assert "did you mean 'pg_cluster'" in str(e)
    assert e.step is None and e.rolled_back is None


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"time": "2025-01-01 11:00:00+00", "name": "x"}, "invalid_setting"),
        ({"lsn": "0/ZZ"}, "invalid_value"),
        ({"time": "2025-01-01 11:00:00"}, "time_zone_required"),
        ({"tiem": "2025-01-01 11:00:00+00"}, "unknown_key"),
        ([1], "parse_error"),
    ],
)
def test_bad_requests_raise_input_errors(request_: Any, code: str) -> None:
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.plan_restore(samples.spec(), request_, samples.info_text())
    assert caught.value.code == code


def test_environment_errors_are_pitr_errors_but_not_value_errors() -> None:
    with pytest.raises(pitr.PitrError) as caught:
        pitr.parse_info("this is not json")
    assert not isinstance(caught.value, ValueError)
    assert caught.value.code == "info_format"


def test_values_that_are_not_plain_data_are_type_errors() -> None:
    with pytest.raises(TypeError):
        pitr.render_config({"pg_cluster": object()})


# --- rendering ----------------------------------------------------------------------------


def test_render_config_every_file() -> None:
    spec = samples.spec(pitr_backup_schedule=[{"cron": "00 01 * * *", "type": "full"}])
    conf = pitr.render_config(spec)
    assert "[pg-test]\npg1-path=/nonexistent/pitr-py-tests/data\npg1-port=5433\n" in conf
    assert "repo1-path=/pg/backup\n" in conf
    assert pitr.render_config(spec, "pgbackrest") == conf
    restore = pitr.render_config(spec, "restore")
    assert "# File      :   pitr.conf" in restore and "archive-mode=preserve" in restore
    archive = pitr.render_config(spec, "archive")
    assert "archive_mode = on" in archive
    assert "--stanza=pg-test archive-push %p" in archive
    cron = pitr.render_config(spec, "cron")
    assert "00 01 * * * postgres" in cron and "backup full" in cron
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.render_config(spec, "conf")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_value"


def test_secrets_only_when_asked_for() -> None:
    spec = samples.cipher_spec()
    shown = pitr.render_config(spec)
    real = pitr.render_config(spec, reveal_secrets=True)
    assert "pitr.Cipher-Pass-42" not in shown
    assert "repo1-cipher-pass=<redacted>" in shown
    assert "repo1-cipher-pass=pitr.Cipher-Pass-42" in real
    assert pitr.redact_config(real) == shown
    restore = pitr.render_restore_config(spec, {"lsn": "0/3000000"})
    assert "pitr.Cipher-Pass-42" not in restore
    assert "pitr.Cipher-Pass-42" in pitr.render_restore_config(
        spec, {"lsn": "0/3000000"}, reveal_secrets=True)


def test_templates_override_the_embedded_ones(tmp_path: Path) -> None:
    (tmp_path / "crontab.hbs").write_text("# schedule of {{stanza}}\n")
    assert pitr.render_config(samples.spec(), "cron", tmp_path) == "# schedule of pg-test\n"
    (tmp_path / "crontab.hb").write_text("typo")
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.render_config(samples.spec(), "cron", templates=str(tmp_path))
    assert caught.value.code == "unknown_key"


def test_render_restore_config_follows_the_request() -> None:
    spec = samples.spec()
    default = pitr.render_restore_config(spec)
    assert "# File      :   pitr-pg-test-restore.conf" in default
    assert "archive-mode=preserve" in default
    clone = pitr.render_restore_config(
        spec,
        {"time": "2025-01-01 19:00:00", "data": "/pg/clone", "port": 5444,
         "db_include": ["app"], "process": 3},
        zone="Asia/Shanghai",
        restore_config="/etc/pgbackrest/clone.conf",
    )
    assert "pg1-path=/pg/clone\npg1-port=5444\n" in clone
    assert "archive-mode=off" in clone
    assert "db-include=app" in clone
    assert "[global:restore]\nprocess-max=3\n" in clone
    assert "# File      :   clone.conf" in clone
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.render_restore_config(spec, {"data": "/pg/clone", "archive": True})
    assert caught.value.code == "invalid_setting"


# --- info, windows, selection -------------------------------------------------------------


def test_parse_info_gives_pgbackrests_shape_back() -> None:
    parsed = pitr.parse_info(samples.info_text())
    assert [s["name"] for s in parsed] == ["pg-test"]
    assert [b["label"] for b in parsed[0]["backup"]] == [
        "20250101-100000F", "20250101-100000F_20250101-120000I"]
    assert parsed[0]["backup"][0]["lsn"] == {"start": "0/2000028", "stop": "0/2000100"}


def test_recovery_window_from_text_or_parsed_info() -> None:
    windows = pitr.recovery_window(samples.info_text())
    assert windows == pitr.recovery_window(samples.info())
    assert windows == pitr.recovery_window(pitr.parse_info(samples.info_text()))
    assert len(windows) == 1
    w = windows[0]
    assert (w["repo_key"], w["timeline"]) == (1, "1")
    assert w["start"] == {"set": "20250101-100000F", "lsn": "0/2000100", "time": samples.FULL_STOP}
    assert w["end"]["lsn"] == "0/A000000" and w["end"]["time"] is None


def test_recovery_window_with_histories_and_listings() -> None:
    # Timeline 2 branched off 1 at 0/5000000: timeline 1 then ends there.
    histories = {2: "1\t0/5000000\tno recovery target specified\n"}
    windows = pitr.recovery_window(samples.info(), histories, stanza="pg-test")
    ends = {w["timeline"]: w["end"] and w["end"]["lsn"] for w in windows}
    # Nothing of timeline 2 is archived yet: its end is unknown.
    assert ends == {"1": "0/5000000", "2": None}
    assert pitr.recovery_window(samples.info(), {"00000002.history": histories[2]}) == windows
    # A listing shows holes: without segment 3 the full set reaches nothing, and the
    # incremental set's WAL is not listed at all.
    segs = [(f"0000000100000000000000{n:02X}", samples.FULL_STOP + n) for n in (1, 2, 4, 5)]
    assert pitr.recovery_window(samples.info(), listings={1: listing(*segs)}) == []
    # ... and when the last segment was archived.
    whole = [(f"0000000100000000000000{n:02X}", samples.FULL_STOP + n) for n in range(1, 10)]
    listed = pitr.recovery_window(samples.info(), listings={"1": listing(*whole)})
    assert listed[0]["end"]["time"] == samples.FULL_STOP + 9
    with pytest.raises(pitr.PitrError) as caught:
        pitr.recovery_window(samples.info(), stanza="pg-other")
    assert caught.value.code == "stanza_not_found"
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.recovery_window(samples.info(), {0: "x"})
    assert caught.value.code == "invalid_value"


def test_select_backup_chooses_across_sets() -> None:
    info = samples.info_text()
    before_incr = pitr.select_backup(info, {"time": "2025-01-01 11:00:00+00"})
    assert before_incr["set"] == "20250101-100000F"
    assert before_incr["rule"] == "stopped_before_time"
    after_incr = pitr.select_backup(info, {"time": "2025-01-01 21:00:00", "timeline": 1},
                                    zone="Asia/Shanghai")
    assert after_incr["set"] == "20250101-100000F_20250101-120000I"
    # A restore point recorded by `pitr mark` before the incremental set.
    by_mark = pitr.select_backup(samples.info(), {"name": "before-incr"}, stanza="pg-test")
    assert by_mark["set"] == "20250101-100000F"
    assert by_mark["rule"] == "stopped_before_mark"
    assert by_mark["pgbackrest_choice"]["set"].endswith("I")
    latest = pitr.select_backup(info)
    assert (latest["set"], latest["repo"], latest["rule"]) == (
        "20250101-100000F_20250101-120000I", 1, "newest")
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.select_backup(info, {"lsn": "0/1000000"})
    assert caught.value.code == "target_outside_window"


# --- planning -----------------------------------------------------------------------------


def test_plan_restore_from_info_checks_and_plans() -> None:
    plan = pitr.plan_restore(samples.spec(), {"time": "2025-01-01 11:00:00+00"},
                             samples.info_text(), restore_config="/tmp/x/restore.conf",
                             timeout=600)
    assert plan.kind == "restore" and plan.stanza == "pg-test"
    assert plan.summary["set"] == "20250101-100000F"
    assert plan.summary["restore_config"] == "/tmp/x/restore.conf"
    assert plan.selection is not None and plan.selection["set"] == plan.summary["set"]
    assert plan.destructive and repr(plan).startswith("<pitr.Plan restore of stanza pg-test")
    plan_dict = plan.to_dict()
    assert plan_dict["kind"] == "restore" and plan_dict["summary"] == plan.summary
    ids = [s["id"] for s in plan_dict["steps"]]
    # Nothing runs in the (missing) data directory: no stop step.
    assert ids == ["write-restore-config", "restore", "start", "await-recovery", "verify",
                   "paused", "archiving"]
    restore = plan_dict["steps"][1]["action"]
    assert restore["kind"] == "exec" and restore["run_as"] == "postgres"
    assert "--set=20250101-100000F" in restore["argv"]
    assert "--type=time" in restore["argv"]
    assert plan_dict["steps"][3]["action"]["timeout_secs"] == 600
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.plan_restore(samples.spec(), {"time": "2024-01-01 00:00:00+00"}, samples.info())
    assert caught.value.code in {"target_outside_window", "no_backup_set"}


def test_plans_and_their_shell_form_hold_no_secrets() -> None:
    plan = pitr.plan_restore(samples.cipher_spec(), {"lsn": "0/3000000"}, samples.info())
    text = json.dumps(plan.to_dict()) + repr(plan) + json.dumps(plan.summary)
    assert "pitr.Cipher-Pass-42" not in text and "S3User.Backup-42" not in text
    assert "repo1-cipher-pass=<redacted>" in plan.to_dict()["steps"][0]["action"]["contents"]
    script = plan.to_shell()
    assert "pitr.Cipher-Pass-42" not in script
    assert re.search(
        r"pgbackrest .*'--type=lsn' '--target=0/3000000' '--target-timeline=1' restore\n", script
    )


def test_a_plan_that_lost_its_secrets_does_not_run(tmp_path: Path) -> None:
    target = tmp_path / "restore.conf"
    plan = pitr.plan_restore(samples.cipher_spec(), {}, samples.info(), restore_config=target)
    again = pitr.Plan.from_dict(plan.to_dict())
    assert again.to_dict() == plan.to_dict() and again.selection is None
    with pytest.raises(pitr.PitrError) as caught:
        again.run(echo=False)
    assert not isinstance(caught.value, ValueError)
    assert caught.value.code == "plan_not_runnable"
    assert "plan again" in str(caught.value)
    assert not target.exists()


def test_a_malformed_plan_is_an_input_error() -> None:
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.Plan.from_dict({"kind": "restore"})
    assert caught.value.code == "parse_error"
    with pytest.raises(pitr.PitrInputError):
        pitr.Plan.from_dict({"kind": "nothing"})


def test_plan_backup_on_a_replica_skips_without_asking_anyone() -> None:
    plan = pitr.plan_backup(samples.spec(), "full", "replica")
    assert plan.kind == "backup"
    assert plan.summary["skipped"] is True and plan.summary["role"] == "replica"
    assert plan.summary["role_source"] == "given"
    assert [s["id"] for s in plan.to_dict()["steps"]] == ["skip"]
    with pytest.raises(pitr.PitrInputError) as caught:
        pitr.plan_backup(samples.spec(), "weekly")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_value"
    with pytest.raises(pitr.PitrInputError):
        pitr.plan_backup(samples.spec(), None, "standby")  # type: ignore[arg-type]


def test_plan_service_when_nothing_runs() -> None:
    stop = pitr.plan_service(samples.spec(), "stop")
    assert stop.kind == "service" and stop.summary["changed"] is False
    assert [s["id"] for s in stop.to_dict()["steps"]] == ["stopped"]
    with pytest.raises(pitr.PitrError) as caught:
        pitr.plan_service(samples.spec(), "start")
    assert caught.value.code == "data_directory"
    with pytest.raises(pitr.PitrInputError):
        pitr.plan_service(samples.spec(), "restart")  # type: ignore[arg-type]


# --- specs and secrets --------------------------------------------------------------------


def test_check_spec_fills_defaults_and_hides_secrets() -> None:
    checked = pitr.check_spec(samples.cipher_spec())
    assert checked["cluster"] == "pg-test"
    assert checked["dbsu"] == "postgres"
    assert checked["config_path"] == "/nonexistent/pitr-py-tests/pgbackrest.conf"
    assert "pitr.Cipher-Pass-42" not in json.dumps(checked)
    assert "<redacted>" in json.dumps(checked)


def test_secret_values_for_masking() -> None:
    assert pitr.secret_values(samples.spec()) == []
    # pgBackRest counts the S3 key id as secure too.
    assert sorted(pitr.secret_values(samples.cipher_spec())) == [
        "S3User.Backup-42", "pgbackrest", "pitr.Cipher-Pass-42"]
    inline = {"repo": {"path": "/other", "cipher_type": "aes-256-cbc",
                       "cipher_pass": "Inline.Pass-7"}}
    assert "Inline.Pass-7" in pitr.secret_values(samples.spec(), inline)
    # A request that does not validate adds nothing (its error comes where it is used).
    assert pitr.secret_values(samples.spec(), {"lsn": "bad"}) == []
    # Patroni's REST API password, a secret of the spec too (masked by key name before that).
    patroni = {**samples.spec(), "patroni_port": 8008, "patroni_username": "postgres",
               "patroni_password": "Patroni.API-Tests-3"}
    assert pitr.secret_values(patroni) == ["Patroni.API-Tests-3"]
    assert "patroni_password" in pitr.SECRET_KEYS
    checked = json.dumps(pitr.check_spec(patroni))
    assert "Patroni.API-Tests-3" not in checked and '"username": "postgres"' in checked


def test_redact_config_keeps_everything_but_secure_values() -> None:
    text = "[global]\nrepo1-path=/pg/backup\nrepo1-s3-key-secret=old.Secret\n# repo1-cipher-pass=x\n"
    assert pitr.redact_config(text) == (
        "[global]\nrepo1-path=/pg/backup\nrepo1-s3-key-secret=<redacted>\n# repo1-cipher-pass=x\n")


def test_render_metrics_uses_the_exporter_names() -> None:
    text = pitr.render_metrics(samples.info_text(), now=1_795_466_900.0)
    assert "# TYPE pgbackrest_backup_since_last_completion_seconds gauge" in text
    assert "pitr_window_start_timestamp_seconds{" in text
    assert "pgbackrest_stanza_lock_status{" in text  # the old name, for old dashboards
    with pytest.raises(pitr.PitrError) as e:
        pitr.render_metrics("not json")
    assert e.value.code == "info_format"
