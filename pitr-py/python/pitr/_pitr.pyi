# Hand-written stubs of the compiled module `pitr._pitr` (pitr-py/src/lib.rs), checked against it
# by `python -m mypy.stubtest pitr._pitr` in `make test`. Values are plain data in the JSON shapes
# of the `pitr` CLI's `--json` output.
from collections.abc import Mapping
from os import PathLike
from typing import Any, Final, Literal

# A cluster spec: Pigsty variables (pg_cluster, pg_data, pgbackrest_repo, ...).
_Spec = Mapping[str, Any]
# Pigsty's pg_pitr dict (time/name/xid/lsn/type, action, set, repo, backup, data, port, ...).
_Request = Mapping[str, Any]
# `pgbackrest info --output=json`: its text, or the parsed list of stanzas.
_Info = str | list[Any]
# A plan as `pitr restore --dry-run --json` prints it: kind, stanza, summary, warnings, steps,
# on_failure.
_Plan = dict[str, Any]
_Path = str | PathLike[str]
_What = Literal["pgbackrest", "restore", "archive", "cron"]
_Mode = Literal["full", "diff", "incr"]
_Role = Literal["primary", "replica"]

__all__ = [
    "REQUEST_KEYS",
    "SECRET_KEYS",
    "SPEC_KEYS",
    "PitrError",
    "PitrInputError",
    "RecoveryError",
    "__version__",
    "check_spec",
    "mark",
    "parse_info",
    "render_metrics",
    "plan_backup",
    "plan_restore",
    "plan_service",
    "plan_to_shell",
    "recovery_window",
    "redact_config",
    "render_config",
    "render_restore_config",
    "run_backup",
    "run_plan",
    "run_restore",
    "secret_values",
    "select_backup",
]

__version__: Final[str]
SPEC_KEYS: Final[tuple[str, ...]]
REQUEST_KEYS: Final[tuple[str, ...]]
# The keys of pgBackRest's secure options in a repo dict, Pigsty's snake form (`cipher_pass`,
# `s3_key`, `s3_key_secret`, ...), from pitr's option catalogue.
SECRET_KEYS: Final[frozenset[str]]

class PitrError(Exception):
    """Base class of every error pitr raises."""

    code: str
    """The stable machine code (`invalid_value`, `target_outside_window`, ...)."""
    step: str | None
    """The plan step that failed, for errors of a run."""
    rolled_back: bool | None
    """For a failed step: whether the safety copy was put back."""

class PitrInputError(PitrError, ValueError):
    """The caller's input was refused; nothing was changed."""

class RecoveryError(PitrError):
    """PostgreSQL did not stop at the recovery target, or not in time."""

def render_config(
    spec: _Spec,
    what: _What = "pgbackrest",
    templates: _Path | None = None,
    *,
    reveal_secrets: bool = False,
) -> str: ...
def render_restore_config(
    spec: _Spec,
    request: _Request | None = None,
    *,
    zone: str | None = None,
    restore_config: _Path | None = None,
    templates: _Path | None = None,
    reveal_secrets: bool = False,
) -> str: ...
def parse_info(text: str) -> list[dict[str, Any]]: ...
def render_metrics(info_text: str, now: float | None = None) -> str: ...
def recovery_window(
    info: _Info,
    histories: Mapping[int, str] | Mapping[str, str] | None = None,
    *,
    stanza: str | None = None,
    listings: Mapping[int, str] | Mapping[str, str] | None = None,
) -> list[dict[str, Any]]: ...
def select_backup(
    info: _Info,
    request: _Request | None = None,
    *,
    stanza: str | None = None,
    histories: Mapping[int, str] | Mapping[str, str] | None = None,
    listings: Mapping[int, str] | Mapping[str, str] | None = None,
    zone: str | None = None,
) -> dict[str, Any]: ...
def plan_backup(
    spec: _Spec,
    mode: _Mode | None = None,
    role: _Role | None = None,
    *,
    repo: int | None = None,
) -> _Plan: ...
def plan_restore(
    spec: _Spec,
    request: _Request | None = None,
    info: _Info | None = None,
    *,
    zone: str | None = None,
    restore_config: _Path | None = None,
    timeout: int = 3600,
) -> _Plan: ...
def plan_service(spec: _Spec, action: Literal["start", "stop"]) -> _Plan: ...
def plan_to_shell(plan: Mapping[str, Any]) -> str: ...
def run_plan(
    plan: Mapping[str, Any],
    *,
    log_dir: _Path | None = None,
    echo: bool = True,
    verbose: bool = False,
) -> dict[str, Any]: ...
def run_restore(
    spec: _Spec,
    request: _Request | None = None,
    *,
    zone: str | None = None,
    restore_config: _Path | None = None,
    timeout: int = 3600,
    echo: bool = True,
    verbose: bool = False,
) -> dict[str, Any]: ...
def run_backup(
    spec: _Spec,
    mode: _Mode | None = None,
    role: _Role | None = None,
    *,
    repo: int | None = None,
    echo: bool = True,
    verbose: bool = False,
) -> dict[str, Any]: ...
def mark(spec: _Spec, name: str) -> dict[str, Any]: ...
def check_spec(spec: _Spec) -> dict[str, Any]: ...
def secret_values(spec: _Spec, request: _Request | None = None) -> list[str]: ...
def redact_config(text: str) -> str: ...
