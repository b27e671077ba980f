"""Compressed responses (Flask-Compress: brotli or gzip, as the client asks) for what is public:
the map page (about 390 KB of HTML, most of it the authorities' outlines), JSON, GeoJSON, CSV,
vector tiles, scripts and styles.

Never compressed:
- a response that holds a form token or goes to a signed-in officer: compressing a secret beside
  text an attacker can make the page repeat lets them guess it byte by byte from the sizes
  (BREACH), so pages with forms and every officer page go as they are;
- a partial response (``Range``: the PMTiles archive is read by ranges; its tiles are compressed
  inside the archive already) and anything but a 200;
- streamed responses (the exports and feeds stream rows as they are read; they stay streamed),
  except our own scripts and styles, which are small files read whole.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from flask_compress import Compress
from flask_login import current_user

compress = Compress()

#: what is worth compressing; images other than SVG and the archive's ranges already are
MIMETYPES = [
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "text/xml",
    "application/javascript", "application/json", "application/geo+json",
    "application/schema+json", "application/problem+json", "application/vnd.oai.openapi+json",
    "application/atom+xml", "application/xml", "application/vnd.mapbox-vector-tile",
    "image/svg+xml",
]


def init_app(app: Flask) -> None:
    app.config.update(
        COMPRESS_REGISTER=False,  # our own after_request decides what may be compressed
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_BR_LEVEL=4,  # about gzip's speed at level 6, 10-20 % smaller
        COMPRESS_LEVEL=6,
        COMPRESS_MIN_SIZE=1024,  # below a packet, compressing only costs time
        COMPRESS_STREAMS=False,
    )
    compress.init_app(app)
    app.after_request(compress_public)


def holds_a_secret() -> bool:
    """Whether this response may carry a form token or an officer's data."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    return field in g or current_user.is_authenticated


def compress_public(response: Response) -> Response:
    if response.status_code != 200 or request.range is not None:
        return response
    if request.endpoint == "static" and response.mimetype in MIMETYPES:
        response.direct_passthrough = False  # our scripts and styles: small files, read whole
        response.get_data()
    if response.is_streamed:
        return response
    if holds_a_secret():
        response.vary.add("Cookie")
        return response
    return compress.after_request(response)
