"""Which names look secret: variable keys and connection extra fields whose values are
masked in pages, API lists and logs (Airflow's list of sensitive words)."""

from __future__ import annotations

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


def is_sensitive_key(key: str) -> bool:
    """Whether a value named ``key`` is a secret (``db_password``, ``API_KEY``, ``token``)."""
    lowered = key.lower()
    return any(word in lowered for word in SENSITIVE_WORDS)
