"""Salesforce-style record ids.

An id is a 3-character key prefix naming the object, 12 base-62 characters,
and a 3-character suffix that makes the id case-safe: each suffix character
says which of the 5 characters in its block of the 15-character id are upper
case. Input may be 15 or 18 characters; output is always 18.
"""

from __future__ import annotations

import secrets
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_BODY_SPACE = 62**12
_ALNUM = frozenset(BASE62)


class InvalidId(ValueError):
    """A value that is not a well-formed Salesforce id (or not of the expected object)."""


def checksum(id15: str) -> str:
    suffix = []
    for block in range(3):
        bits = 0
        for position, char in enumerate(id15[block * 5 : block * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to18(id15: str) -> str:
    return id15 + checksum(id15)


def generate(prefix: str) -> str:
    """A new random 18-character id for the object with this key prefix."""
    number = secrets.randbelow(_BODY_SPACE)
    body = []
    for _ in range(12):
        number, digit = divmod(number, 62)
        body.append(BASE62[digit])
    return to18(prefix + "".join(body))


def normalize(value: object, prefix: str | None = None) -> str:
    """Return the 18-character form of a 15- or 18-character id, or raise InvalidId.

    An 18-character id is trusted for its case by its suffix, as Salesforce
    does, so ``001abc...AAA`` typed in any case resolves to the same record.
    """
    if not isinstance(value, str):
        raise InvalidId(f"Invalid id: {value!r} is not a string.")
    text = value.strip()
    if len(text) not in (15, 18) or not set(text) <= _ALNUM:
        raise InvalidId(f"Invalid id: {text!r} must be 15 or 18 letters and digits.")
    if len(text) == 18:
        suffix = text[15:].upper()
        if not set(suffix) <= set(SUFFIX_ALPHABET):
            raise InvalidId(f"Invalid id: {text!r} has a malformed checksum suffix.")
        chars = list(text[:15])
        for block, code in enumerate(suffix):
            bits = SUFFIX_ALPHABET.index(code)
            for position in range(5):
                index = block * 5 + position
                char = chars[index]
                if bits & (1 << position):
                    if not char.isalpha():
                        raise InvalidId(f"Invalid id: {text!r} fails its checksum.")
                    chars[index] = char.upper()
                elif char.isalpha():
                    chars[index] = char.lower()
        text = to18("".join(chars))
    else:
        text = to18(text)
    if prefix is not None and text[:3] != prefix:
        raise InvalidId(f"Invalid id: {text!r} is not an id of this object (prefix {prefix}).")
    return text
