#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pitr developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pgsql_drill
short_description: Restore drill - restore a clone beside the cluster, check it, time it, remove it
description:
  - Like C(pitr drill) (docs/drills.md) - restores a clone of the spec's stanza into a scratch
    directory on a free port with archiving off, beside the running cluster, at reduced CPU
    and IO priority; verifies the stop point; asks the clone the spec's
    C(pitr_drill_assertions) (SQL that must return true); runs C(amcheck) and, with data
    checksums, C(pg_checksums --check); removes the clone on success and failure; records the
    result for C(pitr exporter) and C(pitr info).
  - With Patroni configured in the spec, the leader skips (reported C(ok), RV(drill.skipped))
    and a replica runs the drill.
  - The cluster is not changed, so the task reports C(ok). A failed drill fails the task with
    its RV(error_code) and the record in RV(drill).
version_added: "0.1.0"
author: pitr developers
requirements:
  - the C(pitr) Python module (the pitr wheel) in the Python that runs the module
  - pgBackRest and PostgreSQL on the node
options:
  spec:
    description: The cluster spec, a dict of Pigsty variables (see M(pitr.pgsql.pgbackrest_config)).
    type: dict
    required: true
  time:
    description: Restore to this time (with a zone); the end of the archive when no target is given.
    type: str
  name:
    description: Restore to this restore point.
    type: str
  lsn:
    description: Restore to this LSN.
    type: str
  random:
    description: Restore to a random time inside the recoverable window.
    type: bool
    default: false
  seed:
    description: The seed of O(random), to repeat a drill; recorded either way.
    type: int
  scratch:
    description: The scratch directory for the clone (C(<pg_data>-drill)); removed afterwards.
    type: path
  amcheck:
    description: Run C(amcheck) on the clone's indexes.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for recovery.
    type: int
    default: 3600
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
notes:
  - The secrets of O(spec) are found by key name before anything validates them and masked in
    every result, message and logged invocation, also when the spec is invalid.
"""

EXAMPLES = r"""
- name: Drill to a random time (a replica runs it; the leader skips)
  pitr.pgsql.pgsql_drill:
    spec: "{{ pitr_spec }}"
    random: true
  register: drill

- name: Say how long a restore takes
  ansible.builtin.debug:
    msg: "restore {{ drill.drill.restore_secs }} s, replay {{ drill.drill.replay_secs }} s"
"""

RETURN = r"""
drill:
  description:
    - The drill record, as C(pitr drill --json) prints it - C(ok), C(code), C(error), C(target),
      C(seed), C(repo), C(set), C(restore_secs), C(replay_secs), C(total_secs), C(check_secs),
      C(bytes_restored), C(wal_replayed_bytes), C(checks), C(verified), C(skipped).
  returned: always
  type: dict
error_code:
  description:
    - The stable code of the failure - the drill's (C(wal_gap), C(recovery_target_not_reached),
      C(drill_assertion_failed), C(drill_amcheck_failed), C(drill_checksums_failed), ...), or
      C(invalid_argument), C(missing_library), C(internal_error), C(failed).
  returned: failure
  type: str
  sample: drill_assertion_failed
"""

from ansible_collections.pitr.pgsql.plugins.module_utils.pitr_module import (
    SPEC_ARG,
    PitrModule,
    pitr,
)


def drill(module):
    """Runs the drill and exits with its record."""
    p = module.params
    record = pitr.drill(p["spec"], time=p["time"], name=p["name"], lsn=p["lsn"],
                        random=p["random"], seed=p["seed"], scratch=p["scratch"],
                        amcheck=p["amcheck"], timeout=p["timeout"])
    if not record["ok"]:
        module.fail_json(msg=record["error"], error_code=record["code"], drill=record)
    module.exit_json(changed=False, drill=record,
                     msg=record.get("skipped") or f"drill passed: {record['target']}")


def main():
    module = PitrModule(
        argument_spec=dict(
            spec=SPEC_ARG,
            time=dict(type="str"),
            name=dict(type="str"),
            lsn=dict(type="str"),
            random=dict(type="bool", default=False),
            seed=dict(type="int"),
            scratch=dict(type="path"),
            amcheck=dict(type="bool", default=True),
            timeout=dict(type="int", default=3600),
        ),
        mutually_exclusive=[("time", "name", "lsn", "random")],
        supports_check_mode=False,
    )
    module.run(drill)


if __name__ == "__main__":
    main()
