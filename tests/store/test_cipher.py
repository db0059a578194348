"""Cipher: Fernet encryption of secrets at rest, several keys for rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from sluice.core.errors import StoreError
from sluice.store.cipher import Cipher, SecretKeyError, generate_key, rekey, seal, unseal


def test_encrypt_then_decrypt() -> None:
    cipher = Cipher(generate_key())
    token = cipher.encrypt("s3cret é")
    assert token != "s3cret é"
    assert "s3cret" not in token
    assert cipher.decrypt(token, "variable 'x'") == "s3cret é"


def test_generated_key_is_a_fernet_key() -> None:
    key = generate_key()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert generate_key() != key


def test_wrong_key_names_what_and_says_how_to_fix() -> None:
    token = Cipher(generate_key()).encrypt("s3cret")
    with pytest.raises(SecretKeyError) as caught:
        Cipher(generate_key()).decrypt(token, "variable 'api_token'")
    message = str(caught.value)
    assert "variable 'api_token'" in message
    assert "[core] fernet_key cannot decrypt it" in message
    assert "put the old key after the new one (comma-separated)" in message
    assert "s3cret" not in message
    assert isinstance(caught.value, StoreError)


def test_first_key_encrypts_every_key_decrypts() -> None:
    old, new = generate_key(), generate_key()
    old_token = Cipher(old).encrypt("a")
    both = Cipher(f"{new}, {old}")
    assert both.decrypt(old_token, "x") == "a"
    assert Cipher(new).decrypt(both.encrypt("b"), "x") == "b"
    with pytest.raises(SecretKeyError):
        Cipher(old).decrypt(both.encrypt("b"), "x")


def test_rotate_re_encrypts_with_the_first_key() -> None:
    old, new = generate_key(), generate_key()
    rotated = Cipher(f"{new},{old}").rotate(Cipher(old).encrypt("a"))
    assert Cipher(new).decrypt(rotated, "x") == "a"
    with pytest.raises(SecretKeyError, match="cannot read connection 'c'"):
        Cipher(new).rotate(Cipher(old).encrypt("a"), "connection 'c'")


@pytest.mark.parametrize("keys", ["not-a-key", "abc,", generate_key() + ",short", "é" * 44])
def test_bad_key_string_names_the_setting(keys: str) -> None:
    with pytest.raises(SecretKeyError, match=r"\[core\] fernet_key: key \d of \d is not a Fernet"):
        Cipher(keys)


@pytest.mark.parametrize("keys", ["", " , "])
def test_no_key_at_all(keys: str) -> None:
    with pytest.raises(SecretKeyError, match=r"\[core\] fernet_key is empty"):
        Cipher(keys)


def test_repr_never_shows_the_keys() -> None:
    key = generate_key()
    assert key not in repr(Cipher(key))


def test_seal_and_unseal() -> None:
    cipher = Cipher(generate_key())
    assert seal(cipher, None, "x") == (None, False)
    text, encrypted = seal(cipher, "v", "x")
    assert encrypted and text != "v"
    assert unseal(cipher, text, encrypted, "x") == "v"
    assert unseal(None, "plain", False, "x") == "plain"  # rows from before encryption
    with pytest.raises(SecretKeyError, match="no Fernet key: cannot store variable 'k'"):
        seal(None, "v", "variable 'k'")
    with pytest.raises(SecretKeyError, match="it is encrypted and"):
        unseal(None, text, True, "x")
    assert rekey(cipher, "plain", False, "x")[1] is True
    with pytest.raises(SecretKeyError, match="no Fernet key"):
        rekey(None, "plain", False, "x")
