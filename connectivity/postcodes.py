"""UK postcodes: normalisation to the published form with one space (``CF10 1AA``), and whether
one someone typed is a postcode of ours."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .db import SCHEMA

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


@dataclass(frozen=True)
class Standing:
    """What our data says of a postcode someone typed: ``postcode`` is its published form (None
    when it is not a postcode at all), ``known`` whether the postcode table holds it,
    ``district_postcodes`` how many postcodes of its outward code (district) the table holds,
    ``postcodes`` how many it holds in all (the Welsh postcodes of Code-Point Open that have a
    location: the load keeps the one without coordinates as a reject)."""

    text: str
    postcode: str | None
    known: bool = False
    district: str = ""
    district_postcodes: int = 0
    postcodes: int = 0


def postcode_standing(conn, raw: str) -> Standing:
    """Whether ``raw`` is a postcode, and if it is, whether it is one of ours (the postcode table
    holds Welsh postcodes only, so a valid one it lacks is not a postcode in Wales in our data)."""
    postcode = normalise_postcode(raw)
    if postcode is None:
        return Standing(str(raw), None)
    district = postcode.split(" ")[0]
    known, in_district, total = conn.execute(
        f"""SELECT EXISTS (SELECT 1 FROM {SCHEMA}.postcode WHERE postcode = %s),
                   (SELECT count(*) FROM {SCHEMA}.postcode WHERE postcode LIKE %s),
                   (SELECT count(*) FROM {SCHEMA}.postcode)""",
        (postcode, district + " %")).fetchone()
    return Standing(str(raw), postcode, known, district, in_district, total)
