"""The secrets masker: secret values read in a task process never reach its log, its
rendered templates or its error messages in clear.

What is a secret: every connection password, and the value of every variable or
connection extra field whose name looks secret (``password``, ``token``, ``api_key``...,
plus ``[core] sensitive_var_conn_names``). Reading one through ``Variable.get``,
``BaseHook.get_connection``, a hook or a template registers it here; DAG code can register
its own with :func:`mask_secret`. Registered values are replaced by ``***`` wherever
:func:`redact` or :func:`mask_text` is applied: the task log's formatter and its ``print``
stream, the rendered template fields stored for the UI, and the try's error.

As in Airflow, values shorter than :data:`MIN_LENGTH` are not masked (masking ``"1"`` or
``"root"`` everywhere would hide more than it protects), and the percent-encoded form of a
secret (as it appears in a URI) is masked with it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sluice.core.secrets_names import MASK, is_sensitive_key, redact_sensitive_keys

if TYPE_CHECKING:
    from sluice.config import Settings

MIN_LENGTH = 5
"""The shortest value masked (Airflow's ``[logging] min_length_masked_secret``)."""


class SecretsMasker:
    """The secret values of one process, and the replacing of them in text and data."""

    def __init__(self) -> None:
        self.enabled = True
        self.extra_words: tuple[str, ...] = ()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self._batching = False

    def configure(self, *, enabled: bool, extra_words: Iterable[str]) -> None:
        """Set ``[core] hide_sensitive_var_conn_fields`` and ``sensitive_var_conn_names``."""
        self.enabled = enabled
        self.extra_words = tuple(w.strip().lower() for w in extra_words if w.strip())

    def is_sensitive(self, name: str) -> bool:
        """Whether a value named ``name`` is a secret."""
        return is_sensitive_key(name, self.extra_words)

    def add(self, secret: Any, name: str | None = None) -> None:
        """Register ``secret`` (text, or every text inside a dict or list); with ``name``,
        only if the name looks secret."""
        if not self.enabled or secret is None:
            return
        if name is not None and not self.is_sensitive(name):
            return
        found: set[str] = set()
        _collect(secret, found)
        self.add_texts(found)

    def add_texts(self, texts: Iterable[str]) -> None:
        """Register secret texts (the pattern is built again, unless in :meth:`batch`)."""
        with self._lock:
            new = {t for t in texts if len(t) >= MIN_LENGTH} - self._secrets
            if not new:
                return
            self._secrets |= new
            if not self._batching:
                self._pattern = re.compile(_trie_pattern(self._secrets))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Register many secrets in the block; the pattern is built once, at its end."""
        self._batching = True
        try:
            yield
        finally:
            with self._lock:
                self._batching = False
                if self._secrets:
                    self._pattern = re.compile(_trie_pattern(self._secrets))

    def mask_text(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        pattern = self._pattern
        if pattern is None or not self.enabled or not text:
            return text
        return pattern.sub(MASK, text)

    def mask_slice(self, text: str, start: int, end: int) -> str:
        """``text[start:end]`` masked as it stands inside ``text``: a secret that begins
        before ``start`` or ends after ``end`` is masked too (a piece of a log read from
        an offset, with the text around it)."""
        pattern = self._pattern
        if pattern is None or not self.enabled:
            return text[start:end]
        out: list[str] = []
        pos = start
        for match in pattern.finditer(text):
            if match.end() <= start:
                continue
            if match.start() >= end:
                break
            if match.start() > pos:
                out.append(text[pos : match.start()])
            out.append(MASK)
            pos = max(pos, match.end())
        if pos < end:
            out.append(text[pos:end])
        return "".join(out)

    def redact(self, value: Any, name: str | None = None) -> Any:
        """JSON-like ``value`` with registered secrets masked inside its texts, and the
        values of secret-named keys (or the whole value, when ``name`` looks secret)
        replaced by ``***``."""
        if not self.enabled:
            return value
        if name is not None and self.is_sensitive(name) and value not in (None, ""):
            return MASK
        return self._mask_texts(redact_sensitive_keys(value, self.extra_words))

    def _mask_texts(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, dict):
            return {k: self._mask_texts(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._mask_texts(v) for v in value)
        return value

    def clear(self) -> None:
        """Forget every registered secret (tests; a warm worker's next task)."""
        with self._lock:
            self._secrets = set()
            self._pattern = None


def _collect(value: Any, into: set[str]) -> None:
    """Every text in ``value``, line by line, with the forms it takes when written out:
    percent-encoded (in a URI), escaped in ``repr`` and in JSON (a dict or list logged)."""
    if isinstance(value, str):
        for line in value.splitlines() or [value]:
            if line.strip():
                into.add(line)
                into.add(quote(line, safe=""))
                into.add(repr(line)[1:-1])
                into.add(json.dumps(line)[1:-1])
                into.add(json.dumps(line, ensure_ascii=False)[1:-1])
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _collect(item, into)


def _trie_pattern(texts: Iterable[str]) -> str:
    """A regex matching any of ``texts``, longest first, shaped as a trie: with thousands
    of secrets, matching costs a walk down shared prefixes, not a try of each one."""
    trie: dict[str, Any] = {}
    for text in texts:
        node = trie
        for char in text:
            node = node.setdefault(char, {})
        node[""] = {}  # the end of a secret

    def pattern(node: dict[str, Any]) -> str:
        # A run of single letters is written out in a loop: recursion only where the trie
        # branches, so that a secret of thousands of characters (a token) is no deeper.
        run = ""
        while len(node) == 1 and "" not in node:
            ((char, node),) = node.items()
            run += re.escape(char)
        ends = "" in node
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items())
                    if char]  # fmt: skip
        if not branches:
            return run
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:  # a shorter secret ends here: the longer ones are tried first
            body = "(?:" + body + ")?"
        return run + body

    return pattern(trie)


MASKER = SecretsMasker()
"""The process's masker: a task process registers what it reads."""


def configure_masking(settings: Settings) -> None:
    """Apply ``[core] hide_sensitive_var_conn_fields`` and ``sensitive_var_conn_names``
    to this process's masker (a task runner does it before a try)."""
    MASKER.configure(
        enabled=settings.get_bool("core", "hide_sensitive_var_conn_fields"),
        extra_words=settings.get_str("core", "sensitive_var_conn_names").split(","),
    )


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Mask ``secret`` (a text, or the texts in a dict or list) in this task's log, rendered
    templates and errors from now on; with ``name``, only when the name looks secret.
    Airflow's ``mask_secret``."""
    MASKER.add(secret, name)


def mask_text(text: str) -> str:
    """``text`` with this process's secrets masked."""
    return MASKER.mask_text(text)


def redact(value: Any, name: str | None = None) -> Any:
    """JSON-like ``value`` with this process's secrets and secret-named fields masked."""
    return MASKER.redact(value, name)


def register_variable(key: str, value: str) -> None:
    """Mask a variable's value if its key looks secret, and the secret-named fields of a
    JSON object value whatever its key."""
    register_into(MASKER, variable=(key, value))


def register_connection_secrets(password: str | None, extra: dict[str, Any]) -> None:
    """Mask a connection's password and the secret-named fields of its extra."""
    MASKER.add(password)
    _add_sensitive_fields(MASKER, extra)


def register_into(
    masker: SecretsMasker,
    *,
    variable: tuple[str, str] | None = None,
    connection: tuple[str | None, str | None] | None = None,
) -> None:
    """Register a variable's ``(key, value)`` or a connection's ``(password, extra
    text)`` secrets with ``masker``."""
    if variable is not None:
        key, value = variable
        masker.add(value, key)
        parsed = _json_or_none(value)
        if masker.is_sensitive(key):
            masker.add(parsed)  # its values as read with deserialize_json, one by one
        _add_sensitive_fields(masker, parsed)
    if connection is not None:
        password, extra = connection
        masker.add(password)
        _add_sensitive_fields(masker, _json_or_none(extra or ""))


def _json_or_none(text: str) -> Any:
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _add_sensitive_fields(masker: SecretsMasker, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and masker.is_sensitive(key):
                masker.add(item)
            else:
                _add_sensitive_fields(masker, item)
    elif isinstance(value, list):
        for item in value:
            _add_sensitive_fields(masker, item)
