"""OS AddressBase Plus and AddressBase Premium (CSV): each premises' address in English and
Welsh, its classification code, its parent UPRN (a flat's building) and its kind.

Layouts (docs/etl.md, "AddressBase", cites the specifications):

* **Plus**: one flat CSV, one row per UPRN, with or without the header row (the header-less
  file is the common supply; its columns are read by position, :data:`PLUS_COLUMNS`).
* **Premium**: a multi-record CSV whose first field is the record identifier; BLPU (21), LPI
  (24, LANGUAGE 'ENG' or 'CYM'), delivery point address (28), classification (32) and street
  descriptor (15) records are staged, then joined by UPRN (and USRN) in SQL. The other record
  types (10 header, 11 street, 23 cross reference, 29 metadata, 30 successor, 31 organisation,
  99 trailer) are read and counted as filtered.

Rows are parsed here (the record types differ in width, so no single COPY fits), COPYed into
text staging tables, checked in SQL (each bad row a reject with its line, column, value and
reason) and published to ``gapmap.address``: a load is a full supply and replaces the table.
Change-only updates (COU) are refused with an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .checks import reject_duplicates, reject_where
from .columns import Field, match_columns
from .reading import DecodedLines, Member, members, normalise_header, read_csv
from .runs import Counts, LoadContext, Loader, copy_rows

KIND = "addressbase"
CHUNK = 50_000

#: AddressBase Plus columns in supply order (OS, AddressBase Plus technical specification;
#: OrdnanceSurvey/AddressBase SQL/PostgreSQL_AddressBase_Plus_CreateTable.sql)
PLUS_COLUMNS = (
    "UPRN UDPRN CHANGE_TYPE STATE STATE_DATE CLASS PARENT_UPRN X_COORDINATE Y_COORDINATE "
    "LATITUDE LONGITUDE RPC LOCAL_CUSTODIAN_CODE COUNTRY LA_START_DATE LAST_UPDATE_DATE "
    "ENTRY_DATE RM_ORGANISATION_NAME LA_ORGANISATION DEPARTMENT_NAME LEGAL_NAME "
    "SUB_BUILDING_NAME BUILDING_NAME BUILDING_NUMBER SAO_START_NUMBER SAO_START_SUFFIX "
    "SAO_END_NUMBER SAO_END_SUFFIX SAO_TEXT ALT_LANGUAGE_SAO_TEXT PAO_START_NUMBER "
    "PAO_START_SUFFIX PAO_END_NUMBER PAO_END_SUFFIX PAO_TEXT ALT_LANGUAGE_PAO_TEXT USRN "
    "USRN_MATCH_INDICATOR AREA_NAME LEVEL OFFICIAL_FLAG OS_ADDRESS_TOID OS_ADDRESS_TOID_VERSION "
    "OS_ROADLINK_TOID OS_ROADLINK_TOID_VERSION OS_TOPO_TOID OS_TOPO_TOID_VERSION VOA_CT_RECORD "
    "VOA_NDR_RECORD STREET_DESCRIPTION ALT_LANGUAGE_STREET_DESCRIPTION DEPENDENT_THOROUGHFARE "
    "THOROUGHFARE WELSH_DEPENDENT_THOROUGHFARE WELSH_THOROUGHFARE DOUBLE_DEPENDENT_LOCALITY "
    "DEPENDENT_LOCALITY LOCALITY WELSH_DEPENDENT_LOCALITY WELSH_DOUBLE_DEPENDENT_LOCALITY "
    "TOWN_NAME ADMINISTRATIVE_AREA POST_TOWN WELSH_POST_TOWN POSTCODE POSTCODE_LOCATOR "
    "POSTCODE_TYPE DELIVERY_POINT_SUFFIX ADDRESSBASE_POSTAL PO_BOX_NUMBER WARD_CODE PARISH_CODE "
    "RM_START_DATE MULTI_OCC_COUNT VOA_NDR_P_DESC_CODE VOA_NDR_SCAT_CODE ALT_LANGUAGE"
).split()

#: the Plus columns staged (lower case), with header aliases seen in other exports
_PLUS_WANTED = {
    "uprn": ("uprn",), "change_type": ("change_type",), "class": ("class", "classification_code"),
    "parent_uprn": ("parent_uprn",), "rm_organisation_name": ("rm_organisation_name",
                                                              "organisation_name"),
    "department_name": ("department_name",), "sub_building_name": ("sub_building_name",),
    "building_name": ("building_name",), "building_number": ("building_number",),
    "sao_start_number": ("sao_start_number",), "sao_start_suffix": ("sao_start_suffix",),
    "sao_end_number": ("sao_end_number",), "sao_end_suffix": ("sao_end_suffix",),
    "sao_text": ("sao_text",), "alt_language_sao_text": ("alt_language_sao_text",),
    "pao_start_number": ("pao_start_number",), "pao_start_suffix": ("pao_start_suffix",),
    "pao_end_number": ("pao_end_number",), "pao_end_suffix": ("pao_end_suffix",),
    "pao_text": ("pao_text",), "alt_language_pao_text": ("alt_language_pao_text",),
    "street_description": ("street_description",),
    "alt_language_street_description": ("alt_language_street_description",),
    "dependent_thoroughfare": ("dependent_thoroughfare",), "thoroughfare": ("thoroughfare",),
    "welsh_dependent_thoroughfare": ("welsh_dependent_thoroughfare",),
    "welsh_thoroughfare": ("welsh_thoroughfare",),
    "double_dependent_locality": ("double_dependent_locality",),
    "dependent_locality": ("dependent_locality",), "locality": ("locality",),
    "welsh_dependent_locality": ("welsh_dependent_locality",),
    "welsh_double_dependent_locality": ("welsh_double_dependent_locality",),
    "town_name": ("town_name",), "post_town": ("post_town",),
    "welsh_post_town": ("welsh_post_town",), "postcode": ("postcode",),
    "postcode_locator": ("postcode_locator",), "addressbase_postal": ("addressbase_postal",),
    "po_box_number": ("po_box_number",),
}
PLUS_FIELDS = [Field(name, aliases, required=name in ("uprn", "class"))
               for name, aliases in _PLUS_WANTED.items()]

#: Premium record types: name, fields (1-based position -> staged column); None = not staged
PREMIUM = {
    "10": ("header", 9, {8: "version", 9: "file_type"}),
    "11": ("street", 24, None),
    "15": ("street descriptor", 13, {2: "change_type", 4: "usrn", 5: "street_description",
                                     6: "locality", 7: "town_name", 9: "language"}),
    "21": ("BLPU", 22, {2: "change_type", 4: "uprn", 5: "logical_status", 8: "parent_uprn",
                        20: "addressbase_postal", 21: "postcode_locator"}),
    "23": ("application cross reference", 12, None),
    "24": ("LPI", 26, {2: "change_type", 4: "uprn", 5: "lpi_key", 6: "language",
                       7: "logical_status", 9: "end_date", 12: "sao_start_number",
                       13: "sao_start_suffix", 14: "sao_end_number", 15: "sao_end_suffix",
                       16: "sao_text", 17: "pao_start_number", 18: "pao_start_suffix",
                       19: "pao_end_number", 20: "pao_end_suffix", 21: "pao_text", 22: "usrn"}),
    "28": ("delivery point address", 29, {
        2: "change_type", 4: "uprn", 6: "organisation_name", 7: "department_name",
        8: "sub_building_name", 9: "building_name", 10: "building_number",
        11: "dependent_thoroughfare", 12: "thoroughfare", 13: "double_dependent_locality",
        14: "dependent_locality", 15: "post_town", 16: "postcode",
        19: "welsh_dependent_thoroughfare", 20: "welsh_thoroughfare",
        21: "welsh_double_dependent_locality", 22: "welsh_dependent_locality",
        23: "welsh_post_town", 24: "po_box_number", 27: "end_date"}),
    "29": ("metadata", 17, None),
    "30": ("successor", 10, None),
    "31": ("organisation", 11, None),
    "32": ("classification", 12, {2: "change_type", 4: "uprn", 6: "classification_code",
                                  7: "class_scheme", 10: "end_date"}),
    "99": ("trailer", 5, None),
}
_STAGED = {rid: spec for rid, spec in PREMIUM.items() if spec[2] and rid != "10"}
_TABLES = {"15": "stage_ab_sd", "21": "stage_ab_blpu", "24": "stage_ab_lpi", "28": "stage_ab_dpa",
           "32": "stage_ab_class"}

_LAYOUTS = {"plus": "AddressBase Plus without a header", "plus-header": "AddressBase Plus with "
            "a header", "premium": "AddressBase Premium"}
_UPRN = r"'^[0-9]{1,12}$'"
_CLASS = r"'^[A-Z][A-Z0-9]{0,5}$'"

#: class code -> kind and reason (docs/etl.md, "AddressBase kinds"); first match wins
KIND_RULES = (
    # (regex on the class code, postal required?, kind, reason when not premises)
    (r"^R[BCG]", None, "not_premises",
     "ancillary to a dwelling: an outbuilding, garage or parking space (RB, RC, RG)"),
    (r"^R", None, "residential", None),
    (r"^X", None, "dual_use", None),
    (r"^CZ", None, "not_premises", "advertising or information sign (CZ)"),
    (r"^[CMU]", "postal", None, None),  # business when postal, else the next rule
    (r"^[CMU]", None, "not_premises",
     "not a postal address (ADDRESSBASE_POSTAL N) and not a dwelling"),
    (r"^PS", None, "not_premises", "street record (PS)"),
    (r"^P", None, "not_premises",
     "parent shell: the building holding premises of their own (P)"),
    (r"^L", None, "not_premises", "land (L)"),
    (r"^Z", None, "not_premises", "object of interest (Z)"),
    (r"^O", None, "not_premises", "an object Ordnance Survey maps, not an addressable premises (O)"),
)


def _kind_sql(code: str, postal: str) -> tuple[str, str]:
    """SQL for (kind, not_premises_reason) from the class code and postal flag columns."""
    kind, reason = [], []
    for pattern, need, k, why in KIND_RULES:
        cond = f"{code} ~ '{pattern}'"
        if need == "postal":
            cond += f" AND coalesce({postal}, '') <> 'N'"
            k = "business"
        kind.append(f"WHEN {cond} THEN '{k}'")
        reason.append(f"WHEN {cond} THEN " + ("NULL" if why is None else "'" + why.replace("'", "''") + "'"))
    return ("CASE " + " ".join(kind) + " END", "CASE " + " ".join(reason) + " END")


def _join(*parts: str) -> str:
    """SQL: the non-empty parts joined with ', ' (NULL when all are empty)."""
    return "nullif(concat_ws(', ', " + ", ".join(f"nullif(trim({p}), '')" for p in parts) + "), '')"


def _range(prefix: str, t: str = "") -> str:
    """SQL for a SAO/PAO number range: 12A-14B."""
    p = f"{t}{prefix}"
    return (f"nullif(concat({p}_start_number, {p}_start_suffix, "
            f"CASE WHEN {p}_end_number IS NOT NULL OR {p}_end_suffix IS NOT NULL THEN '-' END, "
            f"{p}_end_number, {p}_end_suffix), '')")


def _dpa_sql(t: str, welsh: bool) -> str:
    """The Royal Mail (delivery point) address: organisation, sub-building, building, number and
    thoroughfare, localities, post town, postcode. ``welsh``: the Welsh fields where present."""
    def w(name: str) -> str:
        return f"coalesce({t}welsh_{name}, {t}{name})" if welsh else f"{t}{name}"
    first_street = f"coalesce({w('dependent_thoroughfare')}, {w('thoroughfare')})"
    second_street = (f"CASE WHEN {t}dependent_thoroughfare IS NOT NULL THEN "
                     f"{w('thoroughfare')} END")
    number_street = (f"nullif(concat_ws(' ', {t}building_number, {first_street}), '')")
    return _join(f"{t}department_name", f"{t}organisation_name", f"{t}sub_building_name",
                 f"{t}building_name", f"'PO Box ' || {t}po_box_number", number_street,
                 second_street, w("double_dependent_locality"), w("dependent_locality"),
                 w("post_town"), f"{t}postcode")


def _lpi_sql(t: str, street: str, locality: str, town: str, postcode: str) -> str:
    """The geographic (local authority) address: SAO, PAO, street, locality, town, postcode."""
    return _join(f"{t}sao_text", _range("sao", t), f"{t}pao_text",
                 f"nullif(concat_ws(' ', {_range('pao', t)}, {street}), '')", locality, town,
                 postcode)


def _detect(member: Member) -> tuple[str, int, list[str]] | None:
    """('plus-header' | 'plus' | 'premium', line of the first record, its fields)."""
    with member.open_binary() as raw:
        lines = DecodedLines(raw, member.label)
        for row in read_csv(lines):
            first = normalise_header(row.values[0])
            if first == "uprn" or first == "record_identifier":
                if first == "record_identifier":
                    raise InputError("a Premium file with a header row: Premium supplies have "
                                     "none", file=member.label, line=row.line,
                                     hint="remove the header row")
                return "plus-header", row.line, row.values
            if len(row.values) == len(PLUS_COLUMNS):
                return "plus", row.line, row.values
            if first in PREMIUM:
                return "premium", row.line, row.values
            raise InputError(
                f"not an AddressBase Plus or Premium file: the first row has {len(row.values)} "
                f"fields (Plus has {len(PLUS_COLUMNS)}) and starts {row.values[0][:20]!r} "
                "(Premium records start with a record identifier: 10, 11, 15, 21, 23, 24, 28, 29, "
                "30, 31, 32 or 99)", file=member.label, line=row.line)
    return None


def _refuse_change(label: str, line: int, column: str, value: str) -> InputError:
    return InputError(
        f"a change-only update (COU) record ({column} {value!r}): only full supplies are "
        "loaded", file=label, line=line, column=column, value=value,
        hint="order a full supply (every record with CHANGE_TYPE 'I'); each load replaces the "
             "addresses")


class AddressBaseLoader(Loader):
    kind = KIND
    describes = "OS AddressBase Plus or Premium (CSV)"

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        plus_cols = list(_PLUS_WANTED)
        conn.execute("CREATE TEMP TABLE stage_ab_plus (file_no integer, file text, line bigint, "
                     + ", ".join(f"{c} text" for c in plus_cols) + ") ON COMMIT DROP")
        for rid, (_name, _width, fields) in _STAGED.items():
            conn.execute(f"CREATE TEMP TABLE {_TABLES[rid]} (file_no integer, file text, "
                         "line bigint, " + ", ".join(f"{c} text" for c in fields.values())
                         + ") ON COMMIT DROP")
        read = filtered = 0
        layouts: dict[str, int] = {}
        buffers: dict[str, list[tuple]] = {t: [] for t in (*_TABLES.values(), "stage_ab_plus")}

        def flush() -> None:
            for table, rows in buffers.items():
                if rows:
                    names = plus_cols if table == "stage_ab_plus" else list(
                        next(s[2] for r, s in _STAGED.items() if _TABLES[r] == table).values())
                    copy_rows(conn, table, ("file_no", "file", "line", *names), rows)
                    rows.clear()
            ctx.rejects.flush()

        every = [m for p in paths for m in members(p, r"\.csv$")]
        for file_no, member in enumerate(every):
            found = _detect(member)
            if found is None:
                raise InputError("the file is empty", file=member.label)
            layout, first_line, first = found
            layouts[layout] = layouts.get(layout, 0) + 1
            index: dict[str, int] | None = None
            if layout == "plus-header":
                index = match_columns(first, PLUS_FIELDS, file=member.label, line=first_line)
            elif layout == "plus":
                index = {c: PLUS_COLUMNS.index(c.upper()) for c in plus_cols}
            width = len(first) if layout == "plus-header" else len(PLUS_COLUMNS)
            rows_here = 0
            with member.open_binary() as raw:
                lines = DecodedLines(raw, member.label)
                for row in read_csv(lines):
                    if layout == "plus-header" and row.line == first_line:
                        continue
                    read += 1
                    rows_here += 1
                    values = [v if v.strip() else None for v in row.values]
                    if index is not None:
                        if len(values) != width:
                            ctx.rejects.add(member.label, row.line, None, ",".join(row.values)[:200],
                                            f"row has {len(values)} fields, expected {width}")
                            continue
                        change = (values[index["change_type"]] or "I").strip().upper() \
                            if "change_type" in index else "I"
                        if change != "I":
                            raise _refuse_change(member.label, row.line, "CHANGE_TYPE", change)
                        buffers["stage_ab_plus"].append(
                            (file_no, member.label, row.line,
                             *(values[index[c]] if c in index else None for c in plus_cols)))
                    else:
                        rid = (values[0] or "").strip()
                        spec = PREMIUM.get(rid)
                        if spec is None:
                            ctx.rejects.add(member.label, row.line, "RECORD_IDENTIFIER",
                                            row.values[0], "unknown record identifier; expected "
                                            "one of " + ", ".join(PREMIUM))
                            continue
                        name, need, fields = spec
                        if len(values) < need:
                            ctx.rejects.add(member.label, row.line, None,
                                            ",".join(row.values)[:200],
                                            f"a {name} record ({rid}) has {len(values)} fields, "
                                            f"expected {need}")
                            continue
                        if rid == "10":
                            if (values[8] or "").strip().upper() == "C":
                                raise _refuse_change(member.label, row.line, "FILE_TYPE", "C")
                            filtered += 1
                            continue
                        if fields is None:
                            filtered += 1  # record types nothing here uses
                            continue
                        if (values[1] or "I").strip().upper() != "I":
                            raise _refuse_change(member.label, row.line, "CHANGE_TYPE",
                                                 values[1].strip())
                        buffers[_TABLES[rid]].append(
                            (file_no, member.label, row.line,
                             *(values[pos - 1] for pos in fields)))
                    if sum(len(b) for b in buffers.values()) >= CHUNK:
                        flush()
            flush()
            if lines.non_utf8_lines:
                ctx.notes.append(f"{member.label}: {lines.non_utf8_lines} line(s) were not "
                                 "UTF-8 and were read as Windows-1252/latin-1")
            if rows_here == 0:
                raise InputError("the file has a header but no rows", file=member.label)
        ctx.notes.append("layout: " + ", ".join(
            f"{_LAYOUTS[k]} {n} file(s)" for k, n in sorted(layouts.items())))
        filtered += self._build(ctx)
        published = self._publish(ctx)
        used, unused = self._premium_records(ctx)
        return Counts(read, published + used, filtered + unused)

    # -- SQL -----------------------------------------------------------------------------------
    def _check_uprns(self, ctx: LoadContext, table: str, title: str = "UPRN") -> None:
        reject_where(ctx, table, f"uprn IS NULL OR uprn !~ {_UPRN} OR uprn::bigint = 0",
                     title, "uprn", "CASE WHEN uprn IS NULL THEN 'missing UPRN' ELSE "
                     "'UPRN must be a positive whole number of at most 12 digits' END")

    def _build(self, ctx: LoadContext) -> int:
        """Make ``stage_ab`` (one row per address, Plus and Premium alike) from the staged
        records. Returns the Premium records filtered (ended, historic, superseded)."""
        conn = ctx.conn
        conn.execute("CREATE TEMP TABLE stage_ab (file_no integer, file text, line bigint, "
                     "uprn text, parent_uprn text, class_code text, postal text, "
                     "address_en text, address_cy text, postcode text, premium boolean) "
                     "ON COMMIT DROP")
        # Plus
        self._check_uprns(ctx, "stage_ab_plus")
        welsh_any = " OR ".join(f"p.{c} IS NOT NULL" for c in (
            "welsh_dependent_thoroughfare", "welsh_thoroughfare", "welsh_dependent_locality",
            "welsh_double_dependent_locality", "welsh_post_town"))
        alt_any = ("p.alt_language_sao_text IS NOT NULL OR p.alt_language_pao_text IS NOT NULL "
                   "OR p.alt_language_street_description IS NOT NULL")
        dpa_any = "p.postcode IS NOT NULL"
        lpi_en = _lpi_sql("p.", "p.street_description", "p.locality", "p.town_name",
                          "p.postcode_locator")
        lpi_cy = _join("coalesce(p.alt_language_sao_text, p.sao_text)", _range("sao", "p."),
                       "coalesce(p.alt_language_pao_text, p.pao_text)",
                       f"nullif(concat_ws(' ', {_range('pao', 'p.')}, coalesce("
                       "p.alt_language_street_description, p.street_description)), '')",
                       "p.locality", "p.town_name", "p.postcode_locator")
        conn.execute(
            f"""INSERT INTO stage_ab SELECT file_no, file, line, uprn, parent_uprn,
                    upper(trim(class)), upper(trim(addressbase_postal)),
                    CASE WHEN {dpa_any} THEN {_dpa_sql('p.', False).replace('p.organisation_name',
                                                                          'p.rm_organisation_name')}
                         ELSE {lpi_en} END,
                    CASE WHEN {dpa_any} AND ({welsh_any}) THEN
                              {_dpa_sql('p.', True).replace('p.organisation_name',
                                                            'p.rm_organisation_name')}
                         WHEN {alt_any} THEN {lpi_cy} END,
                    coalesce(p.postcode, p.postcode_locator), false
                FROM stage_ab_plus p""")
        # Premium: every record type's UPRN (street descriptors: USRN) first
        for rid, table in _TABLES.items():
            if rid == "15":
                reject_where(ctx, table, "usrn IS NULL OR usrn !~ '^[0-9]{1,8}$'", "USRN",
                             "usrn", "'USRN must be a whole number of at most 8 digits'")
            else:
                self._check_uprns(ctx, table)
        reject_duplicates(ctx, "stage_ab_blpu", ["uprn"], "BLPU for UPRN", "UPRN", "uprn")
        filtered = 0
        # historic and ended records are not the current address
        for table, what in (("stage_ab_lpi", "LPI"), ("stage_ab_dpa", "DPA"),
                            ("stage_ab_class", "classification")):
            filtered += conn.execute(
                f"DELETE FROM {table} WHERE end_date IS NOT NULL"
                + (" OR logical_status = '8'" if what == "LPI" else "")).rowcount
        # one LPI per UPRN and language: the approved one (logical status 1), then the lowest key
        filtered += conn.execute(
            """DELETE FROM stage_ab_lpi l USING (
                   SELECT ctid, row_number() OVER (PARTITION BY uprn::bigint, upper(language)
                       ORDER BY (logical_status = '1') DESC, lpi_key, line) AS rn
                   FROM stage_ab_lpi) r WHERE l.ctid = r.ctid AND r.rn > 1""").rowcount
        filtered += conn.execute(
            """DELETE FROM stage_ab_class c USING (
                   SELECT ctid, row_number() OVER (PARTITION BY uprn::bigint ORDER BY line DESC)
                       AS rn FROM stage_ab_class) r WHERE c.ctid = r.ctid AND r.rn > 1""").rowcount
        reject_duplicates(ctx, "stage_ab_dpa", ["uprn"], "delivery point address for UPRN",
                          "UPRN", "uprn")
        reject_duplicates(ctx, "stage_ab_sd", ["usrn", "upper(language)"],
                          "street descriptor for USRN and language", "USRN", "usrn")
        # records whose BLPU is missing cannot be placed
        for table, what in (("stage_ab_lpi", "LPI"), ("stage_ab_dpa", "delivery point address"),
                            ("stage_ab_class", "classification")):
            reject_where(ctx, table, "NOT EXISTS (SELECT 1 FROM stage_ab_blpu b "
                         f"WHERE b.uprn::bigint = {table}.uprn::bigint)", "UPRN", "uprn",
                         f"'a {what} record for a UPRN with no BLPU record (21)'")
        reject_where(ctx, "stage_ab_lpi", "upper(language) NOT IN ('ENG', 'CYM') "
                     "OR language IS NULL", "LANGUAGE", "language",
                     "'LPI language must be ENG or CYM'")
        lpi_en_p = _lpi_sql("le.", "se.street_description", "se.locality", "se.town_name",
                            "b.postcode_locator")
        lpi_cy = _lpi_sql("lc.", "coalesce(sc.street_description, se.street_description)",
                          "coalesce(sc.locality, se.locality)",
                          "coalesce(sc.town_name, se.town_name)", "b.postcode_locator")
        welsh_dpa = " OR ".join(f"d.{c} IS NOT NULL" for c in (
            "welsh_dependent_thoroughfare", "welsh_thoroughfare", "welsh_dependent_locality",
            "welsh_double_dependent_locality", "welsh_post_town"))
        conn.execute(
            f"""INSERT INTO stage_ab
                SELECT b.file_no, b.file, b.line, b.uprn, b.parent_uprn,
                       upper(trim(c.classification_code)), upper(trim(b.addressbase_postal)),
                       CASE WHEN d.uprn IS NOT NULL THEN {_dpa_sql('d.', False)}
                            ELSE {lpi_en_p} END,
                       CASE WHEN d.uprn IS NOT NULL AND ({welsh_dpa}) THEN {_dpa_sql('d.', True)}
                            WHEN lc.uprn IS NOT NULL THEN {lpi_cy} END,
                       coalesce(d.postcode, b.postcode_locator), true
                FROM stage_ab_blpu b
                LEFT JOIN stage_ab_class c ON c.uprn::bigint = b.uprn::bigint
                LEFT JOIN stage_ab_dpa d ON d.uprn::bigint = b.uprn::bigint
                LEFT JOIN stage_ab_lpi le ON le.uprn::bigint = b.uprn::bigint
                     AND upper(le.language) = 'ENG'
                LEFT JOIN stage_ab_lpi lc ON lc.uprn::bigint = b.uprn::bigint
                     AND upper(lc.language) = 'CYM'
                LEFT JOIN stage_ab_sd se ON se.usrn = le.usrn AND upper(se.language) = 'ENG'
                LEFT JOIN stage_ab_sd sc ON sc.usrn = coalesce(lc.usrn, le.usrn)
                     AND upper(sc.language) = 'CYM'""")
        return filtered

    def _premium_records(self, ctx: LoadContext) -> tuple[int, int]:
        """Premium records besides the BLPU: (used by a published address, not used). A street
        descriptor is used when an LPI of a published address names its USRN; the others (and
        the records of a BLPU rejected above) are counted as filtered."""
        published = f"SELECT 1 FROM {SCHEMA}.address a WHERE a.run_id = %s AND a.uprn = t.uprn::bigint"
        used = unused = 0
        for table in ("stage_ab_lpi", "stage_ab_dpa", "stage_ab_class"):
            yes, no = ctx.conn.execute(
                f"SELECT count(*) FILTER (WHERE EXISTS ({published})), "
                f"count(*) FILTER (WHERE NOT EXISTS ({published})) FROM {table} t",
                (ctx.run_id, ctx.run_id)).fetchone()
            used, unused = used + yes, unused + no
        yes, no = ctx.conn.execute(
            f"""SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM stage_ab_lpi t
                       WHERE t.usrn = s.usrn AND EXISTS ({published}))),
                       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM stage_ab_lpi t
                       WHERE t.usrn = s.usrn AND EXISTS ({published})))
                FROM stage_ab_sd s""", (ctx.run_id, ctx.run_id)).fetchone()
        return used + yes, unused + no

    def _publish(self, ctx: LoadContext) -> int:
        """Check the addresses (class, parent, duplicates, postcode) and replace gapmap.address.
        Returns the addresses published. Rejects of a Premium address name its BLPU line (the
        classification is its own record: a missing one names the BLPU)."""
        conn = ctx.conn
        reject_where(ctx, "stage_ab", "class_code IS NULL", "CLASS", "NULL",
                     "CASE WHEN premium THEN 'missing class: no current classification record "
                     "(32) for this UPRN' ELSE 'missing class' END")
        reject_where(ctx, "stage_ab", f"class_code !~ {_CLASS}", "CLASS", "class_code",
                     "'not an AddressBase classification code (a letter, then up to 5 letters "
                     "or digits)'")
        kind, reason = _kind_sql("class_code", "postal")
        reject_where(ctx, "stage_ab", f"({kind}) IS NULL", "CLASS", "class_code",
                     "'unknown classification: the first letter must be one of C, L, M, O, P, "
                     "R, U, X, Z'")
        reject_where(ctx, "stage_ab", f"parent_uprn IS NOT NULL AND (parent_uprn !~ {_UPRN} "
                     "OR parent_uprn::bigint = 0)", "PARENT_UPRN", "parent_uprn",
                     "'parent UPRN must be a positive whole number of at most 12 digits'")
        reject_where(ctx, "stage_ab", "parent_uprn::bigint = uprn::bigint", "PARENT_UPRN",
                     "parent_uprn", "'parent UPRN equal to the UPRN itself'")
        reject_duplicates(ctx, "stage_ab", ["uprn::bigint"], "UPRN", "UPRN", "uprn")
        reject_where(ctx, "stage_ab", "postcode IS NOT NULL AND "
                     "gapmap.normalise_postcode(postcode) IS NULL", "POSTCODE", "postcode",
                     "'not a UK postcode'")
        conn.execute(f"DELETE FROM {SCHEMA}.address a WHERE NOT EXISTS "
                     "(SELECT 1 FROM stage_ab s WHERE s.uprn::bigint = a.uprn)")
        n = conn.execute(
            f"""INSERT INTO {SCHEMA}.address (uprn, parent_uprn, class_code, kind,
                    not_premises_reason, address_en, address_cy, postcode, run_id)
                SELECT uprn::bigint, parent_uprn::bigint, class_code, {kind}, {reason},
                       address_en, address_cy, gapmap.normalise_postcode(postcode), %s
                FROM stage_ab
                ON CONFLICT (uprn) DO UPDATE SET parent_uprn = EXCLUDED.parent_uprn,
                    class_code = EXCLUDED.class_code, kind = EXCLUDED.kind,
                    not_premises_reason = EXCLUDED.not_premises_reason,
                    address_en = EXCLUDED.address_en, address_cy = EXCLUDED.address_cy,
                    postcode = EXCLUDED.postcode, run_id = EXCLUDED.run_id""",
            (ctx.run_id,)).rowcount
        counts = dict(conn.execute(
            f"SELECT kind, count(*) FROM {SCHEMA}.address WHERE run_id = %s GROUP BY kind",
            (ctx.run_id,)).fetchall())
        ctx.notes.append(
            f"addresses: {n} (" + ", ".join(
                f"{k.replace('_', ' ')} {counts.get(k, 0)}"
                for k in ("residential", "business", "dual_use", "not_premises")) + ")")
        welsh = conn.execute(f"SELECT count(*) FROM {SCHEMA}.address WHERE run_id = %s AND "
                             "address_cy IS NOT NULL", (ctx.run_id,)).fetchone()[0]
        ctx.notes.append(f"Welsh-language addresses: {welsh}")
        return n


__all__ = ["KIND_RULES", "PLUS_COLUMNS", "PREMIUM", "AddressBaseLoader"]
