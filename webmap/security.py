"""The security baseline of every response: headers (a Content-Security-Policy with a nonce per
request and no 'unsafe-inline' script), session cookie flags, CSRF protection on every form that
changes anything (Flask-WTF), request size caps, the client address behind trusted proxies, and
the limits on residents' reports (counters in PostgreSQL, shared by every worker).

docs/security.md says what each control defends and how it is tested.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from connectivity.errors import BadRequest, TooManyRequests
from connectivity.settings import Settings

csrf = CSRFProtect()
#: C0 controls other than tab, line feed and carriage return, and DEL
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = "parameters must not contain NUL or other control characters (%00-%1F, %7F)"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: the fields of the residents' report form (``website`` is the honeypot)
REPORT_FIELDS = frozenset({"csrf_token", "problem", "uprn", "measured_down", "measured_up",
                           "message", "contact", "website"})
#: the largest request body the app reads (forms; officers' uploads raise it per view)
MAX_BODY = 256 * 1024


def csp_nonce() -> str:
    """This request's CSP nonce, for the few inline scripts (``nonce="{{ csp_nonce() }}"``)."""
    nonce = getattr(g, "csp_nonce", None)
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce: str, settings: Settings) -> str:
    images = ["'self'", "data:", "blob:"]
    if settings.online_basemap:
        parts = urlsplit(settings.basemap_url.replace("{s}", "a"))
        if parts.scheme and parts.hostname:
            host = parts.hostname
            if "{s}" in settings.basemap_url:
                host = "*." + host.split(".", 1)[1]
            images.append(f"{parts.scheme}://{host}")
    connect = ["'self'"]
    archive = urlsplit(settings.tiles_archive_url)
    if archive.scheme in ("http", "https") and archive.hostname:  # the map reads tiles from it
        port = f":{archive.port}" if archive.port else ""
        connect.append(f"{archive.scheme}://{archive.hostname}{port}")
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",  # Leaflet positions everything with style attributes
        "img-src " + " ".join(images),
        "font-src 'self'",
        "connect-src " + " ".join(connect),
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def client_address() -> str:
    """The client's address: the socket's, or the one the trusted proxies saw (ProxyFix)."""
    return request.remote_addr or "unknown"


def is_local_host() -> bool:
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def cookie_would_be_refused() -> bool:
    """The session cookie is Secure but this request came over plain HTTP to a host that is not
    this machine: the browser will not keep the cookie, so signing in (or any form) cannot work."""
    settings = current_app.config["GAPMAP_SETTINGS"]
    return settings.cookie_secure and not request.is_secure and not is_local_host()


def insecure_explanation() -> str:
    from flask_babel import gettext as _

    return _("This service sends its sign-in cookie over HTTPS only, and this page was opened "
             "over plain HTTP. Open it with https://, or, for a trial on a private network, set "
             "CONNECTIVITY_COOKIE_SECURE=false.")


def init_app(app: Flask, settings: Settings) -> None:
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies, x_host=settings.trusted_proxies)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="gapmap_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_absolute_hours),
        # The cookie is sent only when the session changed (sign-in, sign-out, a form token),
        # never re-sent on every response: concurrent responses that all re-sent the cookie each
        # request came with raced, and an older one could drop a newer form token. The cookie
        # lives session_absolute_hours from sign-in; the idle timeout is kept in the database.
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=settings.session_absolute_hours * 3600,
        WTF_CSRF_SSL_STRICT=settings.cookie_secure,
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        MAX_FORM_PARTS=50,
    )
    csrf.init_app(app)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError):
        from flask_babel import gettext as _

        from .errors import error_response

        if cookie_would_be_refused():  # the browser dropped the cookie that holds the token
            return error_response(400, "csrf_failed", exc.description, insecure_explanation())
        return error_response(400, "csrf_failed", exc.description, _(
            "This form has expired, or was not sent from this site. Go back, reload the page "
            "and send it again."))

    @app.errorhandler(TooManyRequests)
    def too_many(exc: TooManyRequests):
        from .errors import error_response

        response = error_response(429, exc.code, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.before_request
    def refuse_control_characters():
        """NUL and other control characters in a path, query or form value are never meant: a
        400 before any of them reaches SQL (PostgreSQL text cannot hold NUL at all)."""
        values = [request.path, *request.args.keys(),
                  *(v for _, vs in request.args.lists() for v in vs)]
        if request.method == "POST" and request.mimetype in FORM_TYPES:
            values += [*request.form.keys(), *(v for _, vs in request.form.lists() for v in vs)]
        if any(CONTROL.search(v) for v in values):
            raise BadRequest(CONTROL_MESSAGE)

    @app.after_request
    def headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy",
                     content_security_policy(csp_nonce(), current_app.config["GAPMAP_SETTINGS"]))
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def check_report_form(postcode: str) -> None:
    """A posted residents' report: only the form's own fields, no files, and at most N reports
    per client address and M per postcode per window (the report view calls this first)."""
    unknown = sorted(set(request.form) - REPORT_FIELDS)
    if request.files or unknown:
        abort(400, "unexpected fields in the report form: "
              + ", ".join([*unknown, *request.files][:5])[:200])
    check_report_limits(postcode)


def check_report_limits(postcode: str) -> None:
    """Residents' reports: at most N per client address and M per postcode per window."""
    from connectivity.officers import ratelimit
    from connectivity.postcodes import normalise_postcode

    from .workspace import orm_session

    settings: Settings = current_app.config["GAPMAP_SETTINGS"]
    window = settings.report_window_minutes * 60
    secret = current_app.config["SECRET_KEY"]
    pc = normalise_postcode(postcode) or postcode.upper()[:10]
    with orm_session() as session:
        ratelimit.check_and_hit(session, "report_client", ratelimit.key(secret, client_address()),
                                settings.report_limit_per_client, window,
                                "too many reports from this address; try again later")
        ratelimit.check_and_hit(session, "report_postcode", ratelimit.key(secret, pc),
                                settings.report_limit_per_postcode, window,
                                "too many reports for this postcode; try again later")
        session.commit()
