"""What each column of the published files holds, in English and Welsh: the CSVW column
descriptions of ``connectivity publish`` (:mod:`connectivity.publishing`).

One :class:`Column` per column name, with its CSVW datatype, unit and titles; code lists are
written from :mod:`connectivity.vocab` (the names people read on the map), and the English
descriptions of the premises columns are the OGC collection's (:mod:`connectivity.features`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .features import COLLECTIONS
from .vocab import ADDRESS_KINDS, BANDS, ELIGIBILITY, EVIDENCE, SCHEMES, STATUSES, Vocabulary

#: (English, Welsh) of a few words the column texts share
_WORDS = {
    "before": ("before", "cyn"), "after": ("after", "ar ôl"),
    "in the earlier run": ("in the earlier classification", "yn y dosbarthiad cynharach"),
    "in the later run": ("in the later classification", "yn y dosbarthiad diweddarach"),
    "codes": ("Codes", "Codau"),
}


@dataclass(frozen=True)
class Column:
    name: str
    #: a CSVW datatype: integer, double, boolean, string
    datatype: str
    title_en: str
    title_cy: str
    description_en: str
    description_cy: str
    #: the unit of the values (schema:unitText), None for counts, codes and text
    unit: str | None = None
    required: bool = False

    def csvw(self) -> dict[str, Any]:
        """The column as a CSVW column description."""
        out: dict[str, Any] = {
            "name": self.name,
            "titles": {"en": self.title_en, "cy": self.title_cy},
            "dc:description": [{"@value": self.description_en, "@language": "en"},
                               {"@value": self.description_cy, "@language": "cy"}],
            "datatype": ({"base": "boolean", "format": "true|false"}
                         if self.datatype == "boolean" else self.datatype),
            "required": self.required,
        }
        if self.unit:
            out["schema:unitText"] = self.unit
        return out


def _codes(vocab: Vocabulary, lang: str) -> str:
    return f"{_WORDS['codes'][lang == 'cy']}: " + "; ".join(
        f"{t.code} ({t.name(lang)})" for t in vocab)


_OGC = {p.name: p.description for p in COLLECTIONS["premises"].properties}


def _c(name, datatype, en, cy, den, dcy, unit=None, required=False) -> Column:
    return Column(name, datatype, en, cy, den, dcy, unit, required)


_SCHEME_COLUMNS = []
for _s in SCHEMES:
    _SCHEME_COLUMNS += [
        _c(f"eligible_{_s.code}", "string", _s.en, _s.cy,
           f"Whether the premises is eligible for {_s.en}. " + _codes(ELIGIBILITY, "en"),
           f"A yw'r safle'n gymwys ar gyfer {_s.cy}. " + _codes(ELIGIBILITY, "cy")),
        _c(f"{_s.code}_reason", "string", f"{_s.en}: reason", f"{_s.cy}: rheswm",
           f"Why, as a sentence in English ({_s.en})",
           f"Pam, fel brawddeg yn Saesneg ({_s.cy})"),
    ]

#: every column of the premises files (connectivity.outputs.EXPORT_COLUMNS)
PREMISES: dict[str, Column] = {c.name: c for c in (
    _c("uprn", "integer", "UPRN", "UPRN", _OGC["uprn"], "Cyfeirnod Eiddo Unigryw",
       required=True),
    _c("postcode", "string", "Postcode", "Cod post", _OGC["postcode"], "Cod post"),
    _c("status", "string", "Status", "Statws",
       "The premises against 30 Mbit/s. " + _codes(STATUSES, "en"),
       "Y safle o'i gymharu â 30 Mbit/s. " + _codes(STATUSES, "cy")),
    _c("probability_below", "double", "Probability below 30 Mbit/s",
       "Tebygolrwydd o fod o dan 30 Mbit/s", _OGC["probability_below"],
       "Y tebygolrwydd na all y safle gael 30 Mbit/s (0 i 1)"),
    _c("best_down_mbps", "double", "Best download", "Lawrlwytho gorau", _OGC["best_down_mbps"],
       "Y cyflymder lawrlwytho gorau a ragfynegwyd, Mbit/s", "Mbit/s"),
    _c("best_up_mbps", "double", "Best upload", "Llwytho i fyny gorau", _OGC["best_up_mbps"],
       "Y cyflymder llwytho i fyny gorau a ragfynegwyd, Mbit/s", "Mbit/s"),
    _c("band", "string", "Download band", "Band lawrlwytho",
       _OGC["band"] + ". " + _codes(BANDS, "en"),
       "Band lawrlwytho Ofcom, Mbit/s. " + _codes(BANDS, "cy")),
    _c("uso", "boolean", "Below decent broadband", "O dan fand eang digonol",
       "Below the Universal Service Obligation's decent broadband (10 Mbit/s down, 1 up)",
       "O dan fand eang digonol y Rhwymedigaeth Gwasanaeth Cyffredinol (10 Mbit/s i lawr, 1 i "
       "fyny)"),
    _c("evidence", "string", "Evidence", "Tystiolaeth",
       _OGC["evidence"] + ". " + _codes(EVIDENCE, "en"),
       "Y dystiolaeth gryfaf am y safle. " + _codes(EVIDENCE, "cy")),
    _c("evidence_release", "string", "Evidence release", "Rhyddhad y dystiolaeth",
       _OGC["evidence_release"], "Rhyddhad y dystiolaeth honno"),
    _c("gigabit_class", "string", "Gigabit class", "Dosbarth gigabit",
       "BDUK's subsidy control class (Gigabit White, Gigabit Grey/Black, Gigabit Under Review)",
       "Dosbarth rheoli cymhorthdal BDUK (Gigabit White, Gigabit Grey/Black, Gigabit Under "
       "Review)"),
    _c("planned_build", "boolean", "Planned build", "Cynllun adeiladu", _OGC["planned_build"],
       "Mewn cynllun adeiladu gigabit masnachol neu gyhoeddus"),
    _c("contract_name", "string", "Contract", "Contract", "The BDUK contract of the planned build",
       "Contract BDUK y cynllun adeiladu"),
    _c("supplier", "string", "Supplier", "Cyflenwr", "The supplier of the planned build",
       "Cyflenwr y cynllun adeiladu"),
    _c("final_coverage_date", "string", "Final coverage date", "Dyddiad darpariaeth terfynol",
       "When the planned build is due, as BDUK publishes it (a date, a month or a quarter)",
       "Pryd y disgwylir y cynllun adeiladu, fel y mae BDUK yn ei gyhoeddi (dyddiad, mis neu "
       "chwarter)"),
    *_SCHEME_COLUMNS,
    _c("oa_code", "string", "Output area", "Ardal gynnyrch",
       "The output area whose Ofcom counts were read for the premises",
       "Yr ardal gynnyrch y darllenwyd cyfrifon Ofcom ar ei chyfer"),
    _c("oa_premises", "integer", "Output area: Ofcom premises", "Ardal gynnyrch: safleoedd Ofcom",
       "Ofcom's premises in the output area (All Premises, from AddressBase: not our count)",
       "Safleoedd Ofcom yn yr ardal gynnyrch (All Premises, o AddressBase: nid ein cyfrif ni)"),
    _c("oa_unable_30", "integer", "Output area: unable to get 30 Mbit/s",
       "Ardal gynnyrch: methu cael 30 Mbit/s",
       "Ofcom: premises in the output area unable to receive 30 Mbit/s",
       "Ofcom: safleoedd yn yr ardal gynnyrch na allant gael 30 Mbit/s"),
    _c("oa_unable_decent", "integer", "Output area: no decent broadband",
       "Ardal gynnyrch: dim band eang digonol",
       "Ofcom: premises in the output area unable to receive decent broadband from fixed or "
       "fixed wireless",
       "Ofcom: safleoedd yn yr ardal gynnyrch na allant gael band eang digonol dros linell "
       "sefydlog na diwifr sefydlog"),
    _c("fwa_decent_pct", "double", "Decent broadband by fixed wireless",
       "Band eang digonol drwy ddiwifr sefydlog",
       "Ofcom: % of premises in the postcode able to receive decent broadband by fixed "
       "wireless (which can meet a USO request)",
       "Ofcom: % o safleoedd y cod post a all gael band eang digonol drwy ddiwifr sefydlog (a "
       "all ateb cais dan y Rhwymedigaeth)", "%"),
    _c("address_kind", "string", "Kind of premises", "Math o safle",
       "What AddressBase says the premises is (empty without an AddressBase record). "
       + _codes(ADDRESS_KINDS, "en"),
       "Beth yw'r safle yn ôl AddressBase (gwag heb gofnod AddressBase). "
       + _codes(ADDRESS_KINDS, "cy")),
    _c("speedtest_down", "double", "Speed tests: download", "Profion cyflymder: lawrlwytho",
       "Average download of the speed tests in the premises' tile (Speedtest by Ookla, "
       "CC BY-NC-SA 4.0, non-commercial)",
       "Lawrlwytho cyfartalog y profion cyflymder yn nheilsen y safle (Speedtest gan Ookla, "
       "CC BY-NC-SA 4.0, anfasnachol)", "Mbit/s"),
    _c("speedtest_up", "double", "Speed tests: upload", "Profion cyflymder: llwytho i fyny",
       "Average upload of the speed tests in the premises' tile (Speedtest by Ookla, "
       "CC BY-NC-SA 4.0, non-commercial)",
       "Llwytho i fyny cyfartalog y profion cyflymder yn nheilsen y safle (Speedtest gan "
       "Ookla, CC BY-NC-SA 4.0, anfasnachol)", "Mbit/s"),
    _c("speedtest_tests", "integer", "Speed tests: tests", "Profion cyflymder: profion",
       "How many speed tests the tile's averages are of",
       "Sawl prawf cyflymder y mae cyfartaleddau'r deilsen yn seiliedig arnynt"),
    _c("speedtest_release", "string", "Speed tests: quarter", "Profion cyflymder: chwarter",
       "The quarter of the speed tests (Ookla open data)",
       "Chwarter y profion cyflymder (data agored Ookla)"),
    _c("speedtest_moved", "string", "Moved by speed tests", "Wedi'i symud gan brofion cyflymder",
       "Where speed tests moved a possibly-below premises: below or above (empty: not moved)",
       "I ble y symudodd profion cyflymder safle a oedd efallai o dan: below neu above (gwag: "
       "heb ei symud)"),
    _c("classification", "string", "Classification", "Dosbarthiad",
       "The classification run (its label)", "Y dosbarthiad (ei label)", required=True),
    _c("easting", "double", "Easting", "Dwyreiniad", "British National Grid (EPSG:27700)",
       "Grid Cenedlaethol Prydain (EPSG:27700)", "m"),
    _c("northing", "double", "Northing", "Gogleddiad", "British National Grid (EPSG:27700)",
       "Grid Cenedlaethol Prydain (EPSG:27700)", "m"),
    _c("latitude", "double", "Latitude", "Lledred", "WGS84 (EPSG:4326)", "WGS84 (EPSG:4326)",
       "degree"),
    _c("longitude", "double", "Longitude", "Hydred", "WGS84 (EPSG:4326)", "WGS84 (EPSG:4326)",
       "degree"),
    _c("la_code", "string", "Local authority", "Awdurdod lleol",
       "The local authority's ONS code", "Cod ONS yr awdurdod lleol"),
)}


#: the columns an officer's target list export adds to :data:`PREMISES`
#: (connectivity.officers.lists.LIST_EXPORT_COLUMNS). The addresses are AddressBase's (OS,
#: under the Public Sector Geospatial Agreement) as the list's snapshot kept them: never in
#: the public files.
LIST: dict[str, Column] = {c.name: c for c in (
    _c("address_en", "string", "Address", "Cyfeiriad",
       "The premises' address from OS AddressBase, one line, comma separated, as it was when "
       "the list's snapshot was taken (empty without an AddressBase record)",
       "Cyfeiriad y safle o OS AddressBase, ar un llinell wedi'i gwahanu â chomas, fel yr oedd "
       "pan dynnwyd ciplun y rhestr (gwag heb gofnod AddressBase)"),
    _c("address_cy", "string", "Address in Welsh", "Cyfeiriad yn Gymraeg",
       "The Welsh-language address AddressBase gives, where it gives one (empty otherwise)",
       "Y cyfeiriad Cymraeg y mae AddressBase yn ei roi, lle mae'n rhoi un (gwag fel arall)"),
    _c("parent_uprn", "integer", "Parent UPRN", "UPRN rhiant",
       "The UPRN of the building the premises is in (a flat's), from AddressBase",
       "UPRN yr adeilad y mae'r safle ynddo (adeilad fflat), o AddressBase"),
    _c("class_code", "string", "AddressBase class", "Dosbarth AddressBase",
       "The AddressBase classification code (RD04 a terraced house, CR08 a shop, X dual use, "
       "...); address_kind sums it up",
       "Cod dosbarthu AddressBase (RD04 tŷ teras, CR08 siop, X defnydd deuol, ...); mae "
       "address_kind yn ei grynhoi"),
    _c("release_published", "string", "Evidence published", "Dyddiad cyhoeddi'r dystiolaeth",
       "The publication date of the evidence's release",
       "Dyddiad cyhoeddi rhyddhad y dystiolaeth"),
    _c("list_name", "string", "List", "Rhestr", "The target list's name", "Enw'r rhestr darged",
       required=True),
    _c("snapshot", "string", "Snapshot", "Ciplun",
       "The list's snapshot: its id, when it was taken and on which classification",
       "Ciplun y rhestr: ei rif, pryd y'i tynnwyd ac ar ba ddosbarthiad", required=True),
)}


def _count(name: str, en: str, cy: str) -> Column:
    return _c(name, "integer", en, cy, f"Premises: {en.lower()}", f"Safleoedd: {cy.lower()}")


#: every column of the area statistics files (gapmap.area_stats, with the area's names)
STATISTICS: dict[str, Column] = {c.name: c for c in (
    _c("level", "string", "Level", "Lefel",
       "The kind of area: la, ward, lsoa, msoa, constituency, postcode, hex500, hex2000, hex8000",
       "Y math o ardal: la, ward, lsoa, msoa, constituency, postcode, hex500, hex2000, hex8000",
       required=True),
    _c("code", "string", "Code", "Cod",
       "The area's code (ONS, a postcode, or a hexagon H<edge>_<i>_<j>)",
       "Cod yr ardal (ONS, cod post, neu hecsagon H<ymyl>_<i>_<j>)", required=True),
    _c("premises", "integer", "Premises", "Safleoedd", "Premises classified in the area",
       "Safleoedd a ddosbarthwyd yn yr ardal"),
    *(_count(t.code, t.en, t.cy) for t in STATUSES),
    _c("expected_below_30", "double", "Expected below 30 Mbit/s", "Disgwyl o dan 30 Mbit/s",
       "Expected premises below 30 Mbit/s (possibly-below counted by probability)",
       "Nifer disgwyliedig y safleoedd o dan 30 Mbit/s (y rhai efallai o dan yn ôl eu "
       "tebygolrwydd)"),
    _c("median_down", "double", "Median download", "Lawrlwytho canolrif",
       "Median best download of the premises with premises-level evidence",
       "Lawrlwytho gorau canolrif y safleoedd â thystiolaeth lefel safle", "Mbit/s"),
    *(_count(b.column, b.en, b.cy) for b in BANDS),
    *(col for s in SCHEMES if s.code != "voucher" for col in (
        _count(f"{s.code}_eligible", f"{s.en}: eligible", f"{s.cy}: yn gymwys"),
        _count(f"{s.code}_possibly", f"{s.en}: possibly eligible",
               f"{s.cy}: yn gymwys o bosibl"))),
    _count("voucher_eligible", f"{SCHEMES['voucher'].en}: eligible",
           f"{SCHEMES['voucher'].cy}: yn gymwys"),
    _count("planned_build", "In a planned build", "Mewn cynllun adeiladu"),
    _c("share_below", "double", "Share below 30 Mbit/s", "Cyfran o dan 30 Mbit/s",
       "expected_below_30 / premises (0 to 1; empty without premises)",
       "expected_below_30 / premises (0 i 1; gwag heb safleoedd)"),
    _c("wimd_rank", "integer", "WIMD rank", "Safle MALlC",
       "Welsh Index of Multiple Deprivation 2019 rank of an LSOA (1 is the most deprived)",
       "Safle Mynegai Amddifadedd Lluosog Cymru 2019 ACEHI (1 yw'r mwyaf difreintiedig)"),
    _c("residential", "integer", "Residential", "Preswyl",
       "Premises that are dwellings by AddressBase (dual use counted here and in business)",
       "Safleoedd sy'n anheddau yn ôl AddressBase (defnydd deuol yn cyfrif yma ac yn y golofn busnes)"),
    _c("business", "integer", "Business", "Busnes",
       "Premises that are businesses by AddressBase (dual use counted here and in residential)",
       "Safleoedd sy'n fusnesau yn ôl AddressBase (defnydd deuol yn cyfrif yma ac yn y golofn preswyl)"),
    _count("evidence_oa", "Status from output-area counts",
           "Statws o gyfrifon ardal gynnyrch"),
    _c("uso_eligible_fwa", "integer", "USO eligible, fixed wireless nearby",
       "Cymwys am y Rhwymedigaeth, diwifr sefydlog gerllaw",
       "Premises eligible for a USO connection in a postcode where Ofcom says some premises can "
       "get decent broadband by fixed wireless (which can meet the request)",
       "Safleoedd sy'n gymwys am gysylltiad dan y Rhwymedigaeth mewn cod post lle mae Ofcom yn "
       "dweud y gall rhai safleoedd gael band eang digonol drwy ddiwifr sefydlog"),
    _c("name_en", "string", "Name in English", "Enw yn Saesneg", "The area's name in English",
       "Enw'r ardal yn Saesneg"),
    _c("name_cy", "string", "Name in Welsh", "Enw yn Gymraeg", "The area's name in Welsh",
       "Enw'r ardal yn Gymraeg"),
)}


def _changed(name: str) -> Column:
    base, when = name.rsplit("_", 1)
    source = PREMISES.get(base) or PREMISES["best_down_mbps" if base == "best_down" else base]
    run = "in the earlier run" if when == "before" else "in the later run"
    en, cy = _WORDS[when]
    return Column(name, source.datatype, f"{source.title_en} ({en})", f"{source.title_cy} ({cy})",
                  f"{source.description_en}, {_WORDS[run][0]}",
                  f"{source.description_cy}, {_WORDS[run][1]}", source.unit)


def changes(columns: list[str]) -> dict[str, Column]:
    """The columns of a changes file (connectivity.outputs.DIFF_COLUMNS)."""
    return {name: (PREMISES[name] if name in PREMISES else _changed(name)) for name in columns}
