"""Welsh Index of Multiple Deprivation ranks by LSOA (``lsoa_code,lsoa_name,...,wimd_2019,income,...``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from connectivity.db import SCHEMA

from .checks import reject_duplicates, reject_where
from .columns import Field
from .reading import members
from .runs import Counts, LoadContext, Loader
from .staging import Column, Stage

MAX_RANK = 100_000  # Wales has 1,909 LSOAs; larger ranks are mistakes
DOMAINS = ["income", "employment", "health", "education", "services", "housing",
           "community_safety", "physical_env"]
COLUMNS = [
    Column(Field("lsoa_code", ("lsoa_code", "lsoa11cd", "lsoa"))),
    Column(Field("lsoa_name", ("lsoa_name", "lsoa11nm"), required=False)),
    Column(Field("wimd_rank", ("wimd_2019", "wimd_rank", "overall", "wimd"),
                 patterns=(r"wimd_?\d{4}",)), "bigint"),
    *[Column(Field(d, (d,), required=False), "bigint") for d in DOMAINS],
]


class WimdLoader(Loader):
    kind = "wimd"
    describes = "Welsh Index of Multiple Deprivation ranks (CSV)"

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        stage = Stage(ctx, "stage_wimd", COLUMNS)
        read = sum(stage.load(i, m) for i, m in enumerate(m for p in paths for m in members(p, r"\.csv$")))
        ctx.conn.execute("UPDATE stage_wimd SET lsoa_code = upper(btrim(lsoa_code)) "
                         "WHERE lsoa_code IS DISTINCT FROM upper(btrim(lsoa_code))")
        reject_where(ctx, "stage_wimd", "lsoa_code IS NULL OR lsoa_code !~ '^W01[0-9]{6}$'",
                     "lsoa_code", "lsoa_code", "'not a Welsh LSOA code (W01......)'")
        reject_where(ctx, "stage_wimd", f"wimd_rank IS NULL OR wimd_rank NOT BETWEEN 1 AND {MAX_RANK}",
                     "wimd_2019", "wimd_rank",
                     f"'the overall rank must be a whole number from 1 to {MAX_RANK:,}'")
        for domain in DOMAINS:  # optional, but a rank when given
            reject_where(ctx, "stage_wimd", f"{domain} NOT BETWEEN 1 AND {MAX_RANK}", domain,
                         domain, f"'a domain rank must be a whole number from 1 to {MAX_RANK:,}'")
        reject_duplicates(ctx, "stage_wimd", ["lsoa_code"], "LSOA", "lsoa_code")
        cols = ["lsoa_name", "wimd_rank", *DOMAINS]
        loaded = ctx.conn.execute(
            f"""INSERT INTO {SCHEMA}.wimd (lsoa_code, {', '.join(cols)}, run_id)
                SELECT lsoa_code, {', '.join(cols)}, %s FROM stage_wimd
                ON CONFLICT (lsoa_code) DO UPDATE SET
                    {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)}, run_id = EXCLUDED.run_id""",
            (ctx.run_id,)).rowcount
        return Counts(read, loaded)
