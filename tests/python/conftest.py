"""Fixtures for the Python and Ansible tests: throwaway clusters with a known history."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pitr
from pgcluster import Cluster, tick

ROOT = Path(__file__).resolve().parents[2]


def pitr_bin() -> Path:
    """The `pitr` binary `make test-python` builds; a missing one fails the test."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target / "debug" / "pitr"
    if not binary.is_file():
        raise RuntimeError(f"{binary} does not exist: build it with `cargo build -p pitr-cli`")
    return binary


@dataclass
class History:
    """A stanza with a known history::

        CREATE t, full backup F (through pitr.plan_backup(...).run())
        batch 1 (rows 1-100)      -> time t1
        batch 2 (rows 101-200)    xid x2, restore point `before-3` (pitr.mark)
        batch 3 (rows 201-300)    -> LSN lsn3, WAL archived
    """

    cluster: Cluster
    backup: dict[str, Any]
    t1: str
    x2: str
    mark: dict[str, Any]
    lsn3: str

    @property
    def spec(self) -> dict[str, Any]:
        return self.cluster.spec


def make_history(name: str, *, cipher_pass: str | None = None) -> History:
    cluster = Cluster(name, cipher_pass=cipher_pass)
    try:
        cluster.write_pgbackrest_conf()
        cluster.start()
        cluster.psql("CREATE TABLE t (id int, batch int)")
        backup = pitr.plan_backup(cluster.spec, "full").run(echo=False)
        tick()
        cluster.batch(1)
        tick()
        t1 = cluster.now()
        tick()
        x2 = cluster.batch(2)
        mark = pitr.mark(cluster.spec, "before-3")
        cluster.batch(3)
        lsn3 = cluster.psql("SELECT pg_current_wal_lsn()")
        cluster.archive_now()
    except BaseException:
        cluster.close()
        raise
    return History(cluster, backup, t1, x2, mark, lsn3)


@pytest.fixture(scope="module")
def history() -> Iterator[History]:
    h = make_history("pyhist")
    yield h
    h.cluster.close()
