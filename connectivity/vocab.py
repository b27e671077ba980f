"""The shared vocabulary: every code the product stores, filters on or answers, with its name in
English and Welsh. Written once here; classification, the API, OGC, exports and the web pages
all take their codes and names from this module.

Each vocabulary is an ordered, immutable set of terms::

    >>> STATUSES.codes
    ('below', 'possibly_below', 'above', 'unknown')
    >>> STATUSES.name("below", "cy")
    'O dan 30 Mbit/s'
    >>> "bduk" in EVIDENCE
    True

The names are what people read (the map's legend and popups, the postcode page); the Welsh ones
are those the Welsh pages have always shown. Sentences that explain a decision (reasons) are in
:mod:`connectivity.reasons`, which takes its thresholds from the rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import BadRequest

LANGS = ("en", "cy")


@dataclass(frozen=True)
class Term:
    """One code with its English and Welsh names."""

    code: str
    en: str
    cy: str

    def name(self, lang: str) -> str:
        return self.cy if lang == "cy" else self.en


@dataclass(frozen=True)
class Evidence(Term):
    """An evidence source a premises' status can rest on, and the release source it comes from
    (``gapmap.release.source``; None: no release, as for ``none``)."""

    release_source: str | None = None


@dataclass(frozen=True)
class Band(Term):
    """An Ofcom download band: its statistics column (``gapmap.area_stats``) and upper bound in
    Mbit/s (None: no upper bound)."""

    column: str = ""
    below: float | None = None


T = TypeVar("T", bound=Term)


@dataclass(frozen=True)
class Vocabulary(Generic[T]):
    """An ordered set of terms of one kind (``kind`` names it in messages)."""

    kind: str
    terms: tuple[T, ...]

    def __post_init__(self) -> None:
        codes = [t.code for t in self.terms]
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate {self.kind} codes in {codes}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.terms)

    def __iter__(self) -> Iterator[T]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, code: object) -> bool:
        return any(t.code == code for t in self.terms)

    def __getitem__(self, code: str) -> T:
        for term in self.terms:
            if term.code == code:
                return term
        raise KeyError(code)

    def name(self, code: str, lang: str) -> str:
        """The name of ``code`` in ``lang``; an unknown code is its own name."""
        return self[code].name(lang) if code in self else code

    def names(self, lang: str) -> dict[str, str]:
        """Every code and its name in ``lang``, in order."""
        return {t.code: t.name(lang) for t in self.terms}

    def check(self, code: str) -> str:
        """``code`` if it is one of these, else a BadRequest listing them."""
        if code not in self:
            raise BadRequest(f"unknown {self.kind} {code!r}; expected one of "
                             + ", ".join(self.codes))
        return code


#: a premises' status against the superfast line (premises_class.status)
STATUSES: Vocabulary[Term] = Vocabulary("status", (
    Term("below", "Below 30 Mbit/s", "O dan 30 Mbit/s"),
    Term("possibly_below", "Possibly below 30 Mbit/s", "Efallai o dan 30 Mbit/s"),
    Term("above", "30 Mbit/s or more", "30 Mbit/s neu fwy"),
    Term("unknown", "No evidence yet", "Dim tystiolaeth eto"),
))

#: the evidence a status rests on, strongest first (premises_class.evidence; the rules'
#: ``[evidence] order`` picks from these, all but ``none``)
EVIDENCE: Vocabulary[Evidence] = Vocabulary("evidence source", (
    Evidence("correction", "accepted correction", "cywiriad a dderbyniwyd", "correction"),
    Evidence("ofcom-api", "Ofcom premises prediction", "rhagfynegiad safle Ofcom", "ofcom-api"),
    Evidence("bduk", "BDUK release", "data BDUK", "bduk"),
    Evidence("oa", "Ofcom output-area coverage", "darpariaeth ardal allbwn Ofcom", "ofcom-coverage"),
    Evidence("postcode", "Ofcom postcode coverage", "darpariaeth cod post Ofcom", "ofcom-coverage"),
    Evidence("speed-raster", "modelled speed surface", "arwyneb cyflymder wedi'i fodelu",
             "speed-raster"),
    Evidence("none", "no evidence", "dim tystiolaeth", None),
))

#: the sources releases are loaded as (gapmap.release.source) that classification reads
RELEASE_SOURCES = tuple(dict.fromkeys(t.release_source for t in EVIDENCE if t.release_source))

#: supporting evidence: crowd-sourced speed tests on zoom-16 tiles (Ookla open data, release
#: source ``ookla``). Not in EVIDENCE: a status never rests on them alone; they can only move a
#: "possibly below" premises to below or above (the rules' ``[speedtests]``, docs/classification.md)
SPEEDTESTS = Evidence("speedtests", "Speedtest by Ookla speed tests",
                      "profion cyflymder Speedtest gan Ookla", "ookla")
#: the release sources a classification run reads: those a status rests on, then the speed tests
CLASSIFIED_SOURCES = (*RELEASE_SOURCES, SPEEDTESTS.release_source)
#: what must be said wherever the speed test figures are shown or exported (CC BY-NC-SA 4.0)
SPEEDTEST_ATTRIBUTION = Term(
    "speedtests",
    "Speedtest\u00ae by Ookla\u00ae Global Fixed and Mobile Network Performance Maps, CC BY-NC-SA 4.0: "
    "non-commercial use only",
    "Speedtest\u00ae gan Ookla\u00ae Global Fixed and Mobile Network Performance Maps, CC BY-NC-SA "
    "4.0: at ddefnydd anfasnachol yn unig")
#: what the speed tests did to a premises' status (premises_class.speedtest_moved; NULL: nothing)
SPEEDTEST_MOVES = Vocabulary("speed test move", (
    Term("below", "Moved to below 30 Mbit/s by speed tests",
         "Wedi'i symud i o dan 30 Mbit/s gan brofion cyflymder"),
    Term("above", "Moved to 30 Mbit/s or more by speed tests",
         "Wedi'i symud i 30 Mbit/s neu fwy gan brofion cyflymder"),
))

#: Ofcom's download bands (premises_class.band), in Mbit/s: Ofcom's own reporting bands, fixed
#: by Ofcom and not by the rules
BANDS: Vocabulary[Band] = Vocabulary("band", (
    Band("0<2", "Under 2 Mbit/s", "O dan 2 Mbit/s", "b_0_2", 2.0),
    Band("2<5", "2 to 5 Mbit/s", "2 i 5 Mbit/s", "b_2_5", 5.0),
    Band("5<10", "5 to 10 Mbit/s", "5 i 10 Mbit/s", "b_5_10", 10.0),
    Band("10<30", "10 to 30 Mbit/s", "10 i 30 Mbit/s", "b_10_30", 30.0),
    Band("30<300", "30 to 300 Mbit/s", "30 i 300 Mbit/s", "b_30_300", 300.0),
    Band(">=300", "300 Mbit/s or more", "300 Mbit/s neu fwy", "b_300", None),
))

#: the schemes eligibility is decided for (premises_class.eligible_<scheme>)
SCHEMES = Vocabulary("scheme", (
    Term("abc", "Access Broadband Cymru", "Allwedd Band Eang Cymru"),
    Term("lbf", "Local Broadband Fund", "Cronfa Band Eang Lleol"),
    Term("uso", "Universal Service Obligation", "Rhwymedigaeth Gwasanaeth Cyffredinol"),
    Term("voucher", "Gigabit voucher", "Taleb gigabit"),
))

#: what a premises' eligibility for a scheme is
ELIGIBILITY = Vocabulary("eligibility", (
    Term("eligible", "Eligible", "Yn gymwys"),
    Term("possibly", "Possibly eligible", "Yn gymwys o bosibl"),
    Term("not_eligible", "Not eligible", "Ddim yn gymwys"),
    Term("unknown", "Not known", "Anhysbys"),
))

#: boundary levels (gapmap.area.level), largest first
AREA_LEVELS = Vocabulary("area level", (
    Term("country", "Country", "Gwlad"),
    Term("la", "Local authority", "Awdurdod lleol"),
    Term("ward", "Ward", "Ward"),
    Term("lsoa", "LSOA", "ACEHI"),
    Term("msoa", "MSOA", "ACEHG"),
    Term("constituency", "Constituency", "Etholaeth"),
    Term("oa", "Output area", "Ardal gynnyrch"),
))

#: the levels statistics are asked for by (``connectivity stats --level``): the boundary levels
#: people compare, postcodes and hexagons
STATISTICS_LEVELS = Vocabulary("level", (
    *(AREA_LEVELS[c] for c in ("la", "ward", "lsoa", "msoa", "constituency")),
    Term("postcode", "Postcode", "Cod post"),
    Term("hex", "Hexagon", "Hecsagon"),
))

_NO_EVIDENCE = Term("no_evidence", "No evidence", "Dim tystiolaeth")
_NOT_SETTLED = Term("line_not_settled", "The evidence does not settle the scheme's line",
                    "Nid yw'r dystiolaeth yn setlo llinell y cynllun")
#: why a premises is (not) eligible, per scheme (premises_class.<scheme>_reason); the sentences
#: are in connectivity.reasons
REASONS: dict[str, Vocabulary[Term]] = {
    "abc": Vocabulary("abc reason", (
        Term("below_30", "Below the line (premises evidence)",
             "O dan y llinell (tystiolaeth safle)"),
        Term("below_30_oa", "Below the line (output-area counts)",
             "O dan y llinell (cyfrifon ardal gynnyrch)"),
        Term("below_30_area", "Below the line (postcode evidence)",
             "O dan y llinell (tystiolaeth cod post)"),
        Term("possibly_below_30_oa", "Possibly below the line (output-area counts)",
             "Efallai o dan y llinell (cyfrifon ardal gynnyrch)"),
        Term("possibly_below_30", "Possibly below the line (postcode evidence)",
             "Efallai o dan y llinell (tystiolaeth cod post)"),
        Term("possibly_below_30_modelled", "Possibly below the line (modelled)",
             "Efallai o dan y llinell (wedi'i fodelu)"),
        Term("below_30_speedtests", "Below the line (speed tests beside the prediction)",
             "O dan y llinell (profion cyflymder ochr yn ochr â'r rhagfynegiad)"),
        _NOT_SETTLED,
        Term("not_below_30", "Not below the line (premises evidence)",
             "Ddim o dan y llinell (tystiolaeth safle)"),
        Term("not_below_30_oa", "Not below the line (output-area counts)",
             "Ddim o dan y llinell (cyfrifon ardal gynnyrch)"),
        Term("not_below_30_area", "Not below the line (postcode evidence)",
             "Ddim o dan y llinell (tystiolaeth cod post)"),
        Term("not_below_30_speedtests", "Not below the line (speed tests beside the prediction)",
             "Ddim o dan y llinell (profion cyflymder ochr yn ochr â'r rhagfynegiad)"),
        Term("gigabit_available", "Gigabit available", "Gigabit ar gael"),
        _NO_EVIDENCE,
    )),
    "lbf": Vocabulary("lbf reason", (
        Term("target", "Target", "Targed"),
        Term("target_speedtests", "Target (speed tests beside the prediction)",
             "Targed (profion cyflymder ochr yn ochr â'r rhagfynegiad)"),
        Term("possible_target", "Possible target", "Targed posibl"),
        _NOT_SETTLED,
        Term("in_planned_build", "In a planned build", "Mewn cynllun adeiladu"),
        Term("not_below_30", "Not below the line", "Ddim o dan y llinell"),
        Term("not_below_30_speedtests", "Not below the line (speed tests beside the prediction)",
             "Ddim o dan y llinell (profion cyflymder ochr yn ochr â'r rhagfynegiad)"),
        _NO_EVIDENCE,
    )),
    "uso": Vocabulary("uso reason", (
        Term("below_uso", "Below decent broadband (premises evidence)",
             "O dan fand eang digonol (tystiolaeth safle)"),
        Term("below_uso_fwa", "Below decent broadband by fixed line (fixed wireless nearby)",
             "O dan fand eang digonol dros linell sefydlog (diwifr sefydlog gerllaw)"),
        Term("below_uso_oa", "Below decent broadband (output-area counts)",
             "O dan fand eang digonol (cyfrifon ardal gynnyrch)"),
        Term("below_uso_area", "Below decent broadband (postcode evidence)",
             "O dan fand eang digonol (tystiolaeth cod post)"),
        Term("possibly_below_uso_oa", "Possibly below decent broadband (output-area counts)",
             "Efallai o dan fand eang digonol (cyfrifon ardal gynnyrch)"),
        Term("possibly_below_uso_fwa", "Possibly below decent broadband (fixed wireless nearby)",
             "Efallai o dan fand eang digonol (diwifr sefydlog gerllaw)"),
        Term("possibly_below_uso", "Possibly below decent broadband",
             "Efallai o dan fand eang digonol"),
        Term("decent_available", "Decent broadband available", "Band eang digonol ar gael"),
        _NO_EVIDENCE,
    )),
    "voucher": Vocabulary("voucher reason", (
        Term("suspended_in_wales", "Suspended in Wales", "Wedi'i atal yng Nghymru"),
        Term("below_100_no_plan", "Below the line, no gigabit plan",
             "O dan y llinell, dim cynllun gigabit"),
        Term("not_eligible", "Not eligible", "Ddim yn gymwys"),
        _NO_EVIDENCE,
    )),
}

#: BDUK's subsidy control classes of a premises (premises_class.gigabit_class holds the published
#: value; the list filters use these codes): only White may be subsidised
@dataclass(frozen=True)
class GigabitClass(Term):
    published: str = ""


GIGABIT_CLASSES: Vocabulary[GigabitClass] = Vocabulary("BDUK gigabit class", (
    GigabitClass("white", "Gigabit White: no gigabit network now or planned",
                 "Gigabit Gwyn: dim rhwydwaith gigabit nawr nac wedi'i gynllunio", "Gigabit White"),
    GigabitClass("grey_black", "Gigabit Grey or Black: one network or more",
                 "Gigabit Llwyd neu Ddu: un rhwydwaith neu fwy", "Gigabit Grey/Black"),
    GigabitClass("under_review", "Gigabit Under Review: a supplier's plan not yet evidenced",
                 "Gigabit Dan Adolygiad: cynllun cyflenwr heb ei dystiolaethu eto",
                 "Gigabit Under Review"),
))

#: what a premises is by its AddressBase classification code (gapmap.address.kind; migration
#: 0012, docs/etl.md "AddressBase"): not_premises records are left out of every count and target
ADDRESS_KINDS: Vocabulary[Term] = Vocabulary("address kind", (
    Term("residential", "Residential", "Preswyl"),
    Term("business", "Business", "Busnes"),
    Term("dual_use", "Dual use", "Defnydd deuol"),
    Term("not_premises", "Not premises", "Nid safle"),
))


# ------------------------------------------------------------------------------- challenges
#: what a challenge says is wrong (gapmap.challenge.kind); docs/challenges.md
CHALLENGE_KINDS: Vocabulary[Term] = Vocabulary("challenge kind", (
    Term("availability", "The service shown is not available",
         "Nid yw'r gwasanaeth a ddangosir ar gael"),
    Term("speed", "Measured speeds are below those shown",
         "Mae'r cyflymderau a fesurwyd yn is na'r rhai a ddangosir"),
    Term("missing_premises", "A premises is missing from the map",
         "Mae safle ar goll o'r map"),
    Term("not_premises", "Not a premises (a street record, a substation)",
         "Nid safle mohono (cofnod stryd, is-orsaf)"),
    Term("wrong_location", "The premises is in the wrong place", "Mae'r safle yn y lle anghywir"),
    Term("planned_build", "The planned build has slipped or been dropped",
         "Mae'r gwaith adeiladu arfaethedig wedi llithro neu wedi'i ollwng"),
))

#: why a service shown is not available (availability challenges; after the FCC's codes)
AVAILABILITY_REASONS: Vocabulary[Term] = Vocabulary("availability reason", (
    Term("refused", "The provider refused the order", "Gwrthododd y darparwr yr archeb"),
    Term("no_install", "No installation within 10 working days",
         "Dim gosod o fewn 10 diwrnod gwaith"),
    Term("excess_charge", "A charge above the standard installation fee",
         "Tâl uwch na'r ffi gosod safonol"),
    Term("not_offered", "The technology or speed is not offered here",
         "Nid yw'r dechnoleg na'r cyflymder yn cael eu cynnig yma"),
))

#: where a challenge came from
CHALLENGE_ORIGINS: Vocabulary[Term] = Vocabulary("challenge origin", (
    Term("report", "A resident's report", "Adroddiad gan breswylydd"),
    Term("officer", "Filed by an officer", "Wedi'i gyflwyno gan swyddog"),
    Term("bulk", "A bulk challenge file", "Ffeil herio swmp"),
))

#: the states of a challenge: submitted -> accepted | screened_out; accepted -> upheld |
#: rejected | moot
CHALLENGE_STATES: Vocabulary[Term] = Vocabulary("challenge state", (
    Term("submitted", "Submitted", "Wedi'i gyflwyno"),
    Term("accepted", "Accepted for review", "Wedi'i dderbyn i'w adolygu"),
    Term("screened_out", "Rejected: not enough evidence", "Wedi'i wrthod: dim digon o dystiolaeth"),
    Term("upheld", "Upheld", "Wedi'i gadarnhau"),
    Term("rejected", "Rejected", "Wedi'i wrthod"),
    Term("moot", "No longer needed", "Dim angen mwyach"),
))
#: the states a challenge may move to from each state
CHALLENGE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "submitted": ("accepted", "screened_out", "moot"),
    "accepted": ("upheld", "rejected", "moot"),
    "screened_out": (), "upheld": (), "rejected": (), "moot": (),
}
OPEN_CHALLENGE_STATES = ("submitted", "accepted")


@dataclass(frozen=True)
class Decision(Term):
    """A reason code for a transition into ``state``, with the message the filer reads in their
    language (``to_en``, ``to_cy``); ``en``/``cy`` are the officer's short names."""

    state: str = ""
    to_en: str = ""
    to_cy: str = ""

    def message(self, lang: str) -> str:
        return self.to_cy if lang == "cy" else self.to_en


#: every reason a challenge can move for, and what the person who raised it is told
CHALLENGE_REASONS: Vocabulary[Decision] = Vocabulary("challenge reason", (
    Decision("evidence_complete", "Evidence complete", "Tystiolaeth yn gyflawn", "accepted",
             "We have what we need and an officer is now reviewing your report.",
             "Mae gennym yr hyn sydd ei angen ac mae swyddog yn adolygu eich adroddiad nawr."),
    Decision("too_few_tests", "Too few speed tests", "Rhy ychydig o brofion cyflymder",
             "screened_out",
             "We need at least three speed tests on different days to check a speed. "
             "Please report again with them.",
             "Mae angen o leiaf dri phrawf cyflymder ar ddiwrnodau gwahanol arnom i wirio "
             "cyflymder. Rhowch wybod eto gyda nhw."),
    Decision("premises_not_identified", "Premises not identified", "Safle heb ei adnabod",
             "screened_out",
             "We could not tell which premises your report is about. Please report again and "
             "choose your address or place it on the map.",
             "Ni allem ddweud pa safle y mae eich adroddiad yn ymwneud ag ef. Rhowch wybod eto "
             "a dewiswch eich cyfeiriad neu ei osod ar y map."),
    Decision("bare_assertion", "No evidence given", "Dim tystiolaeth", "screened_out",
             "Your report did not include evidence we can check, such as the provider's reply "
             "or speed tests.",
             "Nid oedd eich adroddiad yn cynnwys tystiolaeth y gallwn ei gwirio, fel ateb y "
             "darparwr neu brofion cyflymder."),
    Decision("duplicate", "Duplicate", "Dyblyg", "screened_out",
             "We already have a report about this premises and are dealing with it.",
             "Mae gennym adroddiad am y safle hwn yn barod ac rydym yn delio ag ef."),
    Decision("evidence_confirms", "Evidence confirms the challenge",
             "Mae'r dystiolaeth yn cadarnhau'r her", "upheld",
             "You were right. We have corrected the map; the change shows after the next update.",
             "Roeddech chi'n iawn. Rydym wedi cywiro'r map; bydd y newid i'w weld ar ôl y "
             "diweddariad nesaf."),
    Decision("provider_confirms", "The provider confirms", "Mae'r darparwr yn cadarnhau", "upheld",
             "The provider confirmed what you told us. We have corrected the map; the change "
             "shows after the next update.",
             "Cadarnhaodd y darparwr yr hyn a ddywedoch wrthym. Rydym wedi cywiro'r map; bydd y "
             "newid i'w weld ar ôl y diweddariad nesaf."),
    Decision("evidence_contradicts", "Evidence contradicts the challenge",
             "Mae'r dystiolaeth yn gwrth-ddweud yr her", "rejected",
             "We checked, and the evidence we hold shows the service is available at this "
             "premises. The map stays as it is.",
             "Rydym wedi gwirio, ac mae'r dystiolaeth sydd gennym yn dangos bod y gwasanaeth ar "
             "gael yn y safle hwn. Mae'r map yn aros fel y mae."),
    Decision("provider_rebuttal", "The provider rebutted it", "Gwrthbrofodd y darparwr hi",
             "rejected",
             "The provider showed that the service can be ordered at this premises. The map stays "
             "as it is.",
             "Dangosodd y darparwr fod modd archebu'r gwasanaeth yn y safle hwn. Mae'r map yn "
             "aros fel y mae."),
    Decision("already_corrected", "Already corrected", "Wedi'i gywiro eisoes", "moot",
             "The map has already been corrected for this premises.",
             "Mae'r map eisoes wedi'i gywiro ar gyfer y safle hwn."),
    Decision("newer_release", "A newer release settles it", "Mae rhyddhad mwy newydd yn ei setlo",
             "moot",
             "Newer data from the providers now shows this premises as you described.",
             "Mae data mwy newydd gan y darparwyr bellach yn dangos y safle hwn fel y disgrifiwyd "
             "gennych."),
    Decision("withdrawn", "Withdrawn", "Wedi'i dynnu'n ôl", "moot",
             "The report was withdrawn.", "Cafodd yr adroddiad ei dynnu'n ôl."),
))
