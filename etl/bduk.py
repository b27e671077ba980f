"""BDUK "OMR and premises in BDUK plans" UPRN releases (one CSV per authority, many at once, or
the zip): gigabit class, current and future gigabit, and the contracts covering each premises."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from connectivity.db import SCHEMA
from etl.formats import BDUK_STATUSES

from .checks import normalise_postcodes, reject_duplicates, reject_where
from .columns import Field
from .reading import members
from .releases import ensure_release
from .runs import Counts, LoadContext, Loader
from .staging import Column, Stage

KIND = "bduk"


def _opt(name: str, *aliases: str) -> Field:
    return Field(name, aliases or (name,), required=False)


COLUMNS = [
    Column(Field("uprn", ("uprn",)), "bigint"),
    Column(_opt("postcode", "postcode", "pcds"), "text"),
    Column(_opt("bduk_recognised_premises"), "boolean"),
    Column(Field("subsidy_control_status", ("subsidy_control_status", "subsidy control status",
                                            "gigabit_class")), "text"),
    Column(Field("current_gigabit", ("current_gigabit",)), "boolean"),
    Column(Field("future_gigabit", ("future_gigabit",)), "boolean"),
    Column(_opt("lot_id"), "text"),
    Column(_opt("lot_name"), "text"),
    Column(_opt("la_code", "local_authority_district_ons_code", "lad_code"), "text"),
    Column(_opt("gis", "bduk_gis"), "boolean"),
    Column(_opt("gis_contract_scope", "bduk_gis_contract_scope"), "text"),
    Column(_opt("gis_final_coverage_date", "bduk_gis_final_coverage_date"), "text"),
    Column(_opt("gis_contract_name", "bduk_gis_contract_name"), "text"),
    Column(_opt("gis_supplier", "bduk_gis_supplier"), "text"),
    Column(_opt("vouchers", "bduk_vouchers"), "boolean"),
    Column(_opt("superfast", "bduk_superfast"), "boolean"),
    Column(_opt("superfast_contract_name", "bduk_superfast_contract_name"), "text"),
    Column(_opt("hubs", "bduk_hubs"), "boolean"),
]
_STATUS_SQL = " ".join(
    f"WHEN lower(trim(subsidy_control_status)) = '{s.lower()}' THEN '{s}'" for s in BDUK_STATUSES)


class BdukLoader(Loader):
    kind = KIND
    describes = "BDUK UPRN release (CSV)"

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        release_id = ensure_release(ctx, "bduk", paths)
        stage = Stage(ctx, "stage_bduk", COLUMNS)
        read = sum(stage.load(i, m) for i, m in
                   enumerate(m for p in paths for m in members(p, r"\.csv$")))
        if stage.careful_files:
            ctx.notes.append("read row by row (COPY refused the file): " + "; ".join(stage.careful_files))
        reject_where(ctx, "stage_bduk", "uprn IS NULL OR uprn <= 0 OR uprn > 999999999999",
                     "uprn", "uprn", "CASE WHEN uprn IS NULL THEN 'missing UPRN' ELSE "
                     "'UPRN must be a positive whole number of at most 12 digits' END")
        canonical = ", ".join(repr(s) for s in BDUK_STATUSES)
        conn.execute(f"UPDATE stage_bduk SET subsidy_control_status = CASE {_STATUS_SQL} "
                     "ELSE subsidy_control_status END "
                     f"WHERE subsidy_control_status NOT IN ({canonical})")
        reject_where(ctx, "stage_bduk",
                     f"subsidy_control_status IS NULL OR subsidy_control_status NOT IN ({canonical})",
                     "subsidy_control_status", "subsidy_control_status",
                     "'subsidy control status must be one of " + ", ".join(BDUK_STATUSES) + "'")
        reject_where(ctx, "stage_bduk", "current_gigabit IS NULL OR future_gigabit IS NULL",
                     "current_gigabit/future_gigabit",
                     "coalesce(current_gigabit::text, '') || ',' || coalesce(future_gigabit::text, '')",
                     "'current_gigabit and future_gigabit must be true or false'")
        normalise_postcodes(ctx, "stage_bduk")
        reject_duplicates(ctx, "stage_bduk", ["uprn"], "UPRN", "uprn")
        loaded = conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_bduk (release_id, uprn, postcode, bduk_recognised_premises,
                    subsidy_control_status, current_gigabit, future_gigabit, lot_id, lot_name,
                    la_code, gis, gis_contract_scope, gis_final_coverage_date, gis_contract_name,
                    gis_supplier, vouchers, superfast, superfast_contract_name, hubs)
                SELECT %s, uprn, postcode, bduk_recognised_premises, subsidy_control_status,
                    current_gigabit, future_gigabit, lot_id, lot_name, la_code, gis,
                    gis_contract_scope, gis_final_coverage_date, gis_contract_name, gis_supplier,
                    vouchers, superfast, superfast_contract_name, hubs
                FROM stage_bduk
                ON CONFLICT (release_id, uprn) DO UPDATE SET postcode = EXCLUDED.postcode,
                    bduk_recognised_premises = EXCLUDED.bduk_recognised_premises,
                    subsidy_control_status = EXCLUDED.subsidy_control_status,
                    current_gigabit = EXCLUDED.current_gigabit,
                    future_gigabit = EXCLUDED.future_gigabit, lot_id = EXCLUDED.lot_id,
                    lot_name = EXCLUDED.lot_name, la_code = EXCLUDED.la_code, gis = EXCLUDED.gis,
                    gis_contract_scope = EXCLUDED.gis_contract_scope,
                    gis_final_coverage_date = EXCLUDED.gis_final_coverage_date,
                    gis_contract_name = EXCLUDED.gis_contract_name,
                    gis_supplier = EXCLUDED.gis_supplier, vouchers = EXCLUDED.vouchers,
                    superfast = EXCLUDED.superfast,
                    superfast_contract_name = EXCLUDED.superfast_contract_name,
                    hubs = EXCLUDED.hubs""",
            (release_id,),
        ).rowcount
        return Counts(read, loaded)
