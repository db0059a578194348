"""Which names look secret: variable keys and connection extra fields whose values are
masked in pages, API lists and logs (Airflow's list of sensitive words)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "***"
"""What a secret value is shown as."""

SENSITIVE_WORDS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "authorization",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "secret",
        "token",
        "keyfile_dict",
        "service_account",
    }
)
"""A name holding one of these words (in any case) names a secret."""


def is_sensitive_key(key: str, extra_words: Iterable[str] = ()) -> bool:
    """Whether a value named ``key`` is a secret (``db_password``, ``API_KEY``, ``token``);
    ``extra_words`` are more words that make a name secret (``[core]
    sensitive_var_conn_names``)."""
    lowered = key.lower()
    return any(word in lowered for word in SENSITIVE_WORDS) or any(
        word and word.lower() in lowered for word in extra_words
    )


def redact_sensitive_keys(value: Any, extra_words: Iterable[str] = ()) -> Any:
    """``value`` (JSON-like data) with the values of secret-named keys replaced by
    :data:`MASK`, at any depth; an empty or null secret stays as it is (it reveals
    nothing). The value itself is not changed: a copy is returned where needed."""
    words = tuple(extra_words)
    if isinstance(value, dict):
        return {
            key: (
                MASK
                if isinstance(key, str)
                and is_sensitive_key(key, words)
                and value[key] not in (None, "")
                else redact_sensitive_keys(value[key], words)
            )
            for key in value
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_sensitive_keys(item, words) for item in value)
    return value
