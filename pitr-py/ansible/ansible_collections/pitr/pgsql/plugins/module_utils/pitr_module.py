# -*- coding: utf-8 -*-
# Copyright: pitr developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What the pitr.pgsql modules share: importing `pitr`, masking secrets, reporting errors.

Secrets (cipher passphrases, S3 keys) sit inside the cluster spec, a free-form dict, so no
parameter can be marked ``no_log`` as a whole without masking every path and name in it. Instead
``PitrModule`` asks pitr which values of the spec (and of the ``pg_pitr`` request's inline repo)
are secret and adds exactly those to Ansible's ``no_log_values``: Ansible then masks them in the
invocation it logs and in everything the module returns, diffs included.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import pitr
except ImportError:
    pitr = None
    PITR_IMPORT_ERROR = traceback.format_exc()
else:
    PITR_IMPORT_ERROR = None


# Parameters every module has.
SPEC_ARG = dict(type="dict", required=True)


class PitrModule(AnsibleModule):
    """An AnsibleModule that imports pitr and masks the spec's secrets in all output."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if pitr is None:
            self.fail_json(
                msg=missing_required_lib(
                    "pitr",
                    reason="the pitr.pgsql modules run on the pitr Python module; install its "
                    "wheel and set ansible_python_interpreter to that Python",
                ),
                exception=PITR_IMPORT_ERROR,
            )
        self._register_secrets()

    def _register_secrets(self):
        if pitr is None:
            return
        spec = self.params.get("spec")
        request = self.params.get("pg_pitr")
        if not isinstance(spec, dict):
            return
        try:
            self.no_log_values.update(pitr.secret_values(spec, request or None))
        except (pitr.PitrError, TypeError):
            # An invalid spec holds no secret pitr would use; its error is reported where the
            # spec is used.
            pass

    def _log_invocation(self):
        # AnsibleModule logs its invocation (syslog/journal) from its constructor: mask the
        # secrets before that happens.
        self._register_secrets()
        super()._log_invocation()

    def fail_pitr(self, err, **result):
        """Fails the task with pitr's message and its stable ``error_code``."""
        result.setdefault("changed", False)
        self.fail_json(
            msg=str(err),
            error_code=getattr(err, "code", "failed"),
            failed_step=getattr(err, "step", None),
            rolled_back=getattr(err, "rolled_back", None),
            **result,
        )
