"""The web map and HTTP API: ``create_app()`` builds a Flask app; nothing happens at import."""

from __future__ import annotations

from flask import Flask

from connectivity.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. ``settings`` default to :func:`connectivity.load_settings` (read now)."""
    from . import api, errors, i18n, ogc, openapi, pages, tiles
    from .pool import Database

    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["GAPMAP_SETTINGS"] = settings
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False
    app.extensions["gapmap_db"] = Database(settings)
    i18n.init_app(app, settings)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(tiles.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(ogc.bp, url_prefix="/ogc")
    errors.init_app(app)
    return app


__all__ = ["create_app"]
