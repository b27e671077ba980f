"""Public responses go compressed when the client asks; pages with a form token, partial and
streamed responses never do (webmap/compression.py)."""

from __future__ import annotations

import gzip
import re

import brotli
import mapbox_vector_tile
import pytest


def fetch(client, path, encoding, **headers):
    return client.get(path, headers={"Accept-Encoding": encoding, **headers})


def same(body: bytes) -> bytes:
    """A page without what differs on every render: the CSP nonce and folium's element ids."""
    return re.sub(rb"[0-9a-f]{32}", b"ID", re.sub(rb'nonce="[^"]+"', b'nonce=""', body))


@pytest.mark.parametrize("path", ["/en/", "/cy/areas", "/api/v1/areas.geojson?level=la",
                                  "/openapi.json", "/static/vendor/leaflet/leaflet.js",
                                  "/static/css/app.css"])
def test_public_pages_json_and_scripts_come_compressed_and_decode_to_the_same_bytes(client, path):
    plain = fetch(client, path, "identity")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    zipped = fetch(client, path, "gzip")
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert same(gzip.decompress(zipped.data)) == same(plain.data)
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data)
    squeezed = fetch(client, path, "gzip, deflate, br")
    assert squeezed.headers["Content-Encoding"] == "br"
    assert same(brotli.decompress(squeezed.data)) == same(plain.data)


def test_the_map_page_shrinks_to_a_fraction(client):
    plain = fetch(client, "/en/", "identity").data
    squeezed = fetch(client, "/en/", "br").data
    # 391,211 bytes as HTML, 100,854 with brotli at level 4 (the outlines are digits)
    assert len(plain) > 100_000 and len(squeezed) < len(plain) * 0.3


def test_vector_tiles_come_compressed_and_still_decode(client):
    # a zoom-12 tile over Cardigan, where the demo's premises are
    path = "/tiles/premises/12/2001/1347.pbf"
    plain = fetch(client, path, "identity")
    zipped = fetch(client, path, "gzip")
    assert plain.status_code == 200 and len(plain.data) > 1024
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert mapbox_vector_tile.decode(gzip.decompress(zipped.data))["premises"]["features"]
    # the validator names the encoding, and revalidating with it still gets a 304
    etag = zipped.headers["ETag"]
    assert etag.endswith(':gzip"')
    again = fetch(client, path, "gzip", **{"If-None-Match": etag})
    assert again.status_code == 304


def test_pages_with_a_form_token_and_ranges_go_uncompressed(client):
    with client.application.app_context():
        from connectivity.db import connect
        settings = client.application.config["GAPMAP_SETTINGS"]
        with connect(settings) as conn:
            pc = conn.execute("SELECT replace(postcode, ' ', '') FROM gapmap.premises_class "
                              "ORDER BY uprn LIMIT 1").fetchone()[0]
    form = fetch(client, f"/en/postcode/{pc}/report", "gzip, br")
    assert form.status_code == 200 and 'name="csrf_token"' in form.text
    assert "Content-Encoding" not in form.headers and "Cookie" in form.headers["Vary"]
    sign_in = fetch(client, "/cy/sign-in", "gzip, br")
    assert sign_in.status_code == 200 and "Content-Encoding" not in sign_in.headers
    part = fetch(client, "/static/vendor/leaflet/leaflet.js", "gzip", Range="bytes=0-99")
    assert part.status_code == 206 and "Content-Encoding" not in part.headers
    assert len(part.data) == 100


def test_a_tile_is_the_same_bytes_every_time_it_is_asked_for(client):
    """One ETag, one body: the features are written in a fixed order (by UPRN or code), never
    in whatever order a parallel scan returns them."""
    for path in ("/tiles/premises/12/2001/1347.pbf", "/tiles/premises/15/16013/10781.pbf",
                 "/tiles/areas/ward/11/1000/673.pbf", "/tiles/hex/500/11/1000/673.pbf"):
        bodies = {client.get(path).data for _ in range(5)}
        assert len(bodies) == 1, path
