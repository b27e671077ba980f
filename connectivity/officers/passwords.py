"""Passwords: argon2id hashes (argon2-cffi) and the rules a new password must meet.

The rules follow the NCSC's advice (length over complexity, a deny-list, no forced expiry):
at least 12 characters, at most 256, not on the bundled list of 30,000 common passwords (nor one
of them with digits or symbols added at the end), not the account's email or name, not one
character repeated.
"""

from __future__ import annotations

import functools
import gzip
import re
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import BadRequest

MIN_LENGTH = 12
MAX_LENGTH = 256
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (argon2-cffi's default)
#: verifying against this when an account does not exist keeps the timing the same
_DUMMY_HASH = _HASHER.hash("not a password of anyone's: timing only")


class PasswordRejected(BadRequest):
    """A new password that does not meet the rules; ``reason`` is a short code for the pages."""

    def __init__(self, reason: str, message: str):
        super().__init__(message, "choose a longer passphrase, e.g. three or four unrelated words")
        self.reason = reason


@functools.cache
def common_passwords() -> frozenset[str]:
    data = (resources.files(__package__) / "common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").split())


def check_new_password(password: str, *, email: str = "", name: str = "") -> None:
    """Raise :class:`PasswordRejected` unless ``password`` meets the rules."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected("too_short", f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected("too_long", f"the password must have at most {MAX_LENGTH} characters")
    lowered = password.lower()
    stem = re.sub(r"[\d\W_]+$", "", lowered)
    listed = common_passwords()
    if lowered in listed or (stem and stem in listed and len(stem) >= 4):
        raise PasswordRejected("common", "that password is on the list of common passwords")
    if len(set(password)) == 1:
        raise PasswordRejected("common", "the password is one character repeated")
    local = email.lower().partition("@")[0]
    if (local and len(local) >= 4 and local in lowered) or (name and name.lower() in lowered
                                                             and len(name) >= 4):
        raise PasswordRejected("personal", "the password must not contain your email or name")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; constant work when there is no stored hash."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
