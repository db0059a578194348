"""Fernet encryption of secrets at rest (variable values, connection passwords and extras).

Several comma-separated keys allow rotation, as in Airflow: the first key encrypts, every
key decrypts, and ``rotate`` re-encrypts a token with the first.
"""

from __future__ import annotations

import binascii

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sluice.core.errors import StoreError

KEY_SETTING = "[core] fernet_key"


class SecretKeyError(StoreError):
    """Raised when the Fernet key is malformed, missing, or cannot decrypt a stored secret."""


def generate_key() -> str:
    """A new random Fernet key (32 url-safe base64-encoded bytes)."""
    return Fernet.generate_key().decode("ascii")


class Cipher:
    """Encrypts with the first of several Fernet keys; decrypts with any of them."""

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise SecretKeyError(f"{KEY_SETTING} is empty: it needs at least one Fernet key")
        fernets: list[Fernet] = []
        for position, part in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, binascii.Error, UnicodeEncodeError):
                raise SecretKeyError(
                    f"{KEY_SETTING}: key {position} of {len(parts)} is not a Fernet key"
                    " (32 url-safe base64-encoded bytes, as Fernet.generate_key() makes)"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    def __repr__(self) -> str:
        return f"Cipher(<{self.key_count} key(s)>)"  # never the keys themselves

    def encrypt(self, text: str) -> str:
        """``text`` encrypted with the first key, as a token."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, what: str) -> str:
        """The text of ``token``; SecretKeyError naming ``what`` if no key opens it."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise undecryptable(what) from None

    def rotate(self, token: str, what: str = "a secret") -> str:
        """``token`` re-encrypted with the first key; SecretKeyError if no key opens it."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise undecryptable(what) from None


def undecryptable(what: str) -> SecretKeyError:
    """The error for a stored secret that no configured key can decrypt."""
    return SecretKeyError(
        f"cannot read {what}: {KEY_SETTING} cannot decrypt it: the key is wrong, or the key"
        " it was encrypted with was removed; put the old key after the new one"
        " (comma-separated) to read it"
    )


def seal(cipher: Cipher | None, text: str | None, what: str) -> tuple[str | None, bool]:
    """(column text, is_encrypted) for a secret about to be stored; None stays None.

    Without a cipher, writing a secret is refused rather than stored as plain text.
    """
    if text is None:
        return None, False
    if cipher is None:
        raise SecretKeyError(
            f"no Fernet key: cannot store {what} encrypted; set {KEY_SETTING}, or let Sluice"
            " generate one in SLUICE_HOME/fernet_key"
        )
    return cipher.encrypt(text), True


def unseal(cipher: Cipher | None, text: str | None, encrypted: bool, what: str) -> str | None:
    """The plain text of a stored secret; rows stored as plain text read as they are."""
    if text is None or not encrypted:
        return text
    if cipher is None:
        raise SecretKeyError(f"cannot read {what}: it is encrypted and {KEY_SETTING} is not set")
    return cipher.decrypt(text, what)


def rekey(cipher: Cipher | None, text: str, encrypted: bool, what: str) -> tuple[str, bool]:
    """(column text, True) for a stored secret re-encrypted with the first key; plain text
    gets encrypted. SecretKeyError if no key opens it."""
    if cipher is None:
        raise SecretKeyError(f"no Fernet key: cannot re-encrypt {what}; set {KEY_SETTING}")
    return (cipher.rotate(text, what) if encrypted else cipher.encrypt(text)), True
