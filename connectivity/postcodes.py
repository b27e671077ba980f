"""UK postcodes: normalisation to the published form with one space (``CF10 1AA``)."""

from __future__ import annotations

import re

_COMPACT = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9][A-Z]{2})$")
#: What SQL ``gapmap.normalise_postcode`` removes: ``[[:space:]]`` as the C.UTF-8 locale (the one
#: the project's cluster is created with) has it, the no-break space U+00A0, and quotes. Python's
#: ``\s`` is wider (U+001C-U+001F, U+0085, U+2007, U+202F), so the set is spelt out.
_REMOVED = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f"
                      "\u3000\"']+")


def _upper(text: str) -> str:
    """Upper case one character at a time, as SQL ``upper()`` does (``'ß'.upper()`` is two)."""
    if text.isascii():
        return text.upper()
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def normalise_postcode(text: str | None) -> str | None:
    """``'cf101aa'``, ``' CF10  1AA '`` -> ``'CF10 1AA'``; ``None`` when it is not a postcode.

    Accepts any case, spaces anywhere (including no-break spaces) and quotes, exactly as the SQL
    function ``gapmap.normalise_postcode`` does (a property test keeps them equal). Checks the
    shape (outward code, then digit and two letters), not that the postcode exists.
    """
    if text is None:
        return None
    compact = _upper(_REMOVED.sub("", str(text)))
    match = _COMPACT.match(compact)
    return f"{match[1]} {match[2]}" if match else None


def postcode_area(postcode: str) -> str:
    """The letters of the outward code: ``'CF10 1AA'`` -> ``'CF'``."""
    return re.match(r"[A-Z]+", postcode)[0]
