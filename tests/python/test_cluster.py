"""The Python API on real PostgreSQL 15 and pgBackRest: backups, marks, plans equal to the CLI's,
restores that land where asked, and a failed one that puts the data back.

The tests in this file share one cluster and run in order: the read-only ones first.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import pitr
from conftest import History, pitr_bin
from pgcluster import fingerprint


def cli_plan(h: History, *flags: str) -> dict[str, Any]:
    """`pitr --config <conf> --json restore --dry-run <flags>` (the CLI reads the rendered conf)."""
    out = subprocess.run(
        [str(pitr_bin()), "--config", str(h.cluster.config), "--json", "restore", "--dry-run",
         *flags],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    plan: dict[str, Any] = json.loads(out.stdout)
    return plan


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ, to name the fields in a failure."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b))
                for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


# --- read-only ----------------------------------------------------------------------------


def test_the_backup_created_the_stanza_and_a_full_set(history: History) -> None:
    b = history.backup
    assert b["skipped"] is False
    assert [s["id"] for s in b["plan"]["steps"]] == ["stanza-create", "backup"]
    assert b["report"]["completed"] == ["stanza-create", "backup"]
    assert b["report"]["verified"] is None
    assert Path(b["report"]["log_file"]).is_file()
    info = pitr.parse_info(history.cluster.info_text())
    assert [s["type"] for s in info[0]["backup"]] == ["full"]


class _PatroniStandIn:
    """Answers ``GET /primary`` on loopback as Patroni 3.0 does (status and state document),
    for the Python side of the role decision; the real Patroni is in ha_backup_e2e.rs."""

    def __init__(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                self.send_response(status if self.path == "/primary" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_plan_backup_asks_patroni_when_the_spec_configures_it(history: History) -> None:
    scope = history.spec["pg_cluster"]
    doc = {"state": "running", "role": "master", "timeline": 1, "patroni": {"scope": scope}}
    leader = _PatroniStandIn(200, doc)
    try:
        plan = pitr.plan_backup({**history.spec, "patroni_port": leader.port})
        assert plan.summary["role"] == "primary" and plan.summary["role_source"] == "patroni"
    finally:
        leader.close()
    # Patroni says replica while PostgreSQL writes: the member cannot tell, nothing is planned.
    replica = _PatroniStandIn(503, {**doc, "role": "replica"})
    try:
        with pytest.raises(pitr.PitrError) as caught:
            pitr.plan_backup({**history.spec, "patroni_port": replica.port})
        assert caught.value.code == "role_unknown"
        assert f"http://127.0.0.1:{replica.port}" in str(caught.value)
        assert not isinstance(caught.value, ValueError)
    finally:
        replica.close()


def test_plan_backup_asks_postgres_for_the_role(history: History) -> None:
    plan = pitr.plan_backup(history.spec)
    assert plan.summary == {"type": "incr", "repo": None, "role": "primary",
                            "role_source": "postgresql", "skipped": False}
    assert [s["id"] for s in plan.to_dict()["steps"]] == ["backup"]
    # Told it is a replica, it skips, and running that changes nothing.
    skipped = pitr.plan_backup(history.spec, "full", "replica").run(echo=False)
    assert skipped["skipped"] is True and "report" not in skipped


def test_mark_recorded_the_restore_point(history: History) -> None:
    m = history.mark
    assert m["mark"]["name"] == "before-3"
    assert m["mark"]["timeline"] == "1"
    assert len(m["recorded_on"]) == 1 and m["recorded_on"][0].startswith("repo1: ")
    assert m["warnings"] == []


def test_the_gil_is_released_while_pitr_works(history: History) -> None:
    # mark() waits for pgbackrest check (a WAL switch and its archiving): Python threads run
    # meanwhile.
    done: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: done.append(pitr.mark(history.spec, "gil-check")))
    ticks = 0
    worker.start()
    while worker.is_alive():
        ticks += 1
        time.sleep(0.005)
    worker.join()
    assert done and done[0]["mark"]["name"] == "gil-check"
    assert ticks >= 10, f"the main thread ran {ticks} times while mark() ran"


def test_a_held_stanza_lock_stops_pitr_or_makes_it_wait(history: History) -> None:
    # Whoever holds the stanza's lock (here: this test, through the kernel's flock), pitr
    # refuses at once with stanza_locked, or with wait=True runs once it is free.
    lock = history.cluster.root / "lock" / f"{history.cluster.name}-pitr.lock"
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(pitr.PitrError) as refused:
            pitr.mark(history.spec, "locked-out")
        assert refused.value.code == "stanza_locked"
        assert str(lock) in str(refused.value)
        threading.Timer(1.0, lambda: fcntl.flock(held, fcntl.LOCK_UN)).start()
        started = time.monotonic()
        waited = pitr.mark(history.spec, "waited", wait=True)
        assert time.monotonic() - started >= 0.9
    assert waited["mark"]["name"] == "waited"


def test_windows_and_selection_from_live_info(history: History) -> None:
    info = history.cluster.info_text()
    windows = pitr.recovery_window(info)
    assert [(w["repo_key"], w["timeline"]) for w in windows] == [(1, "1")]
    sel = pitr.select_backup(info, {"name": "before-3"})
    assert sel["rule"] == "stopped_before_mark"
    assert sel["target_lsn"] == history.mark["mark"]["lsn"]
    assert pitr.select_backup(info, {"time": history.t1})["set"] == sel["set"]


@pytest.mark.parametrize(
    ("request_", "flags"),
    [
        ({"time": "T1"}, ["-t", "T1"]),
        ({"name": "before-3"}, ["-n", "before-3"]),
        ({"lsn": "LSN3", "exclusive": True, "action": "promote"}, ["-l", "LSN3", "-X", "-P"]),
        ({"xid": "X2", "backup": True}, ["-x", "X2", "--safety-copy"]),
        ({"type": "immediate"}, ["-i"]),
        ({}, ["-d"]),
    ],
)
def test_the_python_plan_equals_the_cli_plan(
    history: History, request_: dict[str, Any], flags: list[str]
) -> None:
    values = {"T1": history.t1, "LSN3": history.lsn3, "X2": history.x2}
    request_ = {k: values.get(v, v) if isinstance(v, str) else v for k, v in request_.items()}
    flags = [values.get(f, f) for f in flags]
    python = pitr.plan_restore(history.spec, request_).to_dict()
    cli = cli_plan(history, *flags)
    assert python == cli, "fields that differ:\n" + "\n".join(differences(python, cli))
    # The stop step is there: the cluster runs.
    assert python["steps"][0]["id"] == "stop"


def test_to_shell_shows_the_real_plan(history: History) -> None:
    plan = pitr.plan_restore(history.spec, {"time": history.t1})
    script = plan.to_shell()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert f"'--target={history.t1}'" in script
    assert "# [1/" in script and "stop" in script


# --- restores (in this order) ---------------------------------------------------------------


def test_a_plan_run_restores_to_a_time(history: History) -> None:
    c = history.cluster
    plan = pitr.plan_restore(history.spec, {"time": history.t1})
    planned = plan.to_dict()
    result = plan.run(echo=False)
    # What ran is what check mode showed.
    assert result["plan"] == planned
    assert c.count() == 100
    v = result["report"]["verified"]
    assert v["target"] == f"time {history.t1}"
    assert v["ending"] == "paused"
    assert v["stop"]["kind"] == "transaction" and v["stop"]["before"] is True
    assert result["selection"]["set"] == result["plan"]["summary"]["set"]
    assert result["report"]["completed"][0] == "stop"
    assert Path(result["report"]["log_file"]).is_file()


def test_the_cli_and_python_return_the_same_restore_document(history: History) -> None:
    def run_cli() -> dict[str, Any]:
        out = subprocess.run(
            [str(pitr_bin()), "--config", str(history.cluster.config), "--json", "restore",
             "-y", "-t", history.t1],
            capture_output=True, text=True, check=False,
        )
        assert out.returncode == 0, out.stderr
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc

    def settled(doc: dict[str, Any]) -> dict[str, Any]:
        # What differs from one run to the next: the log file's name, how long each part of
        # the pre-flight and each step took and how soon pitr noticed the end of recovery.
        doc = json.loads(json.dumps(doc))
        assert [part for part, _ in doc.pop("preflight_ms")] == [
            "tools", "snapshot", "select", "walscan", "plan"]
        assert Path(doc["report"].pop("log_file")).is_file()
        steps = [step for step, _ in doc["report"].pop("step_ms")]
        assert steps == doc["report"]["completed"]
        doc["report"]["verified"].pop("noticed_after_ms")
        return doc

    cli = run_cli()
    python = pitr.plan_restore(history.spec, {"time": history.t1}).run(echo=False)
    assert set(cli) == {"plan", "selection", "preflight_ms", "report"}
    assert settled(python) == settled(cli), "fields that differ:\n" + "\n".join(
        differences(settled(python), settled(cli)))
    assert history.cluster.count() == 100


def test_a_plan_read_back_from_a_dict_runs_when_it_holds_no_secret(
    history: History, tmp_path: Path
) -> None:
    plan = pitr.plan_restore(history.spec, {"lsn": history.lsn3}).to_dict()
    plan = json.loads(json.dumps(plan))  # as if it came back from Ansible or a file
    result = pitr.Plan.from_dict(plan).run(log_dir=tmp_path, echo=False)
    report = result["report"]
    assert history.cluster.count() == 300
    assert report["verified"]["stop"] == {"kind": "lsn", "lsn": history.lsn3, "before": False}
    assert report["completed"] == [s["id"] for s in plan["steps"]]
    assert Path(report["log_file"]).parent == tmp_path


def test_an_unreachable_target_raises_recovery_error_and_rolls_back(history: History) -> None:
    c = history.cluster
    c.stop()
    before = fingerprint(c.data)
    full = pitr.parse_info(c.info_text())[0]["backup"][0]["label"]
    with pytest.raises(pitr.RecoveryError) as caught:
        pitr.plan_restore(history.spec, {"name": "no-such-point", "set": full, "backup": True},
                          timeout=120).run(echo=False)
    e = caught.value
    assert e.code == "recovery_target_not_reached"
    assert e.step == "verify"
    assert e.rolled_back is True
    assert "recovery ended before configured recovery target was reached" in str(e)
    assert isinstance(e.__cause__, pitr.RecoveryError)
    assert e.__cause__.code == "recovery_target_not_reached" and e.__cause__.step is None
    assert fingerprint(c.data) == before
    assert not Path(f"{c.data}-backup").exists()


def test_plan_service_starts_and_stops(history: History) -> None:
    c = history.cluster
    start = pitr.plan_service(history.spec, "start")
    assert start.summary["changed"] is True
    assert [s["id"] for s in start.to_dict()["steps"]] == ["start"]
    start.run(echo=False)
    c.wait_until_accepting()
    assert c.count() == 300
    assert pitr.plan_service(history.spec, "start").summary["changed"] is False
    stop = pitr.plan_service(history.spec, "stop")
    assert [s["id"] for s in stop.to_dict()["steps"]] == ["stop"]
    stop.run(echo=False)
    assert not c.is_running()


def test_a_restore_to_a_restore_point_older_than_nothing(history: History) -> None:
    result = pitr.plan_restore(history.spec, {"name": "before-3", "action": "promote"}).run(
        echo=False)
    assert history.cluster.count() == 200
    v = result["report"]["verified"]
    assert v["ending"] == "promoted" and v["timeline"] == "2"
    assert v["stop"]["kind"] == "restore_point"


def test_a_drill_restores_checks_and_removes_a_clone(history: History) -> None:
    spec = {**history.spec, "pitr_drill_assertions": [
        {"name": "rows", "sql": "SELECT count(*) >= 100 FROM t"}]}
    rec = pitr.drill(spec, echo=False)
    assert rec["ok"] is True, rec
    assert rec["target"] == "latest"
    assert rec["restore_secs"] > 0 and rec["replay_secs"] > 0 and rec["total_secs"] > 0
    assert "assertions: 1" in rec["checks"]
    assert not Path(f"{history.spec['pg_data']}-drill").exists()
    assert pitr.info(history.spec)["drill"]["ok"] is True
    failed = pitr.drill({**history.spec, "pitr_drill_assertions": [
        {"name": "too-many", "sql": "SELECT count(*) > 10000000 FROM t"}]}, echo=False)
    assert failed["ok"] is False and failed["code"] == "drill_assertion_failed", failed
    assert not Path(f"{history.spec['pg_data']}-drill").exists()
