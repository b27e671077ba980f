"""The areas page: what the map shows, as a table. Adds its route to the pages blueprint (as
``plan_views`` adds the plan pages to the officer blueprint)."""

from __future__ import annotations

from flask import render_template

from connectivity.areas import area_summaries
from connectivity.releases import synthetic_loaded
from connectivity.transparency import challenge_stats

from .pages import bp
from .pool import db_connection


@bp.get("/<lang>/areas")
def areas_page():
    with db_connection() as conn:
        areas = area_summaries(conn, "la")
        synthetic = synthetic_loaded(conn)
        challenges = challenge_stats(conn, with_names=True)
    return render_template("areas.html", areas=areas, synthetic=synthetic, challenges=challenges,
                           postcodes_total=sum(a["postcodes"] for a in areas),
                           premises_total=sum(a["premises"] for a in areas))
