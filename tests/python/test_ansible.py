"""The Ansible modules and playbooks, run by a real `ansible-playbook` against localhost with a
real PostgreSQL 15 and pgBackRest: config and a full backup through pgsql-backup.yml, then
pgsql-pitr.yml to a time and to a restore point, `--check` and invalid requests that change
nothing, a replica that skips its backup, and no secret in any output.

The tests in this file share one cluster and run in order.
"""

from __future__ import annotations

import json
import pwd
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import pitr
from ansible_run import ANSIBLE_DIR, BIN, PlayRun, ansible_env, playbook, write_inventory
from pgcluster import Cluster, fingerprint, tick

SECRET = "Ansible.Cipher-Pass-42"
COLLECTION = ANSIBLE_DIR / "ansible_collections" / "pitr" / "pgsql"
MODULES = (
    "pgbackrest_config", "pgbackrest_backup", "pgsql_pitr", "pgsql_drill", "pgsql_pitr_cluster")


@dataclass
class Site:
    cluster: Cluster
    inventory: Path
    facts: dict[str, str] = field(default_factory=dict)

    def play(self, name: str, *args: str) -> PlayRun:
        run = playbook(self.inventory, name, *args)
        assert SECRET not in run.stdout + run.stderr, f"the cipher passphrase leaked:\n{run}"
        return run

    def pitr(self, request: dict[str, Any], *args: str) -> PlayRun:
        return self.play("pgsql-pitr.yml", "-e", json.dumps({"pg_pitr": request}), *args)

    def untouched(self) -> str:
        """A fingerprint of everything a restore may change (data, config, repo)."""
        c = self.cluster
        return fingerprint(c.data, Path(f"{c.data}-backup"), c.config, c.restore_config,
                           c.root / "repo")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    cluster = Cluster("ansible", cipher_pass=SECRET)
    try:
        cluster.start()
        cluster.psql("CREATE TABLE t (id int, batch int)")
        inventory = write_inventory(cluster.root / "inventory.yml", cluster.spec)
        yield Site(cluster, inventory)
    finally:
        cluster.close()


# --- the collection itself --------------------------------------------------------------------


def test_modules_document_themselves() -> None:
    for module in MODULES:
        out = subprocess.run(
            [str(BIN / "ansible-doc"), "--json", f"pitr.pgsql.{module}"],
            cwd=ANSIBLE_DIR, env=ansible_env(), capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)[f"pitr.pgsql.{module}"]
        assert doc["doc"]["module"] == module
        assert doc["examples"].strip() and doc["return"], module
        for example in yaml.safe_load(doc["examples"]):
            assert f"pitr.pgsql.{module}" in example or "ansible.builtin.debug" in example


def test_modules_never_use_a_shell() -> None:
    for path in COLLECTION.rglob("*.py"):
        text = path.read_text()
        for needle in ("shell=True", "run_command(", "os.system", "subprocess"):
            assert needle not in text, f"{path}: {needle}"


def test_the_playbooks_spec_keys_are_pitrs() -> None:
    keys = yaml.safe_load((ANSIBLE_DIR / "vars" / "pitr.yml").read_text())["pitr_spec_keys"]
    assert tuple(keys) == pitr.SPEC_KEYS


def test_playbooks_pass_the_syntax_check(site: Site) -> None:
    for book in ("pgsql-pitr.yml", "pgsql-backup.yml"):
        run = site.play(book, "--syntax-check")
        assert run.returncode == 0, str(run)


def test_a_patroni_inventory_is_planned_as_one_cluster_and_a_dead_patroni_stops_it(
    tmp_path: Path,
) -> None:
    """Hosts with ``pg_seq`` and ``patroni_port`` are the members of one cluster: the play
    plans the cluster restore once (not a standalone restore per host), and a Patroni that does
    not answer fails the pre-flight with pitr's code before anything else runs (the restore of
    a real cluster is tests/tests/ha_ansible_cluster_e2e.rs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "pg_cluster": "pg-test", "patroni_port": port}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {
        "pg-test-1": {**host, "pg_seq": 1}, "pg-test-2": {**host, "pg_seq": 2}}}}))
    run = playbook(inventory, "pgsql-pitr.yml", "--check",
                   "-e", json.dumps({"pg_pitr": {"time": "2026-12-01 10:00:00+00"}}))
    assert run.returncode == 2, str(run)
    results = {t["task"]["name"]: t["hosts"] for t in run.output["plays"][0]["tasks"]}
    failed = results["cluster | plan | pre-flight and plan (nothing changes)"]
    assert list(failed) == ["pg-test-1"], failed  # once, not per host
    assert failed["pg-test-1"]["error_code"] == "cluster_not_ready", failed
    assert f"127.0.0.1:{port}" in failed["pg-test-1"]["msg"]
    assert "plan | check the request and choose the backup set (nothing changes)" not in [
        name for name, hosts in results.items()
        if any(r["_status"] != "skipped" for r in hosts.values())]


# --- config and backup --------------------------------------------------------------------


def test_backup_playbook_renders_the_config_and_backs_up(site: Site) -> None:
    c = site.cluster
    run = site.play("pgsql-backup.yml", "-e", "pitr_backup_type=full", "--diff", "-v")
    assert run.returncode == 0, str(run)
    config = run.result("config")
    assert config["_status"] == "changed" and config["has_secrets"] is True
    assert "repo1-cipher-pass=<redacted>" in config["contents"]
    assert "repo1-cipher-pass=<redacted>" in config["diff"][0]["after"]
    st = c.config.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == pwd.getpwnam("postgres").pw_uid
    assert f"repo1-cipher-pass={SECRET}\n" in c.config.read_text()
    backup = run.result("backup | back up")
    assert backup["_status"] == "changed" and backup["backup_skipped"] is False
    assert backup["report"]["completed"] == ["stanza-create", "backup"]
    assert [b["type"] for b in pitr.parse_info(c.info_text())[0]["backup"]] == ["full"]


def test_config_is_idempotent_and_check_mode_changes_nothing(site: Site) -> None:
    # PostgreSQL runs and archives: only the files the playbook may write are compared.
    c = site.cluster
    before = fingerprint(c.config, c.restore_config)
    run = site.play("pgsql-backup.yml", "--check", "--diff")
    assert run.returncode == 0, str(run)
    assert run.result("config")["_status"] == "ok"
    would = run.result("backup | back up")
    assert would["_status"] == "changed" and "report" not in would
    assert fingerprint(c.config, c.restore_config) == before
    # A changed spec shows in the diff, redacted on both sides, and is not written in check mode.
    spec = dict(site.cluster.spec, node_cpu=4)
    inventory = write_inventory(site.cluster.root / "inventory-cpu4.yml", spec)
    run = playbook(inventory, "pgsql-backup.yml", "--check", "--diff", "-t", "config")
    assert SECRET not in run.stdout + run.stderr
    diff = run.result("config")["diff"][0]
    assert run.result("config")["_status"] == "changed"
    assert "repo1-cipher-pass=<redacted>" in diff["before"]
    assert "process-max=4" in diff["after"]
    assert fingerprint(c.config, c.restore_config) == before


def test_history(site: Site) -> None:
    """Rows in batches, a time between them and a restore point (not a test of its own)."""
    c = site.cluster
    tick()
    c.batch(1)
    tick()
    site.facts["T1"] = c.now()
    tick()
    c.batch(2)
    pitr.mark(c.spec, "before-3")
    c.batch(3)
    c.archive_now()
    assert c.count() == 300


# --- pgsql-pitr.yml -----------------------------------------------------------------------


def test_check_mode_prints_the_plan_and_changes_nothing(site: Site) -> None:
    c = site.cluster
    c.stop()
    before = site.untouched()
    run = site.pitr({"time": site.facts["T1"]}, "--check", "--diff")
    assert run.returncode == 0, str(run)
    plan = run.result("plan | check")
    assert plan["_status"] == "ok" and plan["plan"]["summary"]["target"].startswith("time ")
    printed = run.result("plan | print")["msg"]
    assert any("pgbackrest" in line and "--type=time" in line for line in printed)
    restore = run.result("pitr | restore")
    assert restore["_status"] == "changed" and "verified" not in restore
    assert run.result("pitr | verify")["_status"] == "skipped"
    assert site.untouched() == before
    assert not c.is_running()


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"time": "T1", "name": "before-3"}, "invalid_setting"),
        ({"lsn": "0/ZZ"}, "invalid_value"),
        ({"time": "2000-01-01 00:00:00+00"}, "target_outside_window"),
        ({"tiem": "T1"}, "unknown_key"),
    ],
)
def test_an_invalid_request_fails_the_play_and_changes_nothing(
    site: Site, request_: dict[str, Any], code: str
) -> None:
    request_ = {k: site.facts.get(v, v) for k, v in request_.items()}
    before = site.untouched()
    run = site.pitr(request_)
    assert run.returncode != 0, str(run)
    failed = run.result("plan | check")
    assert failed["_status"] == "failed" and failed["error_code"] == code, failed["msg"]
    assert run.output["stats"]["localhost"]["changed"] == 0
    assert site.untouched() == before
    assert not site.cluster.is_running()


def test_restore_to_a_time(site: Site) -> None:
    c = site.cluster
    c.start()
    run = site.pitr({"time": site.facts["T1"]}, "--diff", "-v")
    assert run.returncode == 0, str(run)
    assert run.result("down | stop")["_status"] == "changed"
    config = run.result("pitr | config")
    assert config["_status"] == "changed" and config["dest"] == str(c.restore_config)
    restored = run.result("pitr | restore")
    assert restored["verified"]["ending"] == "paused"
    assert restored["verified"]["target"] == f"time {site.facts['T1']}"
    assert restored["set"].endswith("F") and restored["repo"] == 1
    assert restored["completed"][:3] == ["write-restore-config", "restore", "start"]
    assert run.result("pitr | verify")["_status"] == "ok"
    # Paused at the target, it runs: nothing to start.
    assert run.result("up | start")["_status"] == "ok"
    assert c.count() == 100
    st = c.restore_config.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_a_replica_skips_its_backup(site: Site) -> None:
    # Paused in recovery, the restored instance is a standby.
    run = site.play("pgsql-backup.yml", "-t", "backup")
    assert run.returncode == 0, str(run)
    backup = run.result("backup | back up")
    assert backup["_status"] == "ok" and backup["backup_skipped"] is True
    assert backup["role"] == "replica" and backup["role_source"] == "postgresql"
    assert len(pitr.parse_info(site.cluster.info_text())[0]["backup"]) == 1


def test_restore_to_a_restore_point(site: Site) -> None:
    run = site.pitr({"name": "before-3", "action": "promote"})
    assert run.returncode == 0, str(run)
    # The restore config the plan wrote last time is the one the config task renders.
    assert run.result("pitr | config")["_status"] == "ok"
    restored = run.result("pitr | restore")
    assert restored["verified"]["stop"] == {"kind": "restore_point", "name": "before-3",
                                            "time": restored["verified"]["stop"]["time"]}
    assert restored["verified"]["ending"] == "promoted"
    assert site.cluster.count() == 200


def test_the_python_that_runs_the_modules_is_this_one() -> None:
    assert Path(sys.executable).parent == BIN


# --- docs/ansible.md ------------------------------------------------------------------------


def doc_block(marker: str) -> str:
    """The fenced block after ``<!-- test: marker -->`` in docs/ansible.md."""
    text = (ANSIBLE_DIR.parents[1] / "docs" / "ansible.md").read_text()
    after = text.split(f"<!-- test: {marker} -->\n", 1)[1]
    assert after.startswith("```yaml\n"), marker
    return after[len("```yaml\n"):].split("\n```", 1)[0] + "\n"


def test_the_docs_inventory_is_a_valid_spec() -> None:
    inventory = yaml.safe_load(doc_block("inventory"))
    group = inventory["all"]["children"]["pg-meta"]
    spec = {k: v for k, v in group["vars"].items() if k in pitr.SPEC_KEYS}
    checked = pitr.check_spec(spec)
    assert checked["cluster"] == "pg-meta" and checked["repos"][0]["repo_type"] == "s3"
    assert "beta=y" in pitr.render_config(spec)
    assert "S3User.Backup" not in pitr.render_config(spec)


def test_the_docs_playbook_runs(site: Site, tmp_path: Path) -> None:
    book = tmp_path / "check-request.yml"
    book.write_text(doc_block("playbook"))
    (tmp_path / "vars").mkdir()
    (tmp_path / "vars" / "pitr.yml").write_text((ANSIBLE_DIR / "vars" / "pitr.yml").read_text())
    # Right after the promotion, timeline 2's first segment is not archived yet, and pitr
    # reports the restore point before the switch as behind a gap until it is.
    site.cluster.archive_now()
    run = site.play(str(book), "-e", json.dumps({"pg_pitr": {"name": "before-3"}}))
    assert run.returncode == 0, str(run)
    assert run.result("Keep pgbackrest.conf current")["_status"] == "ok"
    assert run.result("Show the choice")["msg"].startswith("would restore ")


def test_config_writes_the_patroni_callback_snippet(tmp_path: Path) -> None:
    """``what=patroni-callback`` writes what ``pitr render --what patroni-callback`` prints:
    nothing in check mode, the file (mode 0600, the database superuser's) once, ``ok`` after."""
    spec = {"pg_cluster": "pg-meta", "patroni_port": 8008, "pitr_bin": "/opt/pitr/bin/pitr",
            "pgbackrest_config": "/etc/pgbackrest/pgbackrest.conf"}
    dest = tmp_path / "patroni-callback.yml"
    book = tmp_path / "callback.yml"
    book.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "callback", "pitr.pgsql.pgbackrest_config": {
            "spec": spec, "what": "patroni-callback", "dest": str(dest)}}],
    }]))
    inventory = write_inventory(tmp_path / "inventory.yml", {})

    run = playbook(inventory, str(book), "--check")
    assert run.returncode == 0, str(run)
    assert run.result("callback")["_status"] == "changed"
    assert not dest.exists()

    run = playbook(inventory, str(book))
    assert run.returncode == 0, str(run)
    result = run.result("callback")
    assert result["_status"] == "changed" and result["what"] == "patroni-callback"
    written = dest.read_text()
    assert written == pitr.render_config(spec, "patroni-callback") == result["contents"]
    assert yaml.safe_load(written)["postgresql"]["callbacks"]["on_role_change"] == (
        "/opt/pitr/bin/pitr --config /etc/pgbackrest/pgbackrest.conf patroni-callback")
    info = dest.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert pwd.getpwuid(info.st_uid).pw_name == "postgres"

    run = playbook(inventory, str(book))
    assert run.returncode == 0, str(run)
    assert run.result("callback")["_status"] == "ok"


def test_a_drill_task_passes_and_a_failing_assertion_fails_it(site: Site, tmp_path: Path) -> None:
    # After the restores above: a drill restores from the same repo, beside the cluster.
    book = tmp_path / "drill.yml"
    book.write_text(yaml.safe_dump([{
        "name": "Drill", "hosts": "all", "gather_facts": False,
        "vars_files": [str(ANSIBLE_DIR / "vars" / "pitr.yml")],
        "tasks": [{"name": "Drill", "pitr.pgsql.pgsql_drill": {
            "spec": "{{ pitr_spec | combine({'pitr_drill_assertions': assertions}) }}"}}],
    }]))
    ok = site.play(str(book), "-e", json.dumps(
        {"assertions": [{"name": "rows", "sql": "SELECT count(*) >= 0 FROM t"}]}))
    assert ok.returncode == 0, str(ok)
    result = ok.result("Drill")
    assert result["_status"] == "ok" and result["drill"]["ok"] is True, result
    assert result["drill"]["total_secs"] > 0
    failed = site.play(str(book), "-e", json.dumps(
        {"assertions": [{"name": "never", "sql": "SELECT false"}]}))
    assert failed.returncode != 0
    result = failed.result("Drill")
    assert result["_status"] == "failed" and result["error_code"] == "drill_assertion_failed"
    assert not Path(f"{site.cluster.data}-drill").exists()
