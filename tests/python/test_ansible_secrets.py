"""No secret of a cluster spec leaks from the pitr.pgsql modules, whatever is wrong with it.

One playbook runs every case below with a real `ansible-playbook -vvv` against localhost, as
root, beside a real PostgreSQL 15: broken specs that hold cipher passphrases and S3 keys (a
typo'd key at the top, in a repo, in the secret's own name; Pigsty's weak passphrase; a spec
given as a string; an option the module does not have), failures that are not pitr's (an
exception in the module's own code), and valid specs for contrast. The playbook runs in a mount
namespace where /dev/log is a socket of the test (`syslog_capture`), so the invocation each
module logs on the node is read too. Each test checks one thing of that run: the task's
`error_code`, no secret in its result, in the whole verbose output, nor in the node's log.

The last tests call the masking and the exception wrapper of `module_utils/pitr_module.py` in
this process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

import pitr
from ansible_run import ANSIBLE_DIR, PlayRun, playbook, write_inventory
from pgcluster import Cluster
from syslog_capture import capture_syslog

# The collection's module_utils, imported as the modules import it.
sys.path.insert(0, str(ANSIBLE_DIR))
from ansible_collections.pitr.pgsql.plugins.module_utils import pitr_module  # noqa: E402

SALT = os.urandom(4).hex()


def secret(kind: str) -> str:
    """A secret no output can hold by chance."""
    return f"{kind}.{SALT}-Secret"


CIPHER = secret("Cipher")
NUMBER = 7_000_000_000 + int(SALT, 16)  # a passphrase YAML reads as an int
WEAK = "pgBackRest"  # Pigsty's default passphrase, refused unless allowed


@dataclass(frozen=True)
class Case:
    """One task of the playbook."""

    name: str
    module: str
    args: dict[str, Any]
    error_code: str | None  # None: the task succeeds
    secrets: tuple[str, ...]
    # The invocation reaches the node's log once Ansible has accepted the arguments.
    logged: bool = True
    marker: str = ""  # text of the logged invocation that tells it apart

    @property
    def unique_secrets(self) -> tuple[str, ...]:
        """The secrets no other task's output may hold either (not the word ``pgBackRest``,
        which the header of a rendered pgbackrest.conf holds)."""
        return tuple(s for s in self.secrets if s != WEAK)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_repo(key: str, key_secret: str, cipher: str) -> dict[str, Any]:
    """An encrypted S3 repo as Pigsty writes one."""
    return {"type": "s3", "s3_endpoint": "127.0.0.1", "s3_region": "us-east-1",
            "s3_bucket": "pitr", "s3_key": key, "s3_key_secret": key_secret,
            "s3_uri_style": "path", "storage_port": 9000, "storage_verify_tls": "n",
            "path": "/pgbackrest", "cipher_type": "aes-256-cbc", "cipher_pass": cipher}


def with_repo(spec: dict[str, Any], cluster: str, name: str,
              repo: dict[str, Any]) -> dict[str, Any]:
    """``spec`` for stanza ``cluster`` with ``repo`` as its only repo."""
    return dict(spec, pg_cluster=cluster, pgbackrest_method=name, pgbackrest_repo={name: repo})


def cases(base: dict[str, Any], scratch: Path) -> list[Case]:
    """Every task, from the running cluster's spec ``base`` (its repo encrypted with
    ``CIPHER``); ``scratch`` is a directory for files (and holds a directory ``a-directory``).
    """
    local = dict(base["pgbackrest_repo"]["local"])
    # Quotes and a backslash: escaped differently in JSON, a Python repr and the log.
    s3 = {k: secret(k) + "'q\"b\\s" for k in ("s3_key", "s3_key_secret", "cipher_pass")}
    s3_valid = {k: secret("Valid-" + k) for k in ("s3_key", "s3_key_secret", "cipher_pass")}
    inline = {k: secret("Inline-" + k) for k in ("s3_key", "s3_key_secret", "cipher_pass")}
    extra = secret("Extra")
    typo_secret = secret("TypoKey")
    inline_repo = s3_repo(inline["s3_key"], inline["s3_key_secret"], inline["cipher_pass"])
    pg_pitr = {"lsn": "0/1", "repo": inline_repo, "extra": [f"--repo1-cipher-pass={extra}"]}
    return [
        Case("valid spec, backup planned against the running cluster", "pgbackrest_backup",
             {"spec": base, "type": "full"}, None, (CIPHER,),
             marker=f"'pg_cluster': '{base['pg_cluster']}'"),
        Case("typo'd top-level key", "pgbackrest_config",
             {"spec": dict(base, pg_cluster="sec-top", pgbackrest_methd="local",
                           pgbackrest_repo={"local": local, "spare": dict(
                               local, cipher_pass=NUMBER)}),
              "dest": str(scratch / "top.conf")},
             "unknown_key", (CIPHER, str(NUMBER)), marker="sec-top"),
        Case("typo'd key in an S3 repo", "pgbackrest_backup",
             {"spec": with_repo(base, "sec-s3-typo", "minio",
                                {**s3_repo(s3["s3_key"], s3["s3_key_secret"], s3["cipher_pass"]),
                                 "s3_buckt": "pitr"})},
             "unknown_key", tuple(s3.values()), marker="sec-s3-typo"),
        Case("Pigsty's weak passphrase without pitr_allow_weak_cipher_pass", "pgsql_pitr",
             {"spec": with_repo(base, "sec-weak", "local", dict(local, cipher_pass=WEAK))},
             "invalid_setting", (WEAK,), marker="sec-weak"),
        Case("typo'd secret key", "pgsql_pitr",
             {"spec": with_repo(base, "sec-typo-secret", "local",
                                {"path": local["path"], "cipher_type": "aes-256-cbc",
                                 "cipher_pas": typo_secret})},
             "unknown_key", (typo_secret,), marker="sec-typo-secret"),
        Case("spec given as a string", "pgsql_pitr",
             {"spec": json.dumps(with_repo(base, "sec-string", "minio", s3_repo(
                 s3["s3_key"], s3["s3_key_secret"], s3["cipher_pass"])))[:-1]},
             "invalid_argument", tuple(s3.values()), logged=False),
        Case("option the module does not have", "pgbackrest_config",
             {"sepc": with_repo(base, "sec-unknown-option", "minio", s3_repo(
                 s3["s3_key"], s3["s3_key_secret"], s3["cipher_pass"]))},
             "invalid_argument", tuple(s3.values()), logged=False),
        Case("inline repo and secret extra options in pg_pitr", "pgsql_pitr",
             {"spec": dict(base, pg_cluster="sec-inline"), "pg_pitr": pg_pitr},
             "secret_on_command_line", (CIPHER, extra, *inline.values()), marker="sec-inline"),
        Case("valid S3 spec, config rendered", "pgbackrest_config",
             {"spec": with_repo(base, "sec-s3-valid", "minio", s3_repo(
                 s3_valid["s3_key"], s3_valid["s3_key_secret"], s3_valid["cipher_pass"])),
              "dest": str(scratch / "s3.conf")},
             None, tuple(s3_valid.values()), marker="sec-s3-valid"),
        Case("internal error: negative timeout", "pgsql_pitr",
             {"spec": dict(base, pg_cluster="sec-timeout"), "pg_pitr": pg_pitr, "timeout": -1},
             "internal_error", (CIPHER, extra, *inline.values()), marker="sec-timeout"),
        Case("internal error: negative repo", "pgbackrest_backup",
             {"spec": with_repo(base, "sec-repo", "minio", s3_repo(
                 s3["s3_key"], s3["s3_key_secret"], s3["cipher_pass"])),
              "repo": -1},
             "internal_error", tuple(s3.values()), marker="sec-repo"),
        Case("cluster plan of members whose Patroni does not answer", "pgsql_pitr_cluster",
             {"specs": [dict(with_repo(base, "sec-cluster", "minio", s3_repo(
                 s3["s3_key"], s3["s3_key_secret"], s3["cipher_pass"])),
                 pg_seq=seq, patroni_port=closed_port()) for seq in (1, 2)]},
             "cluster_not_ready", tuple(s3.values()), marker="sec-cluster"),
        Case("cluster phase of a plan that is none", "pgsql_pitr_cluster",
             {"state": "phase", "phase": "stop", "plan": {"kind": "restore"},
              "spec": dict(with_repo(base, "sec-phase", "minio", s3_repo(
                  s3["s3_key"], s3["s3_key_secret"], s3["cipher_pass"])),
                  pg_seq=1, patroni_port=closed_port())},
             "parse_error", tuple(s3.values()), marker="sec-phase"),
        Case("dest is a directory", "pgbackrest_config",
             {"spec": dict(base, pg_cluster="sec-dir"), "dest": str(scratch / "a-directory")},
             "unsafe_path", (CIPHER,), marker="sec-dir"),
    ]


@dataclass
class SecretsRun:
    """The playbook's run: its cases, output and the node's log."""

    cases: list[Case]
    run: PlayRun
    log: list[str]

    def case(self, name: str) -> Case:
        return next(c for c in self.cases if c.name == name)

    def result(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.run.results()[name]
        return found


def write_playbook(path: Path, all_cases: list[Case]) -> Path:
    # Check mode: the valid specs plan and render only.
    tasks = [{"name": case.name, f"pitr.pgsql.{case.module}": case.args,
              "check_mode": True, "ignore_errors": True} for case in all_cases]
    play = {"name": "pitr.pgsql with secrets", "hosts": "localhost", "gather_facts": False,
            "tasks": tasks}
    path.write_text(json.dumps([play], indent=1))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def secrets_run() -> Iterator[SecretsRun]:
    cluster = Cluster("secrets", cipher_pass=CIPHER)
    try:
        cluster.write_pgbackrest_conf()
        cluster.start()
        (cluster.root / "a-directory").mkdir()
        all_cases = cases(cluster.spec, cluster.root)
        book = write_playbook(cluster.root / "secrets.yml", all_cases)
        inventory = write_inventory(cluster.root / "inventory.yml", {})
        with capture_syslog() as capture:
            run = playbook(inventory, str(book), "-vvv", prefix=capture.prefix,
                           env={"ANSIBLE_DISPLAY_TRACEBACK": "error"})
        yield SecretsRun(all_cases, run, list(capture.messages))
    finally:
        cluster.close()


# The cases' names, for test ids (the specs of a stand-in cluster).
STAND_IN = {"pg_cluster": "secrets", "pgbackrest_repo": {"local": {"path": "/nonexistent"}}}
CASES = cases(STAND_IN, Path("/nonexistent"))
ALL_SECRETS = sorted({s for c in CASES for s in c.unique_secrets} | {CIPHER})


def tell_tale(secret: str) -> str:
    """The longest run of the secret without quotes or backslashes: in the text however often
    the secret was escaped (a JSON string in JSON, a repr in a log line)."""
    runs: list[str] = re.findall(r"[\w.-]+", secret)
    return max(runs, key=len)


def leaked(text: str, secrets: tuple[str, ...] | list[str]) -> list[str]:
    """The secrets whose tell-tale is in ``text``."""
    return [s for s in secrets if tell_tale(s) in text]


# --- the playbook run -------------------------------------------------------------------------


def test_the_play_ran_every_case(secrets_run: SecretsRun) -> None:
    run = secrets_run.run
    results = run.results()
    assert [name for name in results] == [c.name for c in secrets_run.cases], str(run)
    # Failures are ignored task by task; the play itself ends well.
    assert run.returncode == 0, str(run)


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_each_task_ends_with_its_error_code_and_no_secret(
        secrets_run: SecretsRun, name: str) -> None:
    case = secrets_run.case(name)
    result = secrets_run.result(name)
    text = json.dumps(result)
    if case.error_code is None:
        assert result["_status"] in ("ok", "changed"), text
    else:
        assert result["_status"] == "failed", text
        assert result["error_code"] == case.error_code, result["msg"]
    # The arguments are in the result, masked.
    assert "module_args" in result["invocation"], text
    assert leaked(text, case.secrets) == [], text


def test_no_secret_in_the_verbose_output(secrets_run: SecretsRun) -> None:
    run = secrets_run.run
    assert "<localhost> EXEC" in run.stdout, "not run with -vvv"
    # Pigsty's weak passphrase, a word other tasks print, is checked in its task's result.
    assert leaked(run.stdout + run.stderr, ALL_SECRETS) == []


@pytest.mark.parametrize("name", [c.name for c in CASES if c.logged])
def test_the_node_log_has_the_invocation_without_secrets(
        secrets_run: SecretsRun, name: str) -> None:
    case = secrets_run.case(name)
    logged = [m for m in secrets_run.log if f" ansible-pitr.pgsql.{case.module}: " in m]
    assert logged, f"pitr.pgsql.{case.module} logged nothing to /dev/log: {secrets_run.log}"
    mine = [m for m in logged if "Invoked with" in m and case.marker in m]
    assert len(mine) == 1, f"{case.marker!r} not logged once:\n" + "\n".join(logged)
    assert leaked(mine[0], case.secrets) == [], mine[0]
    assert "********" in mine[0] or "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in mine[0], mine[0]


def test_the_node_log_holds_no_secret_at_all(secrets_run: SecretsRun) -> None:
    assert secrets_run.log, "nothing was logged to /dev/log"
    assert leaked("\n".join(secrets_run.log), ALL_SECRETS) == []


@pytest.mark.parametrize("name", [c.name for c in CASES if c.error_code == "internal_error"])
def test_an_exception_that_is_not_pitrs_is_an_internal_error(
        secrets_run: SecretsRun, name: str) -> None:
    result = secrets_run.result(name)
    assert result["msg"].startswith("internal error in "), result["msg"]
    # With tracebacks asked for (ANSIBLE_DISPLAY_TRACEBACK=error), the module's traceback.
    assert "Traceback (most recent call last)" in json.dumps(result["exception"]), result


def test_the_valid_specs_secrets_are_redacted_in_what_the_modules_return(
        secrets_run: SecretsRun) -> None:
    config = secrets_run.result("valid S3 spec, config rendered")
    assert "repo1-s3-key-secret=<redacted>" in config["contents"]
    assert config["has_secrets"] is True
    backup = secrets_run.result("valid spec, backup planned against the running cluster")
    assert backup["role"] == "primary" and backup["backup_skipped"] is False


# --- the masking and the exception wrapper, in this process ---------------------------------

SPEC_ONLY: dict[str, Any] = {"spec": dict(pitr_module.SPEC_ARG)}
ARGUMENTS: dict[str, Any] = {"spec": {"type": "dict"}, "pg_pitr": {"type": "dict"},
                             "dest": {"type": "path"}}


def test_secret_keys_by_name_and_near_misses() -> None:
    for key in ("cipher_pass", "repo1-cipher-pass", "--repo2-s3-key-secret", "S3_KEY",
                "repo_s3_token", "cipher_pas", "s3_key_secert", "cipherpass",
                "sftp_private_key_passphrase", "cipher_passphrase", "db_password",
                "patroni_password"):
        assert pitr_module.is_secret_key(key), key


def test_other_keys_are_not_secret() -> None:
    # pgBackRest's other options in a repo dict (the near ones too), the spec's, pg_pitr's and
    # the modules' own keys.
    for key in ("cipher_type", "s3_key_type", "gcs_key_type", "azure_key_type", "s3_kms_key_id",
                "s3_bucket", "s3_region", "s3_role", "s3_endpoint", "s3_uri_style",
                "s3_sts_host", "sftp_private_key_file", "sftp_public_key_file", "host_key_file",
                "path", "type", "retention_full", "storage_port", "storage_verify_tls", "block",
                "bundle", "host_user", *(k for k in pitr.SPEC_KEYS if k != "patroni_password"),
                *pitr.REQUEST_KEYS, "spec", "pg_pitr",
                "dest", "mode", "owner", "group", "state", "timeout", "role", "repo", "zone",
                "what", "templates", "restore_config"):
        assert not pitr_module.is_secret_key(key), key


def test_arguments_are_searched_by_key_before_anything_validates_them() -> None:
    found = pitr_module.param_secrets({
        "spec": {"pg_cluster": "x", "pgbackrest_repo": {"r": {"cipher_pass": 12345678,
                                                              "path": "/pg/backup"}}},
        "pg_pitr": {"extra": ["--repo1-s3-key=AKIA1"], "repo": {"s3_key_secret": "kk"}},
        "dest": "/etc/pgbackrest/pgbackrest.conf",
        "_ansible_check_mode": True,
    }, ARGUMENTS)
    # Found by key, any length; nothing else.
    assert found == {"12345678", "AKIA1", "kk"}


def test_a_spec_given_as_text_is_masked_whole_and_searched() -> None:
    text = json.dumps({"pg_cluster": "x", "pgbackrest_repo": {"r": {"cipher_pass": 'x"y\\z'}}})
    assert pitr_module.param_secrets({"spec": text}, ARGUMENTS) >= {text, 'x"y\\z'}
    # Broken JSON and Ansible's k=v form too.
    assert 'x"y\\z' in pitr_module.param_secrets({"spec": text[:-1]}, ARGUMENTS)
    assert "Kv.Secret" in pitr_module.param_secrets(
        {"spec": "pg_cluster=x cipher_pass=Kv.Secret"}, ARGUMENTS)


def test_input_that_cannot_be_searched_is_masked_whole() -> None:
    # A spec that is a list; plain values of options the module does not have (a dict one is
    # searched by key).
    found = pitr_module.param_secrets({
        "spec": ["n", {"s3_key": "k"}, "a-long-value", 5432, True],
        "bogus": "plain-value",
        "sepc": {"cipher_pass": "typo'd.option", "path": "/pg/backup"},
        "s3_key": "top",
    }, ARGUMENTS)
    # Strings and numbers of 4 characters or more; found by key, any.
    assert found == {"k", "a-long-value", "5432", "plain-value", "typo'd.option", "top"}


def test_masks_cover_the_escaped_forms() -> None:
    assert pitr_module.masks(["a'b\"c\\d", "", "  "]) == {
        "a'b\"c\\d", "a\\'b\"c\\\\d", "a'b\\\"c\\\\d"}


def run_module(args: dict[str, Any], body: Any,
               argument_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Runs a PitrModule here with ``args`` and returns its result."""
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        module = pitr_module.PitrModule(argument_spec=dict(argument_spec or SPEC_ONLY))
        module.run(body)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def spec_with(cipher: str) -> dict[str, Any]:
    return {"pg_cluster": "inproc", "pgbackrest_version": "2.45",
            "pgbackrest_repo": {"local": {"path": "/pg/backup", "cipher_type": "aes-256-cbc",
                                          "cipher_pass": cipher}}}


def test_any_exception_is_an_internal_error_with_its_secrets_masked() -> None:
    cipher = secret("InProcess")

    def body(module: Any) -> None:
        raise KeyError(f"nothing for {module.params['spec']}")

    result = run_module({"spec": spec_with(cipher)}, body)
    assert result["failed"] is True and result["error_code"] == "internal_error"
    assert result["msg"].startswith("internal error in ") and "KeyError" in result["msg"]
    assert leaked(json.dumps(result), [cipher]) == []
    assert "********" in result["msg"]


def test_a_pitr_error_keeps_its_code() -> None:
    cipher = secret("InProcess")
    result = run_module({"spec": dict(spec_with(cipher), pg_clustr="x")},
                        lambda module: pitr.check_spec(module.params["spec"]))
    assert result["error_code"] == "unknown_key"
    assert leaked(json.dumps(result), [cipher]) == []


def test_a_module_that_ends_without_a_result_is_an_internal_error() -> None:
    result = run_module({"spec": spec_with(secret("InProcess"))}, lambda module: None)
    assert result["error_code"] == "internal_error"
    assert "ended without a result" in result["msg"]


def test_ansibles_own_refusal_has_an_error_code_and_masks() -> None:
    cipher = secret("InProcess")
    result = run_module({"spec": json.dumps(spec_with(cipher))[:-1], "bogus": 1},
                        lambda module: None)
    assert result["error_code"] == "invalid_argument"
    assert leaked(json.dumps(result), [cipher]) == []


def test_without_pitr_the_task_fails_and_every_dict_is_masked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pitr_module, "pitr", None)
    cipher = secret("InProcess")
    result = run_module({"spec": spec_with(cipher)}, lambda module: None)
    assert result["error_code"] == "missing_library"
    args = json.dumps(result["invocation"])
    assert leaked(args, [cipher]) == [] and "/pg/backup" not in args
