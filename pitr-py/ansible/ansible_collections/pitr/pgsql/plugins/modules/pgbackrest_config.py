#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pitr developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pgbackrest_config
short_description: Render and write pgbackrest.conf or the restore config from a cluster spec
description:
  - Renders one of the files pitr makes from a cluster spec (Pigsty's variables) and writes it
    when its contents, owner, group or mode differ; otherwise reports C(ok).
  - The file is written as pitr writes every file as root - a new temporary file with mode and
    owner set on its descriptor, renamed into place. A symbolic link at O(dest), or a directory
    on the way that users other than root and the owner can write, fails the task with
    C(error_code=unsafe_path) before anything is read or written. The owner is O(owner), else
    the spec's C(pg_dbsu) (root for O(what=cron)).
  - C(what=pgbackrest) is the node's C(pgbackrest.conf); C(what=restore) the config a
    point-in-time restore of O(pg_pitr) writes (the same file the restore plan writes);
    C(what=archive) PostgreSQL's C(archive_mode) and C(archive_command); C(what=cron) cron
    lines for O(spec.pitr_backup_schedule) and O(spec.pitr_drill_schedule) (with
    O(spec.pitr_drill_assertions), the drill line reads them from O(spec.pitr_spec_file), the
    spec's file on the node, which must then be set); C(what=patroni-callback) the C(patroni.yml) snippet
    whose C(on_role_change) callback runs C(pitr patroni-callback) (merge it into every member's
    C(patroni.yml) and reload Patroni; see pitr's docs/ha.md).
  - Secrets (cipher passphrases, S3 keys) are written to the file only. In the diff, the
    returned contents and every other output they are replaced by C(<redacted>), including
    secrets of the file on disk that the spec no longer knows.
version_added: "0.1.0"
author: pitr developers
requirements:
  - the C(pitr) Python module (the pitr wheel) in the Python that runs the module
options:
  spec:
    description:
      - The cluster spec, a dict of Pigsty variables (C(pg_cluster), C(pg_data), C(pg_port),
        C(pgbackrest_method), C(pgbackrest_repo), ...). See pitr's docs/configuration.md.
    type: dict
    required: true
  what:
    description: Which file to render.
    type: str
    choices: [pgbackrest, restore, archive, cron, patroni-callback]
    default: pgbackrest
  pg_pitr:
    description:
      - For O(what=restore), Pigsty's C(pg_pitr) restore request (data directory, port,
        databases, archive mode and processes apply to the restore config).
      - Without it, the restore config of an in-place restore of the spec's own cluster.
    type: dict
  zone:
    description: IANA time zone (or C(local)) for target times in O(pg_pitr) without a zone.
    type: str
  dest:
    description:
      - Where to write the file.
      - Defaults to the spec's C(pgbackrest_config) for O(what=pgbackrest); required for the
        others. A restore plan writes its restore config to the path in its
        C(summary.restore_config) (see M(pitr.pgsql.pgsql_pitr)).
    type: path
  templates:
    description: A directory of C(<id>.hbs) templates that override the embedded ones.
    type: path
  mode:
    description: Permissions of the file; C(0600) when not given (it may hold secrets).
    type: raw
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - The secrets of O(spec) and O(pg_pitr) are found by key name before anything validates them and masked in
    every result, message and logged invocation, also when the spec is invalid.
"""

EXAMPLES = r"""
- name: Write pgbackrest.conf from the cluster's Pigsty variables
  pitr.pgsql.pgbackrest_config:
    spec:
      pg_cluster: pg-meta
      pg_data: /pg/data
      pgbackrest_method: local
      pgbackrest_repo:
        local: { path: /pg/backup, retention_full_type: count, retention_full: 2 }
    owner: postgres
    group: postgres
    mode: "0600"

- name: Write the restore config of a clone into /pg/clone on port 5434
  pitr.pgsql.pgbackrest_config:
    spec: "{{ pitr_spec }}"
    what: restore
    pg_pitr: { time: "2025-07-13 10:00:00+00", data: /pg/clone, port: 5434 }
    dest: /etc/pgbackrest/pitr-clone.conf
    owner: postgres

- name: Archive settings for postgresql.conf (include_dir)
  pitr.pgsql.pgbackrest_config:
    spec: "{{ pitr_spec }}"
    what: archive
    dest: /pg/data/conf.d/archive.conf
    owner: postgres
    mode: "0640"

- name: The Patroni callback snippet, to merge into patroni.yml
  pitr.pgsql.pgbackrest_config:
    spec: "{{ pitr_spec }}"
    what: patroni-callback
    dest: /etc/patroni/pitr-callback.yml
    owner: postgres
"""

RETURN = r"""
dest:
  description: The file written (or that would be written in check mode).
  returned: always
  type: str
  sample: /etc/pgbackrest/pgbackrest.conf
what:
  description: Which file was rendered.
  returned: always
  type: str
  sample: pgbackrest
contents:
  description: The rendered file with secrets replaced by C(<redacted>).
  returned: always
  type: str
has_secrets:
  description: Whether the file holds secrets (and so must keep a private mode).
  returned: always
  type: bool
content_changed:
  description: Whether the contents differed (owner, group and mode changes aside).
  returned: always
  type: bool
error_code:
  description:
    - The stable code of the failure - pitr's (C(invalid_setting), C(unknown_key), ...), or
      C(invalid_argument) (Ansible refused the arguments), C(missing_library),
      C(internal_error) (any other exception), C(failed) (Ansible's own helpers).
  returned: failure
  type: str
  sample: unknown_key
"""

import os

from ansible_collections.pitr.pgsql.plugins.module_utils.pitr_module import (
    SPEC_ARG,
    PitrModule,
    pitr,
)

DEFAULT_MODE = "0600"


def render(module, reveal):
    p = module.params
    if p["what"] == "restore":
        return pitr.render_restore_config(
            p["spec"],
            p["pg_pitr"],
            zone=p["zone"],
            restore_config=p["dest"],
            templates=p["templates"],
            reveal_secrets=reveal,
        )
    return pitr.render_config(p["spec"], p["what"], p["templates"], reveal_secrets=reveal)


def default_dest(module):
    p = module.params
    if p["what"] == "pgbackrest":
        return pitr.check_spec(p["spec"])["config_path"]
    module.fail_json(msg="dest is required for what=%s" % p["what"], error_code="invalid_setting")
    return None


def write_config(module):
    """Renders the file and writes it when it differs, then exits with the result."""
    p = module.params
    if p["what"] != "restore" and p["pg_pitr"] is not None:
        module.fail_json(msg="pg_pitr applies to what=restore only", error_code="invalid_setting")
    dest = p["dest"] or default_dest(module)
    p["dest"] = dest
    contents = render(module, reveal=True)
    shown = render(module, reveal=False)

    # pitr writes only where the database user cannot redirect the write; check that before
    # reading what is there (a link planted at dest must not show another file in the diff).
    owner = p["owner"] or pitr.default_owner(p["spec"], p["what"])
    pitr.check_writable(dest, owner=owner)
    old = None
    if os.path.exists(dest):
        fd = os.open(dest, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as f:
            old = f.read()
    content_changed = old != contents
    result = dict(
        dest=dest,
        what=p["what"],
        contents=shown,
        has_secrets=contents != shown,
        content_changed=content_changed,
        changed=content_changed,
    )
    diff = dict(
        before_header=dest,
        after_header=dest,
        before=pitr.redact_config(old) if old is not None else "",
        after=shown,
    )
    if content_changed and not module.check_mode:
        if not os.path.isdir(os.path.dirname(dest) or "."):
            module.fail_json(msg="directory of %s does not exist" % dest,
                             error_code="io_error", **result)
        pitr.write_file(dest, contents, mode=0o600, owner=owner)

    if p["mode"] is None:
        p["mode"] = DEFAULT_MODE
    file_args = module.load_file_common_arguments(p, path=dest)
    attr_diff = dict(before_header=dest, after_header=dest, before={}, after={})
    if os.path.exists(dest):
        result["changed"] = module.set_fs_attributes_if_different(
            file_args, result["changed"], diff=attr_diff
        )
    if module._diff:
        result["diff"] = [diff, attr_diff] if attr_diff["before"] else [diff]
    module.exit_json(**result)


def main():
    module = PitrModule(
        argument_spec=dict(
            spec=SPEC_ARG,
            what=dict(type="str", default="pgbackrest",
                      choices=["pgbackrest", "restore", "archive", "cron",
                               "patroni-callback"]),
            pg_pitr=dict(type="dict"),
            zone=dict(type="str"),
            dest=dict(type="path"),
            templates=dict(type="path"),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    module.run(write_config)


if __name__ == "__main__":
    main()
