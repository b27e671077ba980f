"""Why a premises is (not) eligible: reason codes and their sentences in English and Welsh.

Classification stores short codes; sentences are made from these templates when answering (API)
or exporting, in SQL with ``format()`` or in Python with ``%``: the templates use only ``%s`` and
``%%``, which both understand. Each template's arguments are listed once in ``ARGS``.
"""

from __future__ import annotations

from typing import Any

#: evidence source -> its name in each language
SOURCES = {
    "correction": ("accepted correction", "cywiriad a dderbyniwyd"),
    "ofcom-api": ("Ofcom premises prediction", "rhagfynegiad safle Ofcom"),
    "bduk": ("BDUK release", "data BDUK"),
    "oa": ("Ofcom output-area coverage", "darpariaeth ardal allbwn Ofcom"),
    "postcode": ("Ofcom postcode coverage", "darpariaeth cod post Ofcom"),
    "speed-raster": ("modelled speed surface", "arwyneb cyflymder wedi'i fodelu"),
    "none": ("no evidence", "dim tystiolaeth"),
}

#: argument expressions (SQL over a premises_class row; the same names are keys in Python rows)
ARGS = {
    "down": "coalesce(round(best_down::numeric, 1)::text, '?')",
    "up": "coalesce(round(best_up::numeric, 1)::text, '?')",
    "source": "source_name",
    "release": "coalesce(evidence_release, '?')",
    "pct": "round((probability_below * 100)::numeric)::text",
    "contract": "coalesce(contract_name, 'commercial plan')",
    "date": "coalesce(final_coverage_date, '?')",
}

# (scheme, code) -> (arguments, English, Welsh)
TEMPLATES: dict[tuple[str, str], tuple[tuple[str, ...], str, str]] = {
    ("abc", "below_30"): (
        ("down", "source", "release"),
        "Eligible for Access Broadband Cymru: best download %s Mbit/s, below 30 Mbit/s (%s, %s). "
        "Assumes no ABC funding in the last 48 months.",
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: cyflymder lawrlwytho gorau %s Mbit/s, o dan "
        "30 Mbit/s (%s, %s). Yn cymryd nad oes cyllid Allwedd Band Eang yn ystod y 48 mis diwethaf."),
    ("abc", "below_30_area"): (
        ("source", "release"),
        "Eligible for Access Broadband Cymru: the postcode's coverage figures leave no premises "
        "other than this one short of 30 Mbit/s (%s, %s). Assumes no ABC funding in the last 48 "
        "months.",
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl ffigurau darpariaeth y cod post, ni all y "
        "safle hwn gael 30 Mbit/s (%s, %s). Yn cymryd nad oes cyllid Allwedd Band Eang yn ystod y "
        "48 mis diwethaf."),
    ("abc", "possibly_below_30"): (
        ("pct", "source", "release"),
        "Possibly eligible for Access Broadband Cymru: a %s%% chance that it cannot receive "
        "30 Mbit/s, from the postcode's coverage figures (%s, %s). Check this premises.",
        "Efallai'n gymwys ar gyfer Allwedd Band Eang Cymru: %s%% o siawns na all gael 30 Mbit/s, yn "
        "ôl ffigurau darpariaeth y cod post (%s, %s). Gwiriwch y safle hwn."),
    ("abc", "possibly_below_30_modelled"): (
        ("down", "source", "release"),
        "Possibly eligible for Access Broadband Cymru: modelled download %s Mbit/s (%s, %s). "
        "Check this premises.",
        "Efallai'n gymwys ar gyfer Allwedd Band Eang Cymru: cyflymder lawrlwytho wedi'i fodelu "
        "%s Mbit/s (%s, %s). Gwiriwch y safle hwn."),
    ("abc", "not_below_30"): (
        ("down", "source", "release"),
        "Not eligible for Access Broadband Cymru: %s Mbit/s is available (%s, %s).",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: mae %s Mbit/s ar gael (%s, %s)."),
    ("abc", "not_below_30_area"): (
        ("source", "release"),
        "Not eligible for Access Broadband Cymru: by the postcode's coverage figures this premises "
        "can receive 30 Mbit/s (%s, %s).",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl ffigurau darpariaeth y cod post, gall "
        "y safle hwn gael 30 Mbit/s (%s, %s)."),
    ("abc", "gigabit_available"): (
        ("source", "release"),
        "Not eligible for Access Broadband Cymru: gigabit-capable broadband is available (%s, %s).",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: mae band eang gigabit ar gael (%s, %s)."),
    ("lbf", "target"): (
        ("source", "release"),
        "Local Broadband Fund target: below 30 Mbit/s and in no planned build (%s, %s).",
        "Targed y Gronfa Band Eang Lleol: o dan 30 Mbit/s a heb fod mewn cynllun adeiladu (%s, %s)."),
    ("lbf", "possible_target"): (
        ("pct", "source", "release"),
        "Possible Local Broadband Fund target: %s%% chance of being below 30 Mbit/s, in no planned "
        "build (%s, %s).",
        "Targed posibl y Gronfa Band Eang Lleol: %s%% o siawns o fod o dan 30 Mbit/s, heb fod mewn "
        "cynllun adeiladu (%s, %s)."),
    ("lbf", "in_planned_build"): (
        ("contract", "date"),
        "Not a Local Broadband Fund target: in a planned build (%s, final coverage %s).",
        "Ddim yn darged y Gronfa Band Eang Lleol: mewn cynllun adeiladu (%s, darpariaeth derfynol %s)."),
    ("lbf", "not_below_30"): (
        ("source", "release"),
        "Not a Local Broadband Fund target: 30 Mbit/s or more is available (%s, %s).",
        "Ddim yn darged y Gronfa Band Eang Lleol: mae 30 Mbit/s neu fwy ar gael (%s, %s)."),
    ("uso", "below_uso"): (
        ("down", "up", "source"),
        "May request a Universal Service Obligation connection: below 10 Mbit/s down or 1 Mbit/s up "
        "(%s down, %s up; %s).",
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: o dan 10 Mbit/s i lawr "
        "neu 1 Mbit/s i fyny (%s i lawr, %s i fyny; %s)."),
    ("uso", "below_uso_area"): (
        ("source",),
        "May request a Universal Service Obligation connection: by the postcode's coverage figures "
        "this premises has no decent broadband (%s).",
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: yn ôl ffigurau "
        "darpariaeth y cod post, nid oes gan y safle hwn fand eang digonol (%s)."),
    ("uso", "possibly_below_uso"): (
        ("source",),
        "Possibly below decent broadband (10 Mbit/s down, 1 Mbit/s up), from the postcode's "
        "coverage figures (%s). Check this premises.",
        "Efallai o dan fand eang digonol (10 Mbit/s i lawr, 1 Mbit/s i fyny), yn ôl ffigurau "
        "darpariaeth y cod post (%s). Gwiriwch y safle hwn."),
    ("uso", "decent_available"): (
        ("source",),
        "Decent broadband (10 Mbit/s down, 1 Mbit/s up) is available (%s).",
        "Mae band eang digonol (10 Mbit/s i lawr, 1 Mbit/s i fyny) ar gael (%s)."),
    ("voucher", "suspended_in_wales"): (
        (),
        "Gigabit vouchers are suspended in Wales.",
        "Mae talebau gigabit wedi'u hatal yng Nghymru."),
    ("voucher", "below_100_no_plan"): (
        ("down",),
        "May qualify for a gigabit voucher: %s Mbit/s, below 100 Mbit/s, and no gigabit plan.",
        "Gallai fod yn gymwys am daleb gigabit: %s Mbit/s, o dan 100 Mbit/s, a dim cynllun gigabit."),
    ("voucher", "not_eligible"): (
        (),
        "No gigabit voucher: 100 Mbit/s or more is available, or a gigabit build is planned.",
        "Dim taleb gigabit: mae 100 Mbit/s neu fwy ar gael, neu mae adeiladu gigabit wedi'i gynllunio."),
}
for _scheme in ("abc", "lbf", "uso", "voucher"):
    TEMPLATES[(_scheme, "no_evidence")] = (
        (), "Unknown: no broadband evidence for this premises yet.",
        "Anhysbys: dim tystiolaeth band eang ar gyfer y safle hwn eto.")

SCHEMES = ("abc", "lbf", "uso", "voucher")


def reason_sql(scheme: str, lang: str) -> str:
    """A SQL expression giving the sentence for ``<scheme>_reason`` of a premises_class row, for
    a query run with parameters (its ``%`` are doubled for psycopg).

    Needs a ``source_name`` column in scope (see :func:`source_name_sql`)."""
    index = 1 if lang == "en" else 2
    cases = []
    for (s, code), template in TEMPLATES.items():
        if s != scheme:
            continue
        text = template[index].replace("'", "''").replace("%", "%%")
        args = "".join(f", {ARGS[a]}" for a in template[0])
        cases.append(f"WHEN '{code}' THEN format('{text}'{args})")
    return f"CASE {scheme}_reason {' '.join(cases)} END"


def source_name_sql(lang: str) -> str:
    index = 0 if lang == "en" else 1
    whens = " ".join(f"WHEN '{k}' THEN '{v[index].replace(chr(39), chr(39) * 2)}'"
                     for k, v in SOURCES.items())
    return f"CASE evidence {whens} ELSE evidence END"


def render(scheme: str, code: str, lang: str, row: dict[str, Any]) -> str:
    """The sentence for one premises (``row`` as returned by the API queries)."""
    args, en, cy = TEMPLATES[(scheme, code)]
    source = SOURCES.get(row.get("evidence") or "none", (row.get("evidence"),) * 2)
    values = {
        "down": "?" if row.get("best_down") is None else f"{row['best_down']:g}",
        "up": "?" if row.get("best_up") is None else f"{row['best_up']:g}",
        "source": source[0 if lang == "en" else 1],
        "release": row.get("evidence_release") or "?",
        "pct": "?" if row.get("probability_below") is None else f"{round(row['probability_below'] * 100)}",
        "contract": row.get("contract_name") or "commercial plan",
        "date": row.get("final_coverage_date") or "?",
    }
    return (en if lang == "en" else cy) % tuple(values[a] for a in args)
