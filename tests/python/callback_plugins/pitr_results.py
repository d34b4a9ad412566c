# A stdout callback for the tests: records every task's result on every host and prints them as
# one JSON document at the end (ansible-core ships no JSON callback; ansible.posix's is not
# installed). Results are as callbacks get them: invocation and diff included, so tests can
# check that no secret is in them.
from __future__ import annotations

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: pitr_results
type: stdout
short_description: every task result as one JSON document (pitr tests)
description:
  - Prints one JSON document when the playbook ends, with keys C(plays) (each with C(name) and
    C(tasks), each task with C(task.name) and C(hosts), a result per host) and C(stats).
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "pitr_results"

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"name": play.get_name(), "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]["tasks"].append({"task": {"name": task.get_name()}, "hosts": {}})

    def _record(self, result, status):
        data = dict(result.result)
        data["_status"] = status
        self.plays[-1]["tasks"][-1]["hosts"][result.host.get_name()] = data

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result, "changed" if result.result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        out = {"plays": self.plays, "stats": {h: stats.summarize(h) for h in hosts}}
        self._display.display(json.dumps(out, default=str, indent=1))
