"""Running the real `ansible-playbook` against localhost, with the json callback so tests can
read every task's result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = ROOT / "pitr-py" / "ansible"
BIN = Path(sys.executable).parent


def write_inventory(path: Path, spec: dict[str, Any]) -> Path:
    """An inventory with localhost (local connection, this Python) holding the spec's Pigsty
    variables as host variables. JSON is YAML."""
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **spec}
    path.write_text(json.dumps({"all": {"hosts": {"localhost": host}}}, indent=2))
    return path


@dataclass
class PlayRun:
    """One `ansible-playbook` run."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> dict[str, Any]:
        start = self.stdout.find("\n{")  # after "Using ... as config file" (-v)
        text = self.stdout if self.stdout.startswith("{") else self.stdout[start + 1:]
        try:
            out: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as e:
            raise AssertionError(f"not json callback output ({e}):\n{self}") from None
        return out

    def results(self) -> dict[str, dict[str, Any]]:
        """Task name -> the result on localhost."""
        return {
            t["task"]["name"]: t["hosts"]["localhost"]
            for play in self.output["plays"]
            for t in play["tasks"]
            if "localhost" in t["hosts"]
        }

    def result(self, prefix: str) -> dict[str, Any]:
        found = [r for name, r in self.results().items() if name.startswith(prefix)]
        assert len(found) == 1, f"no single task named {prefix!r}: {list(self.results())}"
        return found[0]

    def __str__(self) -> str:
        return (f"$ {' '.join(self.argv)}\nstatus {self.returncode}\n--- stdout\n{self.stdout}\n"
                f"--- stderr\n{self.stderr}")


def ansible_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PG"))}
    env.update(
        ANSIBLE_STDOUT_CALLBACK="pitr_results",
        ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).resolve().parent / "callback_plugins"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
    )
    return env


def playbook(inventory: Path, name: str, *args: str, cwd: Path = ANSIBLE_DIR,
             prefix: Sequence[str] = (), env: Mapping[str, str] | None = None) -> PlayRun:
    """Runs ``ansible-playbook -i inventory name args`` from the collection's directory (its
    ansible.cfg finds the collection); ``prefix`` is an argv that runs it (e.g. in another
    namespace), ``env`` more environment variables."""
    binary = BIN / "ansible-playbook"
    if not binary.is_file():
        raise RuntimeError(f"{binary} is missing: run `make setup`")
    argv = [*prefix, str(binary), "-i", str(inventory), name, *args]
    proc = subprocess.run(argv, cwd=cwd, env={**ansible_env(), **(env or {})},
                          capture_output=True, text=True, check=False, timeout=900)
    return PlayRun(argv, proc.returncode, proc.stdout, proc.stderr)
