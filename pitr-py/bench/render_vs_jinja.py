"""pitr.render_config and pitr.plan_restore from Python, beside Jinja2 rendering Pigsty's
pgbackrest.conf template in the same run.

Pigsty renders pgbackrest.conf with Jinja2 from its variables; pitr renders it (and checks
every key against pgBackRest's catalogue) from the same variables. Three figures for the rich
inventory's pg-meta (a MinIO repo with 18 options), medians per call:

* Jinja, precompiled: ``template.render(vars)`` of a template compiled once (what a long-lived
  process does; Ansible compiles per task);
* Jinja, compile + render: ``Environment().from_string(text).render(vars)``;
* pitr: ``pitr.render_config(spec)`` — validating the spec, rendering with and without
  secrets, reading the file back and checking each key.

The Jinja template (``pigsty_pgbackrest.conf.j2``) re-expresses Pigsty's for this benchmark;
before timing, its output is compared with Pigsty's recorded output for the same cluster
(``pitr-core/tests/fixtures/pigsty/recorded/rich/pg-meta.conf``) and must be identical.

    python pitr-py/bench/render_vs_jinja.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jinja2
import yaml

import pitr

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "pitr-core" / "tests" / "fixtures"
ROUNDS = 7
CALLS = 500


def per_call_us(fn: Callable[[], Any]) -> float:
    """Median over ROUNDS of the mean time of CALLS calls, in microseconds."""
    fn()
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn()
        rounds.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(rounds)


def rich_vars() -> dict[str, Any]:
    """The variables Ansible resolves for 10.10.10.10 of pg-meta in Pigsty's rich inventory."""
    defaults = yaml.safe_load((FIXTURES / "pigsty" / "defaults.yml").read_text())
    inventory = yaml.safe_load((FIXTURES / "pigsty" / "inventories" / "rich.yml").read_text())
    cluster = inventory["all"]["children"]["pg-meta"]
    host, host_vars = next(iter(cluster["hosts"].items()))
    return {**defaults, **inventory["all"]["vars"], **cluster["vars"], **host_vars,
            "inventory_hostname": host, "node_cpu": 8}


def main() -> None:
    variables = rich_vars()
    text = (Path(__file__).parent / "pigsty_pgbackrest.conf.j2").read_text()
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    template = env.from_string(text)
    recorded = (FIXTURES / "pigsty" / "recorded" / "rich" / "pg-meta.conf").read_text()
    body = "".join(line for line in recorded.splitlines(keepends=True)[4:])
    if template.render(variables) != body:
        sys.exit("the Jinja template does not reproduce Pigsty's recorded pgbackrest.conf")

    keys = set(pitr.SPEC_KEYS)
    spec = {k: v for k, v in variables.items() if k in keys}
    spec.update(pitr_allow_weak_cipher_pass=True, pgbackrest_version="2.45")
    rendered = pitr.render_config(spec)
    assert "[pg-meta]" in rendered and "repo1-s3-bucket=pgsql" in rendered

    precompiled = per_call_us(lambda: template.render(variables))
    compiled_each = per_call_us(
        lambda: jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                                   keep_trailing_newline=True).from_string(text).render(variables))
    ours = per_call_us(lambda: pitr.render_config(spec))

    info = (FIXTURES / "pgbackrest-2.45" / "info-local-full-incr.json").read_text()
    plan_spec = {"pg_cluster": "demo", "node_cpu": 4, "pgbackrest_version": "2.45",
                 "pg_data": "/nonexistent/pitr-bench"}
    request = {"time": "2026-11-23 20:27:46+00"}
    plan = per_call_us(lambda: pitr.plan_restore(plan_spec, request, info=info).to_dict())

    print("rich inventory, pg-meta (MinIO repo, 18 options), per call, median of "
          f"{ROUNDS} rounds of {CALLS}:")
    print(f"  Jinja2, precompiled template.render:   {precompiled:8.1f} us")
    print(f"  Jinja2, compile + render:              {compiled_each:8.1f} us")
    print(f"  pitr.render_config(spec):              {ours:8.1f} us")
    print(f"  ratio pitr / Jinja precompiled:        {ours / precompiled:8.2f}  (target <= 3)")
    print(f"  ratio pitr / Jinja compile + render:   {ours / compiled_each:8.2f}  (target < 1)")
    print(f"pitr.plan_restore(spec, request, info=text).to_dict() (2 sets): {plan:8.1f} us")


if __name__ == "__main__":
    main()
