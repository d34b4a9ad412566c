# Hand-written stubs of the compiled module `pitr._pitr` (pitr-py/src/lib.rs), checked against it
# by `python -m mypy.stubtest pitr._pitr` in `make test`. Values are plain data in the JSON shapes
# of the `pitr` CLI's `--json` output.
from collections.abc import Mapping
from os import PathLike
from typing import Any, Final, Literal, final

# A cluster spec: Pigsty variables (pg_cluster, pg_data, pgbackrest_repo, ...).
_Spec = Mapping[str, Any]
# Pigsty's pg_pitr dict (time/name/xid/lsn/type, action, set, repo, backup, data, port, ...).
_Request = Mapping[str, Any]
# `pgbackrest info --output=json`: its text, or the parsed list of stanzas.
_Info = str | list[Any]
_Path = str | PathLike[str]
_What = Literal["pgbackrest", "restore", "archive", "cron", "patroni-callback"]
_Mode = Literal["full", "diff", "incr"]
_Role = Literal["primary", "replica"]

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

__version__: Final[str]
SPEC_KEYS: Final[tuple[str, ...]]
REQUEST_KEYS: Final[tuple[str, ...]]
# The keys of pgBackRest's secure options in a repo dict, Pigsty's snake form (`cipher_pass`,
# `s3_key`, `s3_key_secret`, ...), from pitr's option catalogue, and the spec's
# `patroni_password`.
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

@final
class Plan:
    """What pitr will do, as data, before it does anything; its secrets stay inside."""

    @property
    def kind(self) -> Literal["restore", "backup", "service", "continuity"]: ...
    @property
    def stanza(self) -> str: ...
    @property
    def summary(self) -> dict[str, Any]: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def destructive(self) -> bool: ...
    @property
    def selection(self) -> dict[str, Any] | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_shell(self) -> str: ...
    @property
    def resumed(self) -> dict[str, Any] | None: ...
    def run(
        self,
        *,
        echo: bool = True,
        verbose: bool = False,
        log_dir: _Path | None = None,
        wait: bool = False,
    ) -> dict[str, Any]: ...
    @staticmethod
    def from_dict(plan: Mapping[str, Any]) -> Plan: ...

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
) -> Plan: ...
def plan_restore(
    spec: _Spec,
    request: _Request | None = None,
    info: _Info | None = None,
    *,
    zone: str | None = None,
    restore_config: _Path | None = None,
    timeout: int = 3600,
) -> Plan: ...
def plan_restore_cluster(
    specs: _Spec | list[_Spec],
    request: _Request | None = None,
    *,
    member: str | None = None,
    force: bool = False,
    drain_timeout: int = 120,
    backup: bool = True,
    zone: str | None = None,
    timeout: int = 3600,
    continue_run: bool = False,
    new_cluster: _Spec | None = None,
) -> dict[str, Any]: ...
def run_restore_cluster(
    specs: _Spec | list[_Spec],
    request: _Request | None = None,
    *,
    member: str | None = None,
    force: bool = False,
    drain_timeout: int = 120,
    backup: bool = True,
    zone: str | None = None,
    timeout: int = 3600,
    continue_run: bool = False,
    new_cluster: _Spec | None = None,
    echo: bool = False,
) -> dict[str, Any]: ...
_Phase = Literal[
    "pause", "stop", "restore", "dcs", "start", "resume", "replicas", "archive", "backup",
    "rollback",
]

def describe_cluster_plan(plan: Mapping[str, Any]) -> dict[str, Any]: ...
def run_cluster_phase(
    spec: _Spec,
    plan: Mapping[str, Any],
    phase: _Phase,
    *,
    steps: list[str] | None = None,
    restored_timeline: int | None = None,
    request: _Request | None = None,
    zone: str | None = None,
    echo: bool = False,
) -> dict[str, Any]: ...
def plan_service(spec: _Spec, action: Literal["start", "stop"]) -> Plan: ...
def info(spec: _Spec) -> dict[str, Any]: ...
def default_owner(spec: _Spec, what: _What) -> str: ...
def check_writable(path: _Path, *, owner: str | None = None) -> None: ...
def write_file(
    path: _Path, contents: str, *, mode: int = 0o600, owner: str | None = None
) -> None: ...
def mark(spec: _Spec, name: str, *, wait: bool = False) -> dict[str, Any]: ...
def drill(
    spec: _Spec,
    *,
    time: str | None = None,
    name: str | None = None,
    lsn: str | None = None,
    random: bool = False,
    seed: int | None = None,
    scratch: _Path | None = None,
    amcheck: bool = True,
    timeout: int = 3600,
    record: bool = True,
    echo: bool = False,
) -> dict[str, Any]: ...
def continuity(
    spec: _Spec, *, dry_run: bool = False, echo: bool = False, wait: bool = False
) -> dict[str, Any]: ...
def check_spec(spec: _Spec) -> dict[str, Any]: ...
def secret_values(spec: _Spec, request: _Request | None = None) -> list[str]: ...
def redact_config(text: str) -> str: ...
