"""A throwaway PostgreSQL 15 cluster for the Python and Ansible tests.

Like the Rust harness (``tests/src/cluster.rs``): a private directory under the system temp
directory, owned by the ``postgres`` OS user, holding ``data/``, ``sock/`` (the only place the
server listens), ``log/``, and a local pgBackRest repository with its working paths. Programs
run as ``postgres`` through ``subprocess`` with ``user=``/``group=`` (the child switches before
``exec``; no shell, no ``su``), with no inherited ``PG*`` variables.

A missing prerequisite (PostgreSQL 15, pgBackRest, the ``postgres`` user, root) raises: tests
fail, they are never skipped.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pitr

DBSU = "postgres"
SUBDIRS = ("sock", "log", "repo", "spool", "lock", "pgbackrest-log")


def pg_bin_dir() -> Path:
    """The PostgreSQL 15 binaries (``make setup`` installs them)."""
    found = sorted(glob.glob("/usr/lib/postgresql/15/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin/initdb): run `make setup`"
        )
    return Path(found[0]).parent


def require_prerequisites() -> None:
    """Fails (never skips) when something the tests need is missing."""
    if os.geteuid() != 0:
        raise RuntimeError("the Python end-to-end tests run as root (they switch to postgres)")
    try:
        pwd.getpwnam(DBSU)
    except KeyError:
        raise RuntimeError("OS user postgres does not exist: run `make setup`") from None
    if shutil.which("pgbackrest") is None:
        raise RuntimeError("pgbackrest is not on PATH: run `make setup`")
    pg_bin_dir()


def dbsu_env() -> dict[str, str]:
    """The environment of a child running as postgres: no PG* variables."""
    user = pwd.getpwnam(DBSU)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(HOME=user.pw_dir, USER=DBSU, LOGNAME=DBSU)
    return env


def run_as_dbsu(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Runs ``argv`` as postgres and returns its output; raises with both streams on failure."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.run(
        argv,
        user=DBSU,
        group=DBSU,
        extra_groups=[],
        env=dbsu_env(),
        cwd="/",
        stdin=subprocess.DEVNULL,
        text=True,
        check=False,
        **kwargs,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{argv} failed with status {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def chown_dbsu(path: Path) -> None:
    user = pwd.getpwnam(DBSU)
    os.chown(path, user.pw_uid, user.pw_gid)


def write_as_dbsu(path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    chown_dbsu(path)
    path.chmod(mode)


def free_port() -> int:
    """A port no socket file and no TCP listener on loopback uses."""
    for _ in range(200):
        port = 20000 + int.from_bytes(os.urandom(2), "little") % 30000
        busy = any(
            Path(d, f".s.PGSQL.{port}").exists() or Path(d, f".s.PGSQL.{port}.lock").exists()
            for d in ("/tmp", "/var/run/postgresql")
        )
        if busy or port == 5432:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port found")


def fingerprint(*paths: Path) -> str:
    """SHA-256 over every entry below ``paths`` (kind, path, mode, size, contents, link
    targets; not times), to prove nothing on disk changed. A missing path counts as such."""
    h = hashlib.sha256()
    for root in paths:
        h.update(f"root {root}\n".encode())
        if not root.exists() and not root.is_symlink():
            h.update(b"missing\n")
            continue
        entries = [root] if not root.is_dir() else sorted(root.rglob("*"))
        for p in entries:
            st = p.lstat()
            h.update(f"{p.relative_to(root) if p != root else '.'} {stat.S_IFMT(st.st_mode)} "
                     f"{stat.S_IMODE(st.st_mode):o}\n".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                h.update(str(st.st_size).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


class Cluster:
    """A throwaway cluster and the cluster spec that describes it."""

    def __init__(self, name: str, *, cipher_pass: str | None = None) -> None:
        require_prerequisites()
        self.name = name
        self.bin = pg_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix=f"pitr-py-{name}-"))
        chown_dbsu(self.root)
        self.root.chmod(0o700)
        for sub in SUBDIRS:
            d = self.root / sub
            d.mkdir()
            chown_dbsu(d)
            d.chmod(0o700)
        self.port = free_port()
        repo: dict[str, Any] = {"path": str(self.root / "repo"), "retention_full": 4}
        if cipher_pass is not None:
            repo.update(cipher_type="aes-256-cbc", cipher_pass=cipher_pass)
        self.spec: dict[str, Any] = {
            "pg_cluster": name,
            "pg_data": str(self.data),
            "pg_port": self.port,
            "pg_socket_dir": str(self.root / "sock"),
            "node_cpu": 2,
            "pgbackrest_version": "2.45",
            "pgbackrest_config": str(self.config),
            "pgbackrest_log_dir": str(self.root / "pgbackrest-log"),
            "pgbackrest_spool_dir": str(self.root / "spool"),
            "pgbackrest_lock_dir": str(self.root / "lock"),
            "pgbackrest_method": "local",
            "pgbackrest_repo": {"local": repo},
        }
        run_as_dbsu([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                     "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"])
        settings = (
            "\n# --- pitr python tests ---\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.root / 'sock'}'\n"
            "listen_addresses = ''\n"
            "wal_level = replica\n"
            "fsync = off\n"
            "shared_buffers = 32MB\n"
            "logging_collector = off\n"
            + pitr.render_config(self.spec, "archive")
        )
        conf = self.data / "postgresql.conf"
        write_as_dbsu(conf, conf.read_text() + settings)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "pgbackrest.conf"

    @property
    def restore_config(self) -> Path:
        """Where restores write their config by default (beside pgbackrest.conf)."""
        return self.root / f"pitr-{self.name}-restore.conf"

    def write_pgbackrest_conf(self) -> None:
        write_as_dbsu(self.config, pitr.render_config(self.spec, reveal_secrets=True))

    def start(self) -> None:
        with open(self.root / "log" / "pg_ctl.log", "a") as out:
            run_as_dbsu([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                         str(self.root / "log" / "postgres.log"), "-w", "-t", "120", "start"],
                        stdout=out)

    def stop(self, mode: str = "fast") -> None:
        run_as_dbsu([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def is_running(self) -> bool:
        proc = subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
                              user=DBSU, group=DBSU, extra_groups=[], env=dbsu_env(), cwd="/",
                              capture_output=True, check=False)
        return proc.returncode == 0

    def psql(self, sql: str) -> str:
        proc = run_as_dbsu([str(self.bin / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", str(self.root / "sock"), "-p", str(self.port), "-U", "postgres",
                            "-d", "postgres", "-c", sql])
        return proc.stdout.strip()

    def wait_until_accepting(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.psql("SELECT 1")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def count(self, table: str = "t") -> int:
        return int(self.psql(f"SELECT count(*) FROM {table}"))

    def now(self) -> str:
        """The server's clock as a target time in UTC, e.g. ``2025-01-01 12:00:00.123456+00``."""
        return self.psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD HH24:MI:SS.US+00')")

    def batch(self, n: int) -> str:
        """Inserts rows ``(n-1)*100+1 .. n*100`` in one transaction; returns its xid."""
        return self.psql(
            f"INSERT INTO t SELECT g, {n} FROM generate_series({(n - 1) * 100 + 1}, {n * 100}) g "
            "RETURNING pg_current_xact_id()").splitlines()[0]

    def archive_now(self) -> None:
        """Forces a WAL switch and waits until it is archived."""
        run_as_dbsu(["pgbackrest", f"--config={self.config}", f"--stanza={self.name}", "check"])

    def info_text(self) -> str:
        return run_as_dbsu(["pgbackrest", f"--config={self.config}", f"--stanza={self.name}",
                            "info", "--output=json"]).stdout

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists() and self.is_running():
            subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], user=DBSU, group=DBSU, extra_groups=[], env=dbsu_env(),
                           cwd="/", capture_output=True, check=False)
        if os.environ.get("PITR_KEEP_TEST_DIRS"):
            print(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def tick() -> None:
    """Backup stop times are whole seconds; targets must not share a second with a set's stop."""
    time.sleep(1.1)
