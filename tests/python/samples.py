"""Sample inputs for the tests that need no database: a cluster spec and `pgbackrest info`."""

from __future__ import annotations

import json
from typing import Any

# 2025-01-01 10:00:05 UTC and 12:00:05 UTC
FULL_STOP = 1735725605
INCR_STOP = 1735732805


def spec(**extra: Any) -> dict[str, Any]:
    """A spec for stanza pg-test on a machine without that cluster (nothing exists on disk)."""
    value: dict[str, Any] = {
        "pg_cluster": "pg-test",
        "pg_data": "/nonexistent/pitr-py-tests/data",
        "pg_port": 5433,
        "pgbackrest_version": "2.45",
        "pgbackrest_config": "/nonexistent/pitr-py-tests/pgbackrest.conf",
        "pgbackrest_log_dir": "/nonexistent/pitr-py-tests/log",
        "pgbackrest_method": "local",
        "pgbackrest_repo": {"local": {"path": "/pg/backup", "retention_full": 2}},
    }
    value.update(extra)
    return value


def cipher_spec() -> dict[str, Any]:
    """The same with an encrypted repo and an S3 repo that is defined but not used."""
    return spec(
        pgbackrest_repo={
            "local": {"path": "/pg/backup", "cipher_type": "aes-256-cbc",
                      "cipher_pass": "pitr.Cipher-Pass-42"},
            "minio": {"type": "s3", "s3_endpoint": "sss.pigsty", "s3_region": "us-east-1",
                      "s3_bucket": "pgsql", "s3_key": "pgbackrest",
                      "s3_key_secret": "S3User.Backup-42", "path": "/pgbackrest"},
        }
    )


MARK_ANNOTATION = json.dumps(
    {"name": "before-incr", "timeline": "1", "time": "2025-01-01T11:00:00Z"}
)


def backup(label: str, kind: str, start: int, stop: int, archive: tuple[str, str],
           lsn: tuple[str, str], prior: str | None = None,
           annotation: dict[str, str] | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "label": label, "type": kind, "prior": prior,
        "reference": None if prior is None else [prior],
        "timestamp": {"start": start, "stop": stop},
        "archive": {"start": archive[0], "stop": archive[1]},
        "lsn": {"start": lsn[0], "stop": lsn[1]},
        "backrest": {"format": 5, "version": "2.45"},
        "database": {"id": 1, "repo-key": 1},
        "info": {"size": 30000000, "delta": 30000000,
                 "repository": {"size": 4000000, "delta": 4000000}},
        "error": False,
    }
    if annotation:
        b["annotation"] = annotation
    return b


def info() -> list[dict[str, Any]]:
    """`pgbackrest info --output=json` for stanza pg-test: a full set at 10:00, an incremental
    one at 12:00, WAL archived through segment 9 on timeline 1, and a restore point recorded by
    `pitr mark` between the two sets."""
    return [{
        "name": "pg-test",
        "cipher": "none",
        "status": {"code": 0, "message": "ok", "lock": {"backup": {"held": False}}},
        "db": [{"id": 1, "repo-key": 1, "system-id": 7400000000000000001, "version": "15"}],
        "repo": [{"key": 1, "cipher": "none", "status": {"code": 0, "message": "ok"}}],
        "archive": [{"id": "15-1", "database": {"id": 1, "repo-key": 1},
                     "min": "000000010000000000000001", "max": "000000010000000000000009"}],
        "backup": [
            backup("20250101-100000F", "full", FULL_STOP - 5, FULL_STOP,
                   ("000000010000000000000002", "000000010000000000000002"),
                   ("0/2000028", "0/2000100")),
            backup("20250101-100000F_20250101-120000I", "incr", INCR_STOP - 5, INCR_STOP,
                   ("000000010000000000000006", "000000010000000000000006"),
                   ("0/6000028", "0/6000100"), prior="20250101-100000F",
                   annotation={"pitr-mark-0/4000060": MARK_ANNOTATION}),
        ],
    }]


def info_text() -> str:
    return json.dumps(info())
