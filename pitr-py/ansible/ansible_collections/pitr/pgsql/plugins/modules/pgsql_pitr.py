#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pitr developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pgsql_pitr
short_description: Point-in-time restore of PostgreSQL with pgBackRest, checked and verified
description:
  - Takes Pigsty's C(pg_pitr) dict as it is (one target of C(time), C(name), C(xid), C(lsn) or
    C(type=immediate); none for the end of the archive), chooses the backup set that can reach
    it across all repos, and checks the target against the recoverable window, the set and the
    data directory before anything stops.
  - With O(state=restored) it then stops PostgreSQL, optionally keeps the data directory as a
    safety copy (C(pg_pitr.backup=true), put back if anything fails), writes the restore config,
    runs C(pgbackrest restore), starts PostgreSQL and follows recovery until PostgreSQL says it
    stopped at the target, and verifies the stop point. It returns the set used and the verified
    stop point.
  - In check mode it returns the plan (every step with its argv) and touches nothing.
  - O(state=stopped) and O(state=started) stop or start PostgreSQL as the database superuser,
    for the C(down) and C(up) phases around a restore; they report C(ok) when there is nothing
    to do.
  - Failures set RV(error_code) to pitr's stable code (C(invalid_setting), C(invalid_value),
    C(target_outside_window), C(target_not_archived), C(recovery_target_not_reached),
    C(recovery_missing_wal), C(recovery_failed), ...). An error before the restore changed
    nothing.
version_added: "0.1.0"
author: pitr developers
requirements:
  - the C(pitr) Python module (the pitr wheel) in the Python that runs the module
  - pgBackRest and PostgreSQL on the node; run as root or as the database superuser
options:
  spec:
    description: The cluster spec, a dict of Pigsty variables (see M(pitr.pgsql.pgbackrest_config)).
    type: dict
    required: true
  pg_pitr:
    description:
      - Pigsty's restore request - C(time), C(name), C(xid), C(lsn) or C(type); C(exclusive),
        C(action) (C(pause) by default, C(promote), C(shutdown)), C(timeline), C(set),
        C(repo), C(backup) (keep a safety copy), C(archive), C(db_include), C(db_exclude),
        C(link_map), C(process), C(data), C(port), C(cluster); and pitr's C(before) (a time a
        C(name) or C(xid) target is known to be after) and C(extra) (more pgBackRest options).
      - Empty or not given, the end of the archive.
    type: dict
    default: {}
  state:
    description:
      - C(restored) plans and runs the restore; C(stopped) and C(started) stop or start
        PostgreSQL around it.
    type: str
    choices: [restored, stopped, started]
    default: restored
  zone:
    description: IANA time zone (or C(local)) for target times written without a zone.
    type: str
  restore_config:
    description: Where to write the restore config (beside pgbackrest.conf by default).
    type: path
  timeout:
    description: Seconds to wait for recovery to reach the target.
    type: int
    default: 3600
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Secrets of the spec never appear in the result - the plan holds C(<redacted>) in their place.
  - The secrets of O(spec) and O(pg_pitr) are found by key name before anything validates them
    and masked in every result, message and logged invocation, also when the spec is invalid.
"""

EXAMPLES = r"""
- name: Show what a restore to a point in time would do
  pitr.pgsql.pgsql_pitr:
    spec: "{{ pitr_spec }}"
    pg_pitr: { time: "2025-07-13 10:00:00+00" }
  check_mode: true
  register: plan

- name: Print it as a script
  ansible.builtin.debug:
    msg: "{{ plan.script.splitlines() }}"

- name: Restore to a restore point, keeping the old data directory until it is verified
  pitr.pgsql.pgsql_pitr:
    spec: "{{ pitr_spec }}"
    pg_pitr: { name: before-migration, backup: true, action: promote }
  register: restored

- name: Stop PostgreSQL (the down phase of pgsql-pitr.yml)
  pitr.pgsql.pgsql_pitr:
    spec: "{{ pitr_spec }}"
    state: stopped
"""

RETURN = r"""
plan:
  description: The plan as C(pitr restore --dry-run --json) prints it (secrets redacted).
  returned: always
  type: dict
script:
  description: The plan as a commented shell script, for people to read.
  returned: always
  type: str
set:
  description: The backup set restored (or to be restored).
  returned: when state=restored
  type: str
  sample: 20250713-010000F
repo:
  description: The repo it is restored from.
  returned: when state=restored
  type: int
  sample: 1
restore_config:
  description: Where the restore config is written.
  returned: when state=restored
  type: str
verified:
  description:
    - The verified stop point - C(target), C(ending) (C(paused), C(promoted), C(shut_down)),
      C(stop) (the record PostgreSQL stopped at), C(replay_lsn), C(last_commit), C(timeline).
  returned: when state=restored and not in check mode
  type: dict
completed:
  description: The ids of the steps that ran.
  returned: when not in check mode
  type: list
  elements: str
log_file:
  description: The run log.
  returned: when state=restored and not in check mode
  type: str
error_code:
  description:
    - The stable code of the failure - pitr's (C(invalid_setting), C(unknown_key), ...), or
      C(invalid_argument) (Ansible refused the arguments), C(missing_library),
      C(internal_error) (any other exception), C(failed) (Ansible's own helpers).
  returned: failure
  type: str
  sample: target_outside_window
failed_step:
  description: The step that failed, for a failure while running.
  returned: failure
  type: str
rolled_back:
  description: Whether the safety copy was put back after a failed step.
  returned: failure
  type: bool
"""

from ansible_collections.pitr.pgsql.plugins.module_utils.pitr_module import (
    SPEC_ARG,
    PitrModule,
    pitr,
)


def restore(module):
    """Plans the restore; in check mode returns the plan, else runs that same plan."""
    p = module.params
    plan = pitr.plan_restore(p["spec"], p["pg_pitr"], zone=p["zone"],
                             restore_config=p["restore_config"], timeout=p["timeout"])
    summary = plan.summary
    result = dict(
        changed=True,
        plan=plan.to_dict(),
        script=plan.to_shell(),
        set=summary["set"],
        repo=summary["repo"],
        restore_config=summary["restore_config"],
        warnings=plan.warnings,
    )
    if module.check_mode:
        module.exit_json(msg="would restore %s from repo%s: %s" % (
            summary["set"], summary["repo"], summary["reason"]), **result)
    report = plan.run(echo=False)["report"]
    verified = report["verified"] or {}
    module.exit_json(
        verified=report["verified"],
        completed=report["completed"],
        log_file=report["log_file"],
        msg="restored %s from repo%s; recovery stopped at %s, %s" % (
            summary["set"], summary["repo"], verified.get("target"), verified.get("ending")),
        **result,
    )


def service(module, action):
    """Stops or starts PostgreSQL (in check mode: says whether it would)."""
    plan = pitr.plan_service(module.params["spec"], action)
    changed = plan.summary["changed"]
    result = dict(changed=changed, plan=plan.to_dict(), script=plan.to_shell())
    if changed and not module.check_mode:
        result["completed"] = plan.run(echo=False)["report"]["completed"]
    module.exit_json(**result)


def apply_state(module):
    """Restores, stops or starts PostgreSQL as ``state`` says, and exits with the result."""
    state = module.params["state"]
    if state == "restored":
        restore(module)
    else:
        service(module, "stop" if state == "stopped" else "start")


def main():
    module = PitrModule(
        argument_spec=dict(
            spec=SPEC_ARG,
            pg_pitr=dict(type="dict", default={}),
            state=dict(type="str", default="restored", choices=["restored", "stopped", "started"]),
            zone=dict(type="str"),
            restore_config=dict(type="path"),
            timeout=dict(type="int", default=3600),
        ),
        supports_check_mode=True,
    )
    module.run(apply_state)


if __name__ == "__main__":
    main()
