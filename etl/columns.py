"""Finding the columns a loader needs in a header that drifts between releases.

A column spec names each field with its aliases: exact names (compared case- and
space-insensitively) or regular expressions for names that carry a vintage (``lad\\d\\dcd``).
The first alias that matches wins, so list the preferred spelling first.
"""

from __future__ import annotations

import dataclasses
import re

from connectivity.errors import InputError

from .reading import normalise_header


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    aliases: tuple[str, ...]
    required: bool = True
    #: aliases written as regular expressions (full match, on the normalised header)
    patterns: tuple[str, ...] = ()


def match_columns(
    header: list[str], fields: list[Field], *, file: str, any_of: list[tuple[str, ...]] = (),
    line: int = 1,
) -> dict[str, int]:
    """Map field names to column indexes; raise :class:`InputError` listing what is missing.

    ``any_of`` lists groups of optional fields of which at least one group must be complete
    (for example eastings+northings or latitude+longitude).
    """
    normalised = [normalise_header(h) for h in header]
    found: dict[str, int] = {}
    for field in fields:
        index = None
        for alias in field.aliases:
            if normalise_header(alias) in normalised:
                index = normalised.index(normalise_header(alias))
                break
        if index is None:
            for pattern in field.patterns:
                hits = [i for i, h in enumerate(normalised) if re.fullmatch(pattern, h)]
                if hits:
                    index = hits[0]
                    break
        if index is not None:
            found[field.name] = index
    missing = [f for f in fields if f.required and f.name not in found]
    groups_ok = not any_of or any(all(n in found for n in group) for group in any_of)
    if missing or not groups_ok:
        wanted = [f"{f.name} (one of: {', '.join(f.aliases + f.patterns)})" for f in missing]
        if not groups_ok:
            by_name = {f.name: f for f in fields}
            wanted.append("one of these column sets: " + " or ".join(
                "+".join(by_name[n].aliases[0] for n in group) for group in any_of))
        raise InputError(
            "missing column(s): " + "; ".join(wanted) + ". Found: " + ", ".join(
                repr(h) for h in header),
            file=file,
            line=line,
            hint="check that this is the right kind of file, or rename the column",
        )
    return found
