"""One error shape for the API, friendly pages for people; no stack trace or SQL ever leaks.

API errors are ``{"error": {"status": 404, "code": "not_found", "message": "..."}}``.
"""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from connectivity.errors import GapmapError


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/tiles/", "/openapi", "/ogc"))


def error_response(status: int, code: str, message: str, explanation: str | None = None):
    if _wants_json():
        response = jsonify({"error": {"status": status, "code": code, "message": message}})
        response.status_code = status
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Cache-Control"] = "no-store"
        if status == 503:
            response.headers["Retry-After"] = "5"
        return response
    titles = {
        400: _("That request could not be understood"),
        401: _("You need to sign in"),
        403: _("You cannot do that with your account"),
        404: _("Page not found"),
        413: _("That is too large to send"),
        429: _("Too many attempts"),
        503: _("The map is temporarily unavailable"),
    }
    title = titles.get(status, _("Something went wrong"))
    explanation = explanation or {
        400: _("Please go back, reload the page and try again."),
        404: _("There is no page at this address."),
        413: _("Please send less, or a smaller file."),
        429: _("Please wait a while before you try again."),
        503: _("The database is not answering. Please try again in a minute."),
    }.get(status, _("Please try again later."))
    response = make_response(render_template("error.html", title=title, explanation=explanation,
                                              status=status), status)
    if status >= 500:  # not to be cached by the browser or a proxy; say when to come back
        response.headers["Cache-Control"] = "no-store"
        if status == 503:
            response.headers["Retry-After"] = "5"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(GapmapError)
    def handle_gapmap_error(exc: GapmapError):
        if exc.http_status >= 500:
            app.logger.warning("%s: %s", exc.code, exc.message)
        message = exc.message if exc.http_status < 500 else {
            503: "the database is unavailable; try again shortly",
        }.get(exc.http_status, "internal error")
        return error_response(exc.http_status, exc.code, message)

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")
