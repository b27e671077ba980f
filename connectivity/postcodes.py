"""UK postcodes: normalisation to the published form with one space (``CF10 1AA``)."""

from __future__ import annotations

import re

_COMPACT = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9][A-Z]{2})$")
_SPACES = re.compile(r"[\s\u00a0]+")


def normalise_postcode(text: str | None) -> str | None:
    """``'cf101aa'``, ``' CF10  1AA '`` -> ``'CF10 1AA'``; ``None`` when it is not a postcode.

    Accepts any case, any run of spaces (including no-break spaces) and surrounding quotes.
    Checks the shape (outward code, then digit and two letters), not that the postcode exists.
    """
    if text is None:
        return None
    compact = _SPACES.sub("", str(text)).strip("'\"").upper()
    match = _COMPACT.match(compact)
    return f"{match[1]} {match[2]}" if match else None


def postcode_area(postcode: str) -> str:
    """The letters of the outward code: ``'CF10 1AA'`` -> ``'CF'``."""
    return re.match(r"[A-Z]+", postcode)[0]
