"""`pitr.plan_restore_cluster` and `pitr.run_restore_cluster` before anything stops: bad specs
and requests are refused with the core's codes, and a Patroni that does not answer stops the
pre-flight (the whole operation on a real Patroni cluster is `tests/tests/ha_cluster_restore_e2e.rs`,
which also checks that the Python plan is the CLI's)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import pitr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def member(seq: int | None = 1, **more: object) -> dict[str, object]:
    spec: dict[str, object] = {"pg_cluster": "pg-test", "patroni_port": closed_port()}
    if seq is not None:
        spec["pg_seq"] = seq
    spec.update(more)
    return spec


@pytest.mark.parametrize("run", [pitr.plan_restore_cluster, pitr.run_restore_cluster])
def test_specs_and_requests_are_checked_first(run) -> None:  # type: ignore[no-untyped-def]
    target: dict[str, object] = {"time": "2026-12-01 10:00:00+00"}
    cases: list[tuple[Any, dict[str, object], str, str]] = [
        ([], target, "invalid_setting", "'spec'"),
        (member(seq=None), target, "invalid_setting", "pg_seq"),
        ([member(1), member(1)], target, "invalid_setting", "two specs are for member pg-test-1"),
        ([member(1), member(2, pg_cluster="pg-other")], target, "invalid_setting", "two clusters"),
        (member(), {**target, "data": "/pg/clone"}, "invalid_setting", "in place"),
        (member(), {**target, "archive": "preserve"}, "invalid_setting", "archiving off"),
        (member(patroni_stop_command=[]), target, "invalid_setting", "patroni_stop_command"),
    ]
    for specs, request, code, needle in cases:
        with pytest.raises(pitr.PitrInputError) as e:
            run(specs, request)
        assert e.value.code == code, (specs, request, e.value)
        assert needle in str(e.value), (specs, request, e.value)


@pytest.mark.parametrize("run", [pitr.plan_restore_cluster, pitr.run_restore_cluster])
def test_a_patroni_that_does_not_answer_stops_the_preflight(run) -> None:  # type: ignore[no-untyped-def]
    spec = member()
    with pytest.raises(pitr.PitrError) as e:
        run([spec], {"time": "2026-12-01 10:00:00+00"})
    assert e.value.code == "cluster_not_ready"
    assert f"127.0.0.1:{spec['patroni_port']}" in str(e.value)
    assert "nothing was stopped" in str(e.value)
    assert not isinstance(e.value, ValueError)


def test_a_phase_needs_a_cluster_plan() -> None:
    """``run_cluster_phase`` and ``describe_cluster_plan`` read the plan back first: anything
    but a cluster plan is refused before a step runs."""
    for plan in ({"kind": "restore"}, {"kind": "cluster_restore"}, {}):
        with pytest.raises(pitr.PitrError) as e:
            pitr.run_cluster_phase(member(), plan, "stop")
        assert e.value.code == "parse_error", (plan, e.value)
        with pytest.raises(pitr.PitrError) as e:
            pitr.describe_cluster_plan(plan)
        assert e.value.code == "parse_error", (plan, e.value)


@pytest.mark.parametrize("run", [pitr.plan_restore_cluster, pitr.run_restore_cluster])
def test_a_new_cluster_needs_a_scope_of_its_own(run) -> None:  # type: ignore[no-untyped-def]
    target: dict[str, object] = {"time": "2026-12-01 10:00:00+00"}
    cases: list[tuple[dict[str, object], str]] = [
        (member(), "is the running cluster's"),
        (member(seq=None, pg_cluster="pg-new"), "pg_seq"),
        (member(pg_cluster="pg-new", patroni_port=None), "patroni"),
    ]
    for new, needle in cases:
        with pytest.raises(pitr.PitrInputError) as e:
            run([member()], target, new_cluster=new)
        assert e.value.code == "invalid_setting", (new, e.value)
        assert needle in str(e.value), (new, e.value)
