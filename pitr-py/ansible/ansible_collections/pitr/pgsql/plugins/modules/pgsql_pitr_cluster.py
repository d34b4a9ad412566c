#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pitr developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pgsql_pitr_cluster
short_description: Point-in-time restore of a whole Patroni cluster, one phase and host at a time
description:
  - With O(state=planned), runs the pre-flight of a whole-cluster restore (Patroni and every
    member reachable, the DCS reached, the target in the recoverable window of the restored
    member) and returns the cluster plan - every step with its phase, member, host, reason and
    command - and how each phase runs host by host. Nothing is stopped or changed, in check mode
    or not. Run it on the host of the member restored (the leader by default) - the single-node
    restore inside the plan is planned with that host's paths and repo.
  - With O(state=phase), runs on this host the steps of one O(phase) of that plan that run on
    the host of the member of O(spec) (C(<pg_cluster>-<pg_seq>)), or the steps named in
    O(steps). C(rollback) runs the plan's steps that bring the cluster back as it was. In check
    mode the plan is read back (refused when it is none) and nothing runs.
  - The logic is pitr's (C(pitr.plan_restore_cluster), C(pitr.describe_cluster_plan),
    C(pitr.run_cluster_phase)); the playbook C(pgsql-pitr.yml) runs the phases in order and
    the rollback in its rescue.
  - A member Patroni lists without a spec in O(specs) fails the plan with C(remote_member) -
    every member's steps run on its own host, so every member must be a host of the play.
  - Failures set RV(error_code) to pitr's stable code (C(cluster_not_ready),
    C(archive_not_drained), C(recovery_target_not_reached), C(plan_not_runnable), ...); the
    message says which step failed on which member and what is left to do.
version_added: "0.1.0"
author: pitr developers
requirements:
  - the C(pitr) Python module (the pitr wheel) in the Python that runs the module
  - Patroni (C(patronictl)), pgBackRest and PostgreSQL on the node; run as root
options:
  state:
    description: C(planned) runs the pre-flight and returns the plan; C(phase) runs one phase.
    type: str
    choices: [planned, phase]
    default: planned
  specs:
    description:
      - With O(state=planned), the cluster spec of every member (Pigsty variables with
        C(pg_seq) and Patroni's keys), this host's member first.
    type: list
    elements: dict
    default: []
  spec:
    description: With O(state=phase), the cluster spec of this host's member.
    type: dict
  pg_pitr:
    description:
      - Pigsty's restore request (the target; the restore is always in place, promoted, with
        archiving off until verified and a safety copy). Empty, the end of the archive.
      - With O(state=phase), the request the plan was made for - the C(restore) phase renders
        the restore config's secrets (redacted in the plan) again from O(spec) and it, and
        uses them only when the result is the plan's.
    type: dict
    default: {}
  member:
    description: The member to restore (the current leader when not given).
    type: str
  force:
    description: Go on when the primary's archive queue does not drain.
    type: bool
    default: false
  drain_timeout:
    description: Seconds the primary's archive queue may take to drain.
    type: int
    default: 120
  backup:
    description: Take a full backup on the new leader at the end.
    type: bool
    default: true
  zone:
    description: IANA time zone (or C(local)) for target times written without a zone.
    type: str
  timeout:
    description: Seconds to wait for recovery to reach the target.
    type: int
    default: 3600
  plan:
    description: With O(state=phase), the plan O(state=planned) returned.
    type: dict
  phase:
    description: With O(state=phase), the phase to run.
    type: str
    choices: [pause, stop, restore, dcs, start, resume, replicas, archive, backup, rollback]
  steps:
    description:
      - With O(state=phase), the ids of the steps to run (one entry of RV(phases)); every step
        of the phase that runs on this member's host when not given.
    type: list
    elements: str
  restored_timeline:
    description: With O(state=phase), the C(restore) phase's RV(restored_timeline) (the
      C(archive) phase needs it).
    type: int
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - The plan holds no secret (the restore config's secrets are redacted); the C(restore) phase
    renders them again from O(spec) and O(pg_pitr) on the restored member's host.
  - The secrets of O(specs), O(spec) and O(pg_pitr) are found by key name and masked in every
    result, message and logged invocation.
"""

EXAMPLES = r"""
- name: Plan the restore of the cluster on the leader's host (touches nothing)
  pitr.pgsql.pgsql_pitr_cluster:
    specs: "{{ [pitr_spec] + others }}"
    pg_pitr: { time: "2025-07-13 10:00:00+00" }
  register: cluster_plan

- name: Print it
  ansible.builtin.debug:
    msg: "{{ cluster_plan.text.splitlines() }}"

- name: Stop every member, replicas first, the primary last (each on its own host)
  pitr.pgsql.pgsql_pitr_cluster:
    state: phase
    spec: "{{ hostvars[host_of[item.member]].pitr_spec }}"
    plan: "{{ cluster_plan.plan }}"
    phase: stop
    steps: "{{ item.steps }}"
  loop: "{{ cluster_plan.phases.stop }}"
  delegate_to: "{{ host_of[item.member] }}"
"""

RETURN = r"""
plan:
  description: The cluster plan, as C(pitr restore --cluster --dry-run --json) prints it.
  returned: state=planned
  type: dict
text:
  description: The plan for people, as C(pitr restore --cluster --dry-run) prints it.
  returned: state=planned
  type: str
phases:
  description:
    - For each phase, how it runs host by host - a list of C({member, steps}), consecutive
      steps that run on one member's host, in the plan's order.
  returned: state=planned
  type: dict
chosen:
  description: The member restored.
  returned: state=planned
  type: str
phase:
  description: The phase that ran.
  returned: state=phase
  type: str
member:
  description: The member on whose host it ran.
  returned: state=phase
  type: str
completed:
  description: Ids of the steps that ran (empty when the phase has nothing for this member).
  returned: state=phase and not in check mode
  type: list
  elements: str
restored_timeline:
  description: The timeline the restore promoted to (C(restore) phase).
  returned: state=phase
  type: int
timeline:
  description: The timeline the new leader runs on (C(start) phase).
  returned: state=phase
  type: int
restore:
  description: The restore's run report, with the verified stop point (C(restore) phase).
  returned: state=phase
  type: dict
log_file:
  description: The run log.
  returned: state=phase and not in check mode
  type: str
error_code:
  description: The stable code of the failure (pitr's, or C(invalid_argument),
    C(missing_library), C(internal_error), C(failed)).
  returned: failure
  type: str
  sample: recovery_target_not_reached
"""

from ansible_collections.pitr.pgsql.plugins.module_utils.pitr_module import PitrModule, pitr


def planned(module):
    """The pre-flight and the plan; nothing changes."""
    p = module.params
    plan = pitr.plan_restore_cluster(
        p["specs"], p["pg_pitr"], member=p["member"], force=p["force"],
        drain_timeout=p["drain_timeout"], backup=p["backup"], zone=p["zone"],
        timeout=p["timeout"])
    remote = [m["name"] for m in plan["members"] if not m["local"]]
    if remote:
        module.fail_json(
            msg="members %s of cluster %s are not hosts of this play (no spec of theirs was "
            "given): every member's steps run on its own host; run the play on every member "
            "(e.g. -l %s); nothing was stopped" % (", ".join(remote), plan["scope"], plan["scope"]),
            error_code="remote_member", plan=plan)
    described = pitr.describe_cluster_plan(plan)
    module.exit_json(
        changed=False,
        plan=plan,
        text=described["text"],
        phases=described["phases"],
        chosen=plan["chosen"],
        msg="would restore %s to %s on member %s (leader now: %s)" % (
            plan["scope"], plan["target"], plan["chosen"], plan["leader_before"]),
    )


def phase(module):
    """Runs one phase on this host's member (in check mode: nothing)."""
    p = module.params
    for key in ("spec", "plan", "phase"):
        if not p[key]:
            module.fail_json(msg="state=phase needs %s" % key, error_code="invalid_argument")
    if module.check_mode:
        # The plan is read back (and refused when it is none), nothing runs.
        runs = pitr.describe_cluster_plan(p["plan"])["phases"][p["phase"]]
        module.exit_json(changed=False, phase=p["phase"], runs=runs,
                         msg="check mode: phase %s not run" % p["phase"])
    outcome = pitr.run_cluster_phase(
        p["spec"], p["plan"], p["phase"], steps=p["steps"],
        restored_timeline=p["restored_timeline"], request=p["pg_pitr"], zone=p["zone"])
    done = outcome["completed"]
    module.exit_json(
        changed=bool(done),
        msg="phase %s on %s: %s" % (p["phase"], outcome["member"], ", ".join(done) or "nothing to do"),
        **outcome,
    )


def main():
    module = PitrModule(
        argument_spec=dict(
            state=dict(type="str", default="planned", choices=["planned", "phase"]),
            specs=dict(type="list", elements="dict", default=[]),
            spec=dict(type="dict"),
            pg_pitr=dict(type="dict", default={}),
            member=dict(type="str"),
            force=dict(type="bool", default=False),
            drain_timeout=dict(type="int", default=120),
            backup=dict(type="bool", default=True),
            zone=dict(type="str"),
            timeout=dict(type="int", default=3600),
            plan=dict(type="dict"),
            phase=dict(type="str", choices=[
                "pause", "stop", "restore", "dcs", "start", "resume", "replicas", "archive",
                "backup", "rollback"]),
            steps=dict(type="list", elements="str"),
            restored_timeline=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    module.run(planned if module.params["state"] == "planned" else phase)


if __name__ == "__main__":
    main()
