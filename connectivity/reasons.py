"""Why a premises is (not) eligible: the sentence for each reason code, in English and Welsh.

Classification stores short codes (connectivity.vocab.REASONS); sentences are made from these
templates when answering (API) or exporting, in SQL with ``format()`` or in Python with ``%``.
A template has two kinds of blanks:

- ``{name}``: a value of the rules the run was made with (a threshold, a window, a grant),
  filled in first, the same way for both paths (:func:`template`);
- ``%s``: a value of the premises (its speed, evidence, release), filled by ``format()`` in SQL
  or ``%`` in Python. Templates use only ``%s`` and ``%%``, which both understand; each
  template's premises values are listed once in ``ARGS``.
"""

from __future__ import annotations

import decimal
import functools
from typing import Any

import numpy

from .rules import Rules
from .vocab import EVIDENCE, REASONS, SCHEMES, SPEEDTEST_ATTRIBUTION

#: argument expressions (SQL over a premises_class row; the same names are keys in Python rows)
ARGS = {
    "down": "coalesce(round(best_down::numeric, 1)::text, '?')",
    "up": "coalesce(round(best_up::numeric, 1)::text, '?')",
    "source": "source_name",
    "release": "coalesce(evidence_release, '?')",
    "pct": "round((probability_below * 100)::numeric)::text",
    "contract": "coalesce(contract_name, 'commercial plan')",
    "date": "coalesce(final_coverage_date, '?')",
    "st_down": "coalesce(round(speedtest_down::numeric, 1)::text, '?')",
    "st_tests": "coalesce(speedtest_tests::text, '?')",
    "st_release": "coalesce(speedtest_release, '?')",
    "oa": "coalesce(oa_code, '?')",
    "oa_premises": "coalesce(oa_premises::text, '?')",
    "oa_unable": "coalesce(oa_unable_30::text, '?')",
    "oa_unable_decent": "coalesce(oa_unable_decent::text, '?')",
    "fwa": "coalesce(round(fwa_decent_pct::numeric)::text, '?')",
}

#: the speed test figures, as every sentence that uses them names them (licence included)
_TILE = ("speed tests in its tile average %s Mbit/s download over %s tests (Speedtest\u00ae by "
         "Ookla\u00ae, %s, non-commercial)",
         "mae profion cyflymder yn ei deilsen yn %s Mbit/s lawrlwytho ar gyfartaledd dros %s "
         "prawf (Speedtest\u00ae gan Ookla\u00ae, %s, anfasnachol)")
_ST = ("st_down", "st_tests", "st_release")
#: the columns of a premises_class row the sentences read beyond the ones every run has had:
#: tables made before speed tests, output-area counts and fixed wireless were evidence lack
#: them (old runs, old list snapshots). The name is older than the output-area and fixed
#: wireless columns; it covers them all (target list snapshots keep each: migration 0013).
SPEEDTEST_COLUMNS = {"speedtest_down": "real", "speedtest_tests": "integer",
                     "speedtest_release": "text", "oa_code": "text", "oa_premises": "integer",
                     "oa_unable_30": "integer", "oa_unable_decent": "integer",
                     "fwa_decent_pct": "real",
                     # not read by the sentences, but exported beside them (outputs.py)
                     "speedtest_up": "real", "speedtest_moved": "text", "address_kind": "text"}
REASON_COLUMNS = SPEEDTEST_COLUMNS


def missing_columns_sql(conn, table: str) -> str:
    """``, NULL::real AS speedtest_down, ...`` for each of :data:`SPEEDTEST_COLUMNS` that
    ``table`` (a name in the gapmap schema) lacks, for a ``SELECT *`` the sentences read from:
    a run classified before speed tests (or output-area counts, or fixed wireless figures)
    were evidence still exports and snapshots."""
    have = {name for (name,) in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped", (f"gapmap.{table}",))}
    return "".join(f", NULL::{kind} AS {name}" for name, kind in SPEEDTEST_COLUMNS.items()
                   if name not in have)

#: words the LBF sentences have only while the rules exclude planned builds: name -> (English,
#: Welsh); "" when they do not
CLAUSES = {
    "lbf_no_build_and": (" and in no planned build", " a heb fod mewn cynllun adeiladu"),
    "lbf_no_build_comma": (", in no planned build", ", heb fod mewn cynllun adeiladu"),
}

_GRANT = (" A grant of up to {abc_grant_gbp} may apply.",
          " Gallai grant o hyd at {abc_grant_gbp} fod ar gael.")
_COST_CAP = (" The provider pays up to {uso_cost_cap_gbp} of the cost of connecting it.",
             " Mae'r darparwr yn talu hyd at {uso_cost_cap_gbp} o'r gost o'i gysylltu.")
#: Ofcom's output-area counts, as every sentence that uses them names them
_OA = ("%s of %s premises in output area %s cannot get",
       "ni all %s o %s safle yn ardal gynnyrch %s gael")
_OA_ARGS = ("oa_unable", "oa_premises", "oa")
#: fixed wireless: Ofcom's postcode share, and what it means for a USO request
_FWA = (" Ofcom says %s%% of premises in the postcode can get decent broadband by fixed "
        "wireless, which can meet a USO request.",
        " Yn ôl Ofcom, gall %s%% o safleoedd y cod post gael band eang digonol drwy ddiwifr "
        "sefydlog, a all ateb cais dan y Rhwymedigaeth.")

# (scheme, code) -> (premises values, English, Welsh)
TEMPLATES: dict[tuple[str, str], tuple[tuple[str, ...], str, str]] = {
    ("abc", "below_30"): (
        ("down", "source", "release"),
        "Eligible for Access Broadband Cymru: best download %s Mbit/s, below {abc_max_down} "
        "Mbit/s (%s, %s). Assumes no ABC funding in the last {abc_funding_window_months} months."
        + _GRANT[0],
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: cyflymder lawrlwytho gorau %s Mbit/s, o dan "
        "{abc_max_down} Mbit/s (%s, %s). Yn cymryd nad oes cyllid Allwedd Band Eang yn ystod y "
        "{abc_funding_window_months} mis diwethaf." + _GRANT[1]),
    ("abc", "below_30_area"): (
        ("source", "release"),
        "Eligible for Access Broadband Cymru: the postcode's coverage figures leave no premises "
        "other than this one short of {superfast_down} Mbit/s (%s, %s). Assumes no ABC funding "
        "in the last {abc_funding_window_months} months." + _GRANT[0],
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl ffigurau darpariaeth y cod post, ni all y "
        "safle hwn gael {superfast_down} Mbit/s (%s, %s). Yn cymryd nad oes cyllid Allwedd Band "
        "Eang yn ystod y {abc_funding_window_months} mis diwethaf." + _GRANT[1]),
    ("abc", "possibly_below_30"): (
        ("pct", "source", "release"),
        "Possibly eligible for Access Broadband Cymru: a %s%% chance that it cannot receive "
        "{superfast_down} Mbit/s, from the postcode's coverage figures (%s, %s). Check this "
        "premises.",
        "Efallai'n gymwys ar gyfer Allwedd Band Eang Cymru: %s%% o siawns na all gael "
        "{superfast_down} Mbit/s, yn ôl ffigurau darpariaeth y cod post (%s, %s). Gwiriwch y "
        "safle hwn."),
    ("abc", "possibly_below_30_modelled"): (
        ("down", "source", "release"),
        "Possibly eligible for Access Broadband Cymru: modelled download %s Mbit/s (%s, %s). "
        "Check this premises.",
        "Efallai'n gymwys ar gyfer Allwedd Band Eang Cymru: cyflymder lawrlwytho wedi'i fodelu "
        "%s Mbit/s (%s, %s). Gwiriwch y safle hwn."),
    ("abc", "below_30_speedtests"): (
        ("source", "release", *_ST),
        "Eligible for Access Broadband Cymru: the prediction leaves it possibly unable to "
        "receive {superfast_down} Mbit/s (%s, %s), and " + _TILE[0] + ", below "
        "{speedtests_below_down} Mbit/s. Assumes no ABC funding in the last "
        "{abc_funding_window_months} months." + _GRANT[0],
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl y rhagfynegiad efallai na all gael "
        "{superfast_down} Mbit/s (%s, %s), ac " + _TILE[1] + ", o dan "
        "{speedtests_below_down} Mbit/s. Yn cymryd nad oes cyllid Allwedd Band Eang yn ystod y "
        "{abc_funding_window_months} mis diwethaf." + _GRANT[1]),
    ("abc", "not_below_30_speedtests"): (
        ("source", "release", *_ST),
        "Not eligible for Access Broadband Cymru: the prediction leaves it possibly unable to "
        "receive {superfast_down} Mbit/s (%s, %s), but " + _TILE[0] + ", at least "
        "{speedtests_above_down} Mbit/s.",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl y rhagfynegiad efallai na all "
        "gael {superfast_down} Mbit/s (%s, %s), ond " + _TILE[1] + ", o leiaf "
        "{speedtests_above_down} Mbit/s."),
    ("abc", "below_30_oa"): (
        (*_OA_ARGS, "source", "release"),
        "Eligible for Access Broadband Cymru: below {superfast_down} Mbit/s by output-area "
        "counts: " + _OA[0] + " {superfast_down} Mbit/s (%s, %s). Assumes no ABC funding in the "
        "last {abc_funding_window_months} months." + _GRANT[0],
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: o dan {superfast_down} Mbit/s yn ôl "
        "cyfrifon yr ardal gynnyrch: " + _OA[1] + " {superfast_down} Mbit/s (%s, %s). Yn cymryd "
        "nad oes cyllid Allwedd Band Eang yn ystod y {abc_funding_window_months} mis "
        "diwethaf." + _GRANT[1]),
    ("abc", "possibly_below_30_oa"): (
        ("pct", *_OA_ARGS, "source", "release"),
        "Possibly eligible for Access Broadband Cymru: a %s%% chance that it cannot receive "
        "{superfast_down} Mbit/s by output-area counts: " + _OA[0] + " {superfast_down} Mbit/s "
        "(%s, %s). Check this premises.",
        "Efallai'n gymwys ar gyfer Allwedd Band Eang Cymru: %s%% o siawns na all gael "
        "{superfast_down} Mbit/s yn ôl cyfrifon yr ardal gynnyrch: " + _OA[1] + " "
        "{superfast_down} Mbit/s (%s, %s). Gwiriwch y safle hwn."),
    ("abc", "not_below_30_oa"): (
        (*_OA_ARGS, "source", "release"),
        "Not eligible for Access Broadband Cymru: by output-area counts this premises can "
        "receive {superfast_down} Mbit/s: " + _OA[0] + " it, each known from premises-level "
        "evidence (%s, %s).",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl cyfrifon yr ardal gynnyrch gall "
        "y safle hwn gael {superfast_down} Mbit/s: " + _OA[1] + " hynny, pob un yn hysbys o "
        "dystiolaeth safle (%s, %s)."),
    ("abc", "line_not_settled"): (
        ("source", "release"),
        "Possibly eligible for Access Broadband Cymru: the evidence says whether this premises "
        "can receive {superfast_down} Mbit/s, not whether it can receive {abc_max_down} Mbit/s "
        "(%s, %s). Check this premises.",
        "Efallai'n gymwys ar gyfer Allwedd Band Eang Cymru: mae'r dystiolaeth yn dweud a all y "
        "safle hwn gael {superfast_down} Mbit/s, nid a all gael {abc_max_down} Mbit/s (%s, %s). "
        "Gwiriwch y safle hwn."),
    ("abc", "not_below_30"): (
        ("down", "source", "release"),
        "Not eligible for Access Broadband Cymru: %s Mbit/s is available (%s, %s).",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: mae %s Mbit/s ar gael (%s, %s)."),
    ("abc", "not_below_30_area"): (
        ("source", "release"),
        "Not eligible for Access Broadband Cymru: by the postcode's coverage figures this premises "
        "can receive {superfast_down} Mbit/s (%s, %s).",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl ffigurau darpariaeth y cod post, gall "
        "y safle hwn gael {superfast_down} Mbit/s (%s, %s)."),
    ("abc", "gigabit_available"): (
        ("source", "release"),
        "Not eligible for Access Broadband Cymru: gigabit-capable broadband is available (%s, %s).",
        "Ddim yn gymwys ar gyfer Allwedd Band Eang Cymru: mae band eang gigabit ar gael (%s, %s)."),
    ("lbf", "target"): (
        ("source", "release"),
        "Local Broadband Fund target: below {lbf_max_down} Mbit/s{lbf_no_build_and} (%s, %s).",
        "Targed y Gronfa Band Eang Lleol: o dan {lbf_max_down} Mbit/s{lbf_no_build_and} (%s, %s)."),
    ("lbf", "target_speedtests"): (
        ("source", "release", *_ST),
        "Local Broadband Fund target: possibly below {superfast_down} Mbit/s by the prediction "
        "(%s, %s), and " + _TILE[0] + ", below {speedtests_below_down} "
        "Mbit/s{lbf_no_build_comma}.",
        "Targed y Gronfa Band Eang Lleol: efallai o dan {superfast_down} Mbit/s yn ôl y "
        "rhagfynegiad (%s, %s), ac " + _TILE[1] + ", o dan {speedtests_below_down} "
        "Mbit/s{lbf_no_build_comma}."),
    ("lbf", "not_below_30_speedtests"): (
        ("source", "release", *_ST),
        "Not a Local Broadband Fund target: possibly below {superfast_down} Mbit/s by the "
        "prediction (%s, %s), but " + _TILE[0] + ", at least {speedtests_above_down} Mbit/s.",
        "Ddim yn darged y Gronfa Band Eang Lleol: efallai o dan {superfast_down} Mbit/s yn ôl y "
        "rhagfynegiad (%s, %s), ond " + _TILE[1] + ", o leiaf {speedtests_above_down} Mbit/s."),
    ("lbf", "possible_target"): (
        ("pct", "source", "release"),
        "Possible Local Broadband Fund target: %s%% chance of being below {superfast_down} "
        "Mbit/s{lbf_no_build_comma} (%s, %s).",
        "Targed posibl y Gronfa Band Eang Lleol: %s%% o siawns o fod o dan {superfast_down} "
        "Mbit/s{lbf_no_build_comma} (%s, %s)."),
    ("lbf", "line_not_settled"): (
        ("source", "release"),
        "Possible Local Broadband Fund target: the evidence says whether this premises can "
        "receive {superfast_down} Mbit/s, not whether it can receive {lbf_max_down} "
        "Mbit/s{lbf_no_build_comma} (%s, %s).",
        "Targed posibl y Gronfa Band Eang Lleol: mae'r dystiolaeth yn dweud a all y safle hwn "
        "gael {superfast_down} Mbit/s, nid a all gael {lbf_max_down} Mbit/s{lbf_no_build_comma} "
        "(%s, %s)."),
    ("lbf", "in_planned_build"): (
        ("contract", "date"),
        "Not a Local Broadband Fund target: in a planned build (%s, final coverage %s).",
        "Ddim yn darged y Gronfa Band Eang Lleol: mewn cynllun adeiladu (%s, darpariaeth derfynol %s)."),
    ("lbf", "not_below_30"): (
        ("source", "release"),
        "Not a Local Broadband Fund target: {lbf_max_down} Mbit/s or more is available (%s, %s).",
        "Ddim yn darged y Gronfa Band Eang Lleol: mae {lbf_max_down} Mbit/s neu fwy ar gael "
        "(%s, %s)."),
    ("uso", "below_uso"): (
        ("down", "up", "source"),
        "May request a Universal Service Obligation connection: below {uso_down} Mbit/s down or "
        "{uso_up} Mbit/s up (%s down, %s up; %s)." + _COST_CAP[0],
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: o dan {uso_down} "
        "Mbit/s i lawr neu {uso_up} Mbit/s i fyny (%s i lawr, %s i fyny; %s)." + _COST_CAP[1]),
    ("uso", "below_uso_area"): (
        ("source",),
        "May request a Universal Service Obligation connection: by the postcode's coverage figures "
        "this premises has no decent broadband (%s)." + _COST_CAP[0],
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: yn ôl ffigurau "
        "darpariaeth y cod post, nid oes gan y safle hwn fand eang digonol (%s)." + _COST_CAP[1]),
    ("uso", "below_uso_fwa"): (
        ("down", "up", "source", "fwa"),
        "May request a Universal Service Obligation connection: below decent broadband by fixed "
        "line, below {uso_down} Mbit/s down or {uso_up} Mbit/s up (%s down, %s up; %s)."
        + _FWA[0] + _COST_CAP[0],
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: o dan fand eang "
        "digonol dros linell sefydlog, o dan {uso_down} Mbit/s i lawr neu {uso_up} Mbit/s i fyny "
        "(%s i lawr, %s i fyny; %s)." + _FWA[1] + _COST_CAP[1]),
    ("uso", "below_uso_oa"): (
        ("oa_unable_decent", "oa_premises", "oa", "source"),
        "May request a Universal Service Obligation connection: by output-area counts this "
        "premises has no decent broadband: " + _OA[0] + " it (%s)." + _COST_CAP[0],
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: yn ôl cyfrifon yr "
        "ardal gynnyrch nid oes gan y safle hwn fand eang digonol: " + _OA[1] + " hynny (%s)."
        + _COST_CAP[1]),
    ("uso", "possibly_below_uso_oa"): (
        ("oa_unable_decent", "oa_premises", "oa", "source"),
        "Possibly below decent broadband ({uso_down} Mbit/s down, {uso_up} Mbit/s up), by "
        "output-area counts: " + _OA[0] + " it (%s). Check this premises.",
        "Efallai o dan fand eang digonol ({uso_down} Mbit/s i lawr, {uso_up} Mbit/s i fyny), yn "
        "ôl cyfrifon yr ardal gynnyrch: " + _OA[1] + " hynny (%s). Gwiriwch y safle hwn."),
    ("uso", "possibly_below_uso_fwa"): (
        ("source", "fwa"),
        "Possibly below decent broadband ({uso_down} Mbit/s down, {uso_up} Mbit/s up), from the "
        "postcode's coverage figures (%s)." + _FWA[0] + " Check this premises.",
        "Efallai o dan fand eang digonol ({uso_down} Mbit/s i lawr, {uso_up} Mbit/s i fyny), yn "
        "ôl ffigurau darpariaeth y cod post (%s)." + _FWA[1] + " Gwiriwch y safle hwn."),
    ("uso", "possibly_below_uso"): (
        ("source",),
        "Possibly below decent broadband ({uso_down} Mbit/s down, {uso_up} Mbit/s up), from the "
        "postcode's coverage figures (%s). Check this premises.",
        "Efallai o dan fand eang digonol ({uso_down} Mbit/s i lawr, {uso_up} Mbit/s i fyny), yn ôl "
        "ffigurau darpariaeth y cod post (%s). Gwiriwch y safle hwn."),
    ("uso", "decent_available"): (
        ("source",),
        "Decent broadband ({uso_down} Mbit/s down, {uso_up} Mbit/s up) is available (%s).",
        "Mae band eang digonol ({uso_down} Mbit/s i lawr, {uso_up} Mbit/s i fyny) ar gael (%s)."),
    ("voucher", "suspended_in_wales"): (
        (),
        "Gigabit vouchers are suspended in Wales.",
        "Mae talebau gigabit wedi'u hatal yng Nghymru."),
    ("voucher", "below_100_no_plan"): (
        ("down",),
        "May qualify for a gigabit voucher: %s Mbit/s, below {voucher_max_down} Mbit/s, and no "
        "gigabit plan.",
        "Gallai fod yn gymwys am daleb gigabit: %s Mbit/s, o dan {voucher_max_down} Mbit/s, a dim "
        "cynllun gigabit."),
    ("voucher", "not_eligible"): (
        (),
        "No gigabit voucher: {voucher_max_down} Mbit/s or more is available, or a gigabit build "
        "is planned.",
        "Dim taleb gigabit: mae {voucher_max_down} Mbit/s neu fwy ar gael, neu mae adeiladu gigabit "
        "wedi'i gynllunio."),
}
for _scheme in SCHEMES.codes:
    TEMPLATES[(_scheme, "no_evidence")] = (
        (), "Unknown: no broadband evidence for this premises yet.",
        "Anhysbys: dim tystiolaeth band eang ar gyfer y safle hwn eto.")


def _mbit(value: float) -> str:
    return f"{value:g}"


def _gbp(value: int) -> str:
    return f"£{value:,}"


def rule_values(rules: Rules, lang: str) -> dict[str, str]:
    """The values of the rules as the sentences show them, by template blank name."""
    t, s = rules.thresholds, rules.schemes
    index = 1 if lang == "cy" else 0
    values = {
        "superfast_down": _mbit(t.superfast_down),
        "uso_down": _mbit(t.uso_down), "uso_up": _mbit(t.uso_up),
        "abc_max_down": _mbit(s.abc.max_down),
        "abc_funding_window_months": str(s.abc.funding_window_months),
        "abc_grant_gbp": _gbp(s.abc.grant_gbp),
        "lbf_max_down": _mbit(s.lbf.max_down),
        "uso_cost_cap_gbp": _gbp(s.uso.cost_cap_gbp),
        "voucher_max_down": _mbit(s.voucher.max_down),
        "speedtests_below_down": _mbit(rules.speedtests.below_down),
        "speedtests_above_down": _mbit(rules.speedtests.above_down),
    }
    for name, words in CLAUSES.items():
        values[name] = words[index] if s.lbf.exclude_planned_builds else ""
    return values


@functools.lru_cache(maxsize=1024)
def template(scheme: str, code: str, lang: str, rules: Rules) -> tuple[tuple[str, ...], str]:
    """The premises values a sentence takes, and its text with the rules' values filled in
    (kept: a page of premises asks for the same few thousands of times)."""
    args, en, cy = TEMPLATES[(scheme, code)]
    values = {k: v.replace("%", "%%") for k, v in rule_values(rules, lang).items()}
    return args, (cy if lang == "cy" else en).format_map(values)


def reason_sql(scheme: str, lang: str, rules: Rules) -> str:
    """A SQL expression giving the sentence for ``<scheme>_reason`` of a premises_class row made
    with ``rules``, for a query run with parameters (its ``%`` are doubled for psycopg).

    Needs a ``source_name`` column in scope (see :func:`source_name_sql`)."""
    cases = []
    for code in REASONS[scheme].codes:
        args, text = template(scheme, code, lang, rules)
        text = text.replace("'", "''").replace("%", "%%")
        cases.append(f"WHEN '{code}' THEN format('{text}'{''.join(f', {ARGS[a]}' for a in args)})")
    return f"CASE {scheme}_reason {' '.join(cases)} END"


def source_name_sql(lang: str) -> str:
    whens = " ".join(f"WHEN '{t.code}' THEN '{t.name(lang).replace(chr(39), chr(39) * 2)}'"
                     for t in EVIDENCE)
    return f"CASE evidence {whens} ELSE evidence END"


def render(scheme: str, code: str, lang: str, row: dict[str, Any], rules: Rules) -> str:
    """The sentence for one premises (``row`` as returned by the API queries) of a run made with
    ``rules``."""
    args, text = template(scheme, code, lang, rules)
    evidence = row.get("evidence") or "none"
    values = {
        "down": "?" if row.get("best_down") is None else f"{row['best_down']:g}",
        "up": "?" if row.get("best_up") is None else f"{row['best_up']:g}",
        "source": EVIDENCE.name(evidence, lang),
        "release": row.get("evidence_release") or "?",
        "pct": "?" if row.get("probability_below") is None else f"{round(row['probability_below'] * 100)}",
        "contract": row.get("contract_name") or "commercial plan",
        "date": row.get("final_coverage_date") or "?",
        "st_down": _one_place(row.get("speedtest_down")),
        "st_tests": "?" if row.get("speedtest_tests") is None else str(row["speedtest_tests"]),
        "st_release": row.get("speedtest_release") or "?",
        "oa": row.get("oa_code") or "?",
        "oa_premises": _count(row.get("oa_premises")),
        "oa_unable": _count(row.get("oa_unable_30")),
        "oa_unable_decent": _count(row.get("oa_unable_decent")),
        "fwa": "?" if row.get("fwa_decent_pct") is None else _whole(row["fwa_decent_pct"]),
    }
    return text % tuple(values[a] for a in args)


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _whole(value: float) -> str:
    """A real as SQL's ``round(x::numeric)::text`` spells it (half away from zero)."""
    exact = decimal.Decimal(str(numpy.float32(value)))
    return str(exact.quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP))


def _one_place(value: float | None) -> str:
    """A real as SQL's ``round(x::numeric, 1)::text`` spells it (``4.0``, ``4.3`` for 4.25)."""
    if value is None:
        return "?"
    # PostgreSQL turns a real into numeric by its shortest spelling as a float4
    exact = decimal.Decimal(str(numpy.float32(value)))
    return str(exact.quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP))


def speedtest_figures(row: dict[str, Any], lang: str) -> str | None:
    """The speed test figures shown beside a premises' prediction, with the licence that must go
    wherever they are shown or exported; None when the premises has no tile shown.
    ``row`` has the premises_class columns ``speedtest_*``."""
    if row.get("speedtest_down") is None:
        return None
    latency = row.get("speedtest_latency_ms")
    values = (_one_place(row["speedtest_down"]), _one_place(row.get("speedtest_up")),
              "?" if latency is None else f"{latency:g}", row.get("speedtest_tests"),
              row.get("speedtest_devices"), row.get("speedtest_release") or "?")
    if lang == "cy":
        text = ("Profion cyflymder yn nheilsen y safle hwn (%s): %s Mbit/s i lawr a %s Mbit/s i "
                "fyny ar gyfartaledd, hwyrni %s ms, %s prawf o %s dyfais.")
        order = (values[5], *values[:5])
    else:
        text = ("Speed tests in this premises' tile (%s): on average %s Mbit/s down and %s Mbit/s "
                "up, latency %s ms, %s tests from %s devices.")
        order = (values[5], *values[:5])
    return f"{text % order} {SPEEDTEST_ATTRIBUTION.name(lang)}."
