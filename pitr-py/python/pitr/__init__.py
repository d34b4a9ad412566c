"""pitr: PostgreSQL point-in-time recovery with pgBackRest, made boring and safe.

The functions take and return plain data (dicts, lists, str) in the JSON shapes of the
``pitr`` CLI's ``--json`` output; they are a thin layer over the Rust core. See
``docs/python.md`` for a guide.

>>> import pitr
>>> text = pitr.render_config({"pg_cluster": "pg-meta", "pgbackrest_version": "2.45"})
>>> "[pg-meta]" in text
True
"""

from pitr._pitr import (
    REQUEST_KEYS,
    SECRET_KEYS,
    SPEC_KEYS,
    PitrError,
    PitrInputError,
    Plan,
    RecoveryError,
    __version__,
    check_spec,
    check_writable,
    continuity,
    default_owner,
    describe_cluster_plan,
    drill,
    info,
    mark,
    parse_info,
    render_metrics,
    plan_backup,
    plan_restore,
    plan_restore_cluster,
    plan_service,
    recovery_window,
    redact_config,
    render_config,
    render_restore_config,
    run_cluster_phase,
    run_restore_cluster,
    secret_values,
    select_backup,
    write_file,
)

__all__ = [
    "REQUEST_KEYS",
    "SECRET_KEYS",
    "SPEC_KEYS",
    "PitrError",
    "PitrInputError",
    "Plan",
    "RecoveryError",
    "__version__",
    "check_spec",
    "check_writable",
    "continuity",
    "default_owner",
    "describe_cluster_plan",
    "drill",
    "info",
    "mark",
    "parse_info",
    "render_metrics",
    "plan_backup",
    "plan_restore",
    "plan_restore_cluster",
    "plan_service",
    "recovery_window",
    "redact_config",
    "render_config",
    "render_restore_config",
    "run_cluster_phase",
    "run_restore_cluster",
    "secret_values",
    "select_backup",
    "write_file",
]
