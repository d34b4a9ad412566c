# -*- coding: utf-8 -*-
# Copyright: pitr developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What the pitr.pgsql modules share: importing `pitr`, masking secrets, reporting errors.

Masking secrets
    Cipher passphrases and S3 keys sit inside the cluster spec (``spec.pgbackrest_repo.<name>``),
    in ``pg_pitr.repo`` (an inline repo) and ``pg_pitr.extra`` (``--repo1-...=`` options). The
    modules find them by key name in the raw module arguments, before anything validates them,
    and add them to Ansible's ``no_log_values``; Ansible then masks them wherever their text
    appears: in the invocation it logs (syslog or the journal), in ``invocation.module_args``
    of every result (shown with ``-vvv``), in messages, diffs and tracebacks.

    A key is secret when, lowercased, with ``-`` as ``_``, leading dashes and a ``repoN_``
    prefix dropped, it is one of pgBackRest's secure options in Pigsty's form
    (``pitr.SECRET_KEYS``: ``cipher_pass``, ``s3_key``, ``s3_key_secret``, ``s3_token``, ...),
    or looks like one (a near miss such as ``cipher_pas``, or a name with ``pass``, ``secret``
    or ``token`` in it that is not a spec or request key). Everything under such a key is
    masked, and the value after such a key in text (``"cipher_pass": "..."``,
    ``--repo1-cipher-pass=...``, a spec given as a JSON or ``k=v`` string). Input that cannot be
    searched by key - a spec or ``pg_pitr`` that is not a dict, a plain value for an option the
    module does not have - is masked whole: every string and number in it of 4 characters or
    more (shorter ones would mask those letters in every message). This holds from the moment
    Ansible has read the arguments, so also when Ansible's own argument validation fails the
    task inside ``AnsibleModule.__init__``, and when the spec is invalid (a typo, a weak
    passphrase, a wrong type). Values found by key name are masked whatever their length.

Why no parameter is ``no_log``
    Ansible's convention is ``no_log`` on a parameter that carries only a secret (a password
    option). None of these modules has one: every secret comes inside ``spec`` or ``pg_pitr``,
    and marking those ``no_log`` would hide every path, port and name of the cluster in results
    and logs, which is what a user reads to see what a task did. Masking by key name keeps those
    readable and hides the secrets.

Errors
    Every failure carries an ``error_code``: a ``pitr.PitrError``'s own ``code``,
    ``internal_error`` for any other exception (with its message and, when Ansible asks for
    tracebacks, the traceback, both masked), ``invalid_argument`` when Ansible refuses the
    module arguments, ``missing_library`` without the ``pitr`` module, and ``failed`` for a
    failure Ansible's own helpers report (setting a file's owner, for instance).
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.validation import check_type_dict

try:
    import pitr
except ImportError:
    pitr = None  # type: ignore[assignment]
    PITR_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    PITR_IMPORT_ERROR = None


# Parameters every module has.
SPEC_ARG = dict(type="dict", required=True)

# Secure option keys (Pigsty's form) and the keys a spec or request may have; without pitr
# nothing is known, and every dict is masked whole.
SECRET_KEYS: frozenset[str] = frozenset(pitr.SECRET_KEYS) if pitr else frozenset()
KNOWN_KEYS: frozenset[str] = (
    frozenset(pitr.SPEC_KEYS) | frozenset(pitr.REQUEST_KEYS) if pitr else frozenset()
)
# Input masked whole is masked but for its shorter strings and numbers: a one-letter value
# (`storage_verify_tls: n`) would mask that letter in every message.
WHOLE_SHORTEST = 4
# Parts of a name that make it look secret.
SECRET_WORDS = ("pass", "secret", "token")
# A key and its value in text: `key=value`, `"key": "value"`, `--repo1-key=value`.
KEY_VALUE = re.compile(
    r"""["']?(?P<key>[A-Za-z0-9_.-]+)["']?\s*[:=]\s*"""
    r"""(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s,;}\]]+))"""
)
REPO_PREFIX = re.compile(r"^repo\d*_")


def normalise_key(key: str) -> str:
    """``--Repo2-S3-Key-Secret`` -> ``s3_key_secret``: lowercase, ``_`` for ``-``, no leading
    dashes, no ``repoN_`` prefix."""
    return REPO_PREFIX.sub("", key.strip().lstrip("-").lower().replace("-", "_"))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def is_secret_key(key: object) -> bool:
    """Whether the value under ``key`` is (or may be meant as) a secure pgBackRest option."""
    if not isinstance(key, str):
        return False
    name = normalise_key(key)
    if name in SECRET_KEYS:
        return True
    if key in KNOWN_KEYS or name in KNOWN_KEYS:
        return False
    if any(word in name for word in SECRET_WORDS):
        return True
    # A near miss of a secure option (no other option of pgBackRest is this close to one).
    return any(edit_distance(name, secret) <= 2 for secret in SECRET_KEYS)


def leaves(value: Any, shortest: int = 1) -> Iterator[str]:
    """Every string and number in ``value`` (bools and None aside) of at least ``shortest``
    characters, as text."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, Mapping):
        for item in value.values():
            yield from leaves(item, shortest)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from leaves(item, shortest)
    elif len(str(value)) >= shortest:
        yield str(value)


def secrets_in_text(text: str) -> Iterator[str]:
    """The secrets in text that holds keys and values: JSON, Ansible's ``k=v`` form, a
    ``--repo1-cipher-pass=...`` option, or a fragment of any of them."""
    stripped = text.strip()
    parsed: Any = None
    if stripped.startswith(("{", "[")):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
    elif "=" in stripped:
        try:
            parsed = check_type_dict(stripped)
        except (TypeError, ValueError):
            parsed = None
    if isinstance(parsed, (Mapping, list)):
        yield from secrets_in(parsed)
    for match in KEY_VALUE.finditer(text):
        if is_secret_key(match.group("key")):
            value = next(v for v in match.group("dq", "sq", "bare") if v is not None)
            yield value
            if match.group("dq") is not None:
                try:
                    yield json.loads('"%s"' % value)
                except ValueError:
                    pass


def secrets_in(value: Any) -> Iterator[str]:
    """The secrets in ``value``, found by key name: everything under a secret key, and secret
    keys' values in text."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if is_secret_key(key):
                yield from leaves(item)
            else:
                yield from secrets_in(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from secrets_in(item)
    elif isinstance(value, str):
        yield from secrets_in_text(value)


def option_names(argument_spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The module's options by name and by alias."""
    names: dict[str, dict[str, Any]] = {}
    for name, option in argument_spec.items():
        names[name] = option
        for alias in option.get("aliases") or ():
            names[alias] = option
    return names


def param_secrets(params: Mapping[str, Any], argument_spec: Mapping[str, Any]) -> set[str]:
    """The values to mask in module arguments, raw or validated: the secrets found by key name
    in each, and every string and number of an argument that is masked whole."""
    options = option_names(argument_spec)
    found: set[str] = set()
    for name, value in params.items():
        if not isinstance(name, str) or name.startswith("_ansible_"):
            continue
        option = options.get(name)
        if option is None and is_secret_key(name):
            found.update(leaves(value))
        elif masked_whole(value, option):
            found.update(leaves(value, WHOLE_SHORTEST))
        found.update(secrets_in(value))
    return found


def masked_whole(value: Any, option: Optional[Mapping[str, Any]]) -> bool:
    """Whether a module argument is masked whole, not only by key name: a dict or list option
    given something else (a spec as a string), a plain value for an option the module does not
    have, and every dict and list when pitr, and so the list of secret keys, is missing."""
    container = isinstance(value, (Mapping, list))
    if pitr is None:
        return container or option is None
    if option is None:
        return not container
    expected = {"dict": Mapping, "list": list}.get(option.get("type") or "")
    return expected is not None and not isinstance(value, expected)


def masks(values: Iterable[str]) -> set[str]:
    """What to hand Ansible for ``values``: each one, and the escaped forms it takes inside a
    Python repr (the logged invocation) and a JSON string; empty strings dropped."""
    out: set[str] = set()
    for value in values:
        if not value.strip():
            continue
        out.add(value)
        out.add(repr(value)[1:-1])
        out.add(json.dumps(value)[1:-1])
    return out


def traceback_text(err: BaseException) -> str:
    """The formatted traceback of ``err``."""
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


def internal_error_message(err: BaseException, module: str) -> str:
    """The message of an exception that is not pitr's."""
    return "internal error in %s: %s: %s" % (module, type(err).__name__, err)


class PitrModule(AnsibleModule):  # type: ignore[misc]  # ansible-core is untyped here
    """An AnsibleModule that imports pitr, masks the secrets of its arguments in all output
    and reports every failure with an ``error_code``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Where construction is: Ansible's argument validation fails between "arguments"
        # and "started".
        self._pitr_phase = "loading"
        self._pitr_error_code: Optional[str] = None
        try:
            super().__init__(*args, **kwargs)
        except Exception as err:  # reported as internal_error, masked
            if not hasattr(self, "params"):
                raise
            self.fail_internal(err)
        self._pitr_phase = "running"
        if pitr is None:
            self.fail_json(
                msg=missing_required_lib(
                    "pitr",
                    reason="the pitr.pgsql modules run on the pitr Python module; install its "
                    "wheel and set ansible_python_interpreter to that Python",
                ),
                exception=PITR_IMPORT_ERROR,
                error_code="missing_library",
            )
        self._register_secrets()

    # --- masking -----------------------------------------------------------------------------

    def _register_secrets(self) -> None:
        """Adds the secrets of the module arguments to ``no_log_values``; never raises (an
        argument it cannot search is masked whole)."""
        params = getattr(self, "params", None)
        if not isinstance(params, Mapping):
            return
        try:
            found = param_secrets(params, self.argument_spec)
        except Exception:  # fail closed: mask every argument whole
            found = set(leaves({k: v for k, v in params.items()
                                if not str(k).startswith("_ansible_")}, WHOLE_SHORTEST))
        found.update(self._validated_secrets(params))
        self.no_log_values.update(masks(found))

    @staticmethod
    def _validated_secrets(params: Mapping[str, Any]) -> list[str]:
        """pitr's own list of the secrets of the spec (and of each of ``specs``), when it
        validates."""
        specs = params.get("specs")
        given = [params.get("spec"), *(specs if isinstance(specs, list) else [])]
        if pitr is None:
            return []
        request = params.get("pg_pitr")
        values: list[str] = []
        for spec in given:
            if not isinstance(spec, Mapping):
                continue
            try:
                values += pitr.secret_values(
                    spec, request if isinstance(request, Mapping) and request else None)
            except Exception:  # an invalid spec: masked by key name alone
                continue
        return values

    def _load_params(self) -> None:
        # The raw arguments, before Ansible validates (and may refuse) them.
        super()._load_params()
        self._pitr_phase = "arguments"
        self._register_secrets()

    def _log_invocation(self) -> None:
        # Logged (syslog/journal) from the constructor once the arguments are valid.
        self._pitr_phase = "started"
        self._register_secrets()
        super()._log_invocation()

    def _return_formatted(self, kwargs: dict[str, Any]) -> None:
        # Every exit_json and fail_json ends here: mask what the arguments hold now.
        self._register_secrets()
        self._pitr_error_code = kwargs.get("error_code")
        super()._return_formatted(kwargs)

    def _record_module_result(self, o: dict[str, Any]) -> None:
        # After masking: the error code is one of a fixed set, never a secret; a value masked
        # whole may have masked a part of it.
        if self._pitr_error_code is not None:
            o["error_code"] = self._pitr_error_code
        super()._record_module_result(o)

    # --- failures ----------------------------------------------------------------------------

    def fail_json(self, msg: str, **kwargs: Any) -> NoReturn:
        """Ansible's ``fail_json`` with an ``error_code`` always set, and an exception given as
        an object turned into its traceback text (Ansible masks text, not exception objects)."""
        default = "invalid_argument" if self._pitr_phase == "arguments" else "failed"
        kwargs.setdefault("error_code", default)
        exception = kwargs.get("exception")
        if isinstance(exception, BaseException):
            kwargs["exception"] = traceback_text(exception)
        super().fail_json(msg, **kwargs)
        raise AssertionError("fail_json returned")  # pragma: no cover

    def fail_pitr(self, err: Exception, **result: Any) -> NoReturn:
        """Fails the task with pitr's message and its stable ``error_code``."""
        result.setdefault("changed", False)
        self.fail_json(
            msg=str(err),
            error_code=getattr(err, "code", "failed"),
            failed_step=getattr(err, "step", None),
            rolled_back=getattr(err, "rolled_back", None),
            **result,
        )

    def fail_internal(self, err: BaseException, **result: Any) -> NoReturn:
        """Fails the task for an exception that is not pitr's: ``internal_error``, with the
        exception's message and traceback (masked like everything else)."""
        result.setdefault("changed", False)
        self.fail_json(
            msg=internal_error_message(err, self._name),
            error_code="internal_error",
            exception=traceback_text(err),
            **result,
        )

    def run(self, body: Callable[[PitrModule], object]) -> NoReturn:
        """Runs the module's work, which ends in ``exit_json`` or ``fail_json``; any exception
        it raises fails the task with an ``error_code``."""
        try:
            body(self)
        except Exception as err:  # every failure gets an error_code
            if pitr is not None and isinstance(err, pitr.PitrError):
                self.fail_pitr(err)
            self.fail_internal(err)
        self.fail_internal(RuntimeError("the module ended without a result"))
