#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pitr developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pgbackrest_backup
short_description: Back up a PostgreSQL cluster with pgBackRest, on its primary only
description:
  - Like Pigsty's C(pg-backup) and C(pitr backup), for every node of a cluster at once - only
    the primary backs up; on a replica the task does nothing and reports C(ok) (not changed),
    with RV(backup_skipped=true).
  - Unless O(role) is given, the role is asked from Patroni's REST API when the spec configures
    Patroni (C(patroni_enabled=true) or C(patroni_port)), checked against PostgreSQL, else from
    PostgreSQL (C(pg_is_in_recovery())). A member that cannot tell from Patroni (REST API
    unreachable, no leader lock, Patroni and PostgreSQL disagree) fails with
    RV(error_code=role_unknown) and runs nothing. On the primary the stanza is created first
    when pgBackRest does not know it yet.
  - In check mode the plan is returned and nothing runs.
version_added: "0.1.0"
author: pitr developers
requirements:
  - the C(pitr) Python module (the pitr wheel) in the Python that runs the module
  - pgBackRest, and PostgreSQL running on the node
options:
  spec:
    description: The cluster spec, a dict of Pigsty variables (see M(pitr.pgsql.pgbackrest_config)).
    type: dict
    required: true
  type:
    description:
      - The backup type. pgBackRest makes an incremental or differential backup full when
        there is no full backup yet.
    type: str
    choices: [full, diff, incr]
    default: incr
  role:
    description: The instance's role; asked from Patroni or PostgreSQL when not given.
    type: str
    choices: [primary, replica]
  repo:
    description: Back up to this repo index (pgBackRest's default, repo1, when not given).
    type: int
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - The secrets of O(spec) are found by key name before anything validates them and masked in
    every result, message and logged invocation, also when the spec is invalid.
"""

EXAMPLES = r"""
- name: Full backup of every cluster member (replicas skip)
  pitr.pgsql.pgbackrest_backup:
    spec: "{{ pitr_spec }}"
    type: full

- name: Incremental backup to the second repo
  pitr.pgsql.pgbackrest_backup:
    spec: "{{ pitr_spec }}"
    repo: 2
  register: backup

- name: Say what happened
  ansible.builtin.debug:
    msg: "{{ 'skipped on a replica' if backup.backup_skipped else backup.report.log_file }}"
"""

RETURN = r"""
backup_skipped:
  description: Whether the backup was skipped because the instance is a replica.
  returned: always
  type: bool
role:
  description: The instance's role, C(primary) or C(replica).
  returned: always
  type: str
role_source:
  description:
    - Where the role came from - C(patroni) (Patroni's REST API, checked against PostgreSQL),
      C(postgresql) (C(pg_is_in_recovery()), Patroni not configured) or C(given) (O(role)).
  returned: always
  type: str
plan:
  description: The backup plan (steps with their argv), as C(pitr backup --dry-run --json).
  returned: always
  type: dict
report:
  description: What ran - C(completed) step ids and the C(log_file) of the run.
  returned: when the backup ran
  type: dict
error_code:
  description:
    - The stable code of the failure - pitr's (C(invalid_setting), C(unknown_key), ...), or
      C(invalid_argument) (Ansible refused the arguments), C(missing_library),
      C(internal_error) (any other exception), C(failed) (Ansible's own helpers).
  returned: failure
  type: str
  sample: role_unknown
"""

from ansible_collections.pitr.pgsql.plugins.module_utils.pitr_module import (
    SPEC_ARG,
    PitrModule,
    pitr,
)


def backup(module):
    """Backs up (or, in check mode, plans the backup) and exits with the result."""
    p = module.params
    plan = pitr.plan_backup(p["spec"], p["type"], p["role"], repo=p["repo"])
    summary = plan.summary
    skipped = summary["skipped"]
    result = dict(changed=not skipped, backup_skipped=skipped, role=summary["role"],
                  role_source=summary["role_source"], plan=plan.to_dict())
    if skipped:
        result["msg"] = summary.get("reason", "skipped on a replica")
    elif not module.check_mode:
        result["report"] = plan.run(echo=False)["report"]
    module.exit_json(**result)


def main():
    module = PitrModule(
        argument_spec=dict(
            spec=SPEC_ARG,
            type=dict(type="str", default="incr", choices=["full", "diff", "incr"]),
            role=dict(type="str", choices=["primary", "replica"]),
            repo=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    module.run(backup)


if __name__ == "__main__":
    main()
