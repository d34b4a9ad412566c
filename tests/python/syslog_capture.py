"""Capturing what programs send to the node's log, without touching the machine's logging.

AnsibleModule logs each module's invocation to the systemd journal when the ``systemd`` Python
module is importable, and otherwise to syslog, which glibc sends as a datagram to ``/dev/log``.
``capture_syslog()`` binds a unix datagram socket in a private directory and gives an argv
prefix that runs a program in a private mount namespace (``unshare --mount --propagation
private``) where that socket is bind-mounted over ``/dev/log``: only that program and its
children log to the capture, and nothing else on the machine notices. When ``/dev/log`` does not
exist (no syslog runs), an empty file is put there for the time of the capture as the mount
point - to every other program it is a ``/dev/log`` nobody listens on, as before - and removed
afterwards.

Run as a script (``python syslog_capture.py SOCKET -- ARGV...``) it is that prefix's second half,
inside the new namespace: it bind-mounts SOCKET over ``/dev/log`` and executes ARGV. No shell.

A missing prerequisite (root, ``unshare``, ``mount``, the journal module) raises: the tests that
use it fail, they are never skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DEV_LOG = Path("/dev/log")


@dataclass
class SyslogCapture:
    """Datagrams sent to ``/dev/log`` by programs run through ``prefix``."""

    socket_path: Path
    prefix: list[str]
    messages: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.messages)


def require_prerequisites() -> tuple[str, str]:
    """``unshare`` and ``mount``; raises when something the capture needs is missing."""
    if os.geteuid() != 0:
        raise RuntimeError("capturing /dev/log needs root (a mount namespace and a bind mount)")
    if importlib.util.find_spec("systemd") is not None:
        raise RuntimeError("the systemd Python module is importable: AnsibleModule would log to "
                           "the journal, which this capture does not see")
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if unshare is None or mount is None:
        raise RuntimeError("unshare and mount (util-linux) are needed to capture /dev/log")
    if DEV_LOG.is_dir():
        raise RuntimeError(f"{DEV_LOG} is a directory: cannot bind a socket over it")
    return unshare, mount


def drain(sock: socket.socket, messages: list[str], stop: threading.Event) -> None:
    """Receives datagrams until ``stop`` is set and nothing is left (a full queue would block
    the senders)."""
    while True:
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            if stop.is_set():
                return
            continue
        messages.append(data.decode("utf-8", "replace"))


@contextmanager
def capture_syslog() -> Iterator[SyslogCapture]:
    """Captures /dev/log for programs run with ``capture.prefix + argv``."""
    unshare, _ = require_prerequisites()
    workdir = Path(tempfile.mkdtemp(prefix="pitr-syslog-"))
    path = workdir / "log.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    created = False
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        sock.bind(str(path))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.settimeout(0.2)
        if not DEV_LOG.exists() and not DEV_LOG.is_symlink():
            os.close(os.open(DEV_LOG, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o644))
            created = True
        prefix = [unshare, "--mount", "--propagation", "private", "--",
                  sys.executable, str(Path(__file__).resolve()), str(path), "--"]
        capture = SyslogCapture(path, prefix)
        thread = threading.Thread(target=drain, args=(sock, capture.messages, stop), daemon=True)
        thread.start()
        yield capture
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        sock.close()
        if created and DEV_LOG.is_file() and DEV_LOG.stat().st_size == 0:
            DEV_LOG.unlink()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> None:
    """In the new mount namespace: bind the socket over /dev/log, then become the program."""
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit(f"usage: {argv[0]} SOCKET -- ARGV...")
    mount = shutil.which("mount") or "mount"
    subprocess.run([mount, "--bind", argv[1], str(DEV_LOG)], check=True)
    os.execv(argv[3], argv[3:])


if __name__ == "__main__":
    main(sys.argv)
