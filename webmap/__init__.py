"""The web map and HTTP API: ``create_app()`` builds a Flask app; nothing happens at import."""

from __future__ import annotations

import secrets

from flask import Flask

from connectivity.errors import ConfigError
from connectivity.settings import Settings, load_settings


def create_app(settings: Settings | None = None, *, dev: bool = False) -> Flask:
    """Build the app. ``settings`` default to :func:`connectivity.load_settings` (read now).

    Without a secret key (``CONNECTIVITY_SECRET_KEY``) it refuses, except with ``dev``, where a
    random key lasts as long as the process (sessions end when it restarts)."""
    from . import (
        api,
        areas_views,  # noqa: F401  (adds the areas page to the pages blueprint)
        auth,
        basemap,
        challenge_views,  # noqa: F401  (adds the challenge routes to the officer blueprints)
        compression,
        data,
        errors,
        i18n,
        officer,
        ogc,
        openapi,
        pages,
        plan_api,  # noqa: F401  (adds the plan routes to the officer API blueprint)
        plan_views,  # adds the plan pages to the officer blueprint
        search_views,  # noqa: F401  (adds the search page to the pages blueprint)
        security,
        statements,
        tiles,
        workspace,
    )
    from .pool import Database

    settings = settings or load_settings()
    if settings.secret_key is None:
        if not dev:
            require_secret_key(settings)
        settings = settings.replace(secret_key=secrets.token_urlsafe(32))
    app = Flask(__name__)
    app.config["GAPMAP_SETTINGS"] = settings
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False
    app.extensions["gapmap_db"] = Database(settings)
    i18n.init_app(app, settings)
    security.init_app(app, settings)
    compression.init_app(app)
    workspace.init_app(app, settings)
    auth.init_app(app)
    officer.init_app(app)
    plan_views.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(officer.bp)
    app.register_blueprint(statements.bp)
    app.register_blueprint(officer.api, url_prefix="/api/v1/officer")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(basemap.bp, url_prefix="/api/v1/base")
    app.register_blueprint(tiles.bp)
    app.register_blueprint(data.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(ogc.bp, url_prefix="/ogc")
    errors.init_app(app)
    return app


def require_secret_key(settings: Settings) -> None:
    """Refuse to serve without ``CONNECTIVITY_SECRET_KEY``, saying how to set it."""
    if settings.secret_key is None:
        raise ConfigError(
            "CONNECTIVITY_SECRET_KEY is not set: it signs the officers' session cookies and the "
            "forms' CSRF tokens",
            "make one and keep it secret: export CONNECTIVITY_SECRET_KEY=\"$(python3 -c "
            "'import secrets; print(secrets.token_urlsafe(32))')\" (or serve with --dev)")


__all__ = ["create_app", "require_secret_key"]
