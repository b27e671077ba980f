"""The privacy notice and the accessibility statement, in Welsh and English."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from .pages import add_lang, pull_lang

bp = Blueprint("statements", __name__)
bp.url_value_preprocessor(pull_lang)
bp.url_defaults(add_lang)


@bp.get("/<lang>/privacy")
def privacy():
    settings = current_app.config["GAPMAP_SETTINGS"]
    return render_template("privacy.html", retention_months=settings.report_retention_months,
                           idle=settings.session_idle_minutes)


@bp.get("/<lang>/accessibility")
def accessibility():
    return render_template("accessibility.html")
