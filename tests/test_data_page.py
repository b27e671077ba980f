"""The open data page (/<lang>/data): every file of the published catalogue with its format,
size, licence, attribution, release, source releases, SHA-256 and download link, in Welsh and
English; a message when nothing is published; the tiles_archive_url setting and its CSP."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from click.testing import CliRunner

from connectivity.settings import load_settings
from gapmap.cli import main
from tests.conftest import TEST_SECRET, app_for


@pytest.fixture(scope="module")
def published(loaded_settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("datapage") / "open-data"
    result = CliRunner().invoke(main, ["--database-url", loaded_settings.conninfo, "publish",
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out


def _rows(html: str) -> list[dict]:
    """Each file row of the page: its download link, format, size text and SHA-256."""
    pattern = re.compile(r'<td><a href="(?P<href>/data/[^"]+)" type="(?P<type>[^"]+)">'
                         r'(?P<name>[^<]+)</a></td>\s*<td>(?P<format>[^<]+)</td>\s*'
                         r'<td class="num"><span title="(?P<bytes>[^"]+)">[^<]+</span></td>\s*'
                         r'<td><code class="sha256">(?P<sha>[0-9a-f]{64})</code></td>')
    return [m.groupdict() for m in pattern.finditer(html)]


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_the_page_lists_every_file_of_the_catalogue(loaded_settings, published, lang):
    catalog = json.loads((published / "catalog.jsonld").read_text())
    expected = {d["dcat:downloadURL"]["@id"]: d for ds in catalog["dcat:dataset"]
                for d in ds["dcat:distribution"]}
    with app_for(loaded_settings.replace(publish_dir=published, secret_key=TEST_SECRET)) as app:
        response = app.test_client().get(f"/{lang}/data")
        assert response.status_code == 200 and response.headers["Content-Language"] == lang
        html = response.get_data(as_text=True)
        rows = _rows(html)
        assert len(rows) == len(expected)
        for row in rows:
            url = row["href"].removeprefix("/data/")
            dist = expected[url]
            assert row["sha"] == dist["spdx:checksum"]["spdx:checksumValue"]
            assert row["type"] == dist["dcat:mediaType"]["@id"].rsplit("/", 2)[-2] + "/" \
                + dist["dcat:mediaType"]["@id"].rsplit("/", 1)[-1]
            size = int(row["bytes"].split()[0].replace(",", "").replace(".", ""))
            assert size == int(dist["dcat:byteSize"]["@value"])
            assert row["format"] in {"CSV", "GeoPackage", "CSVW (JSON)"}
        # every link downloads the file it names
        client = app.test_client()
        sample = next(r for r in rows if r["name"] == "premises-wales.csv")
        assert client.get(sample["href"]).data == (published / "2026-07/premises-wales.csv").read_bytes()
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    words = {"en": ["Open data", "Release 2026-07", "Open Government Licence v3.0",
                    "Made from the source releases", "Premises, Wales, classification 2026-07",
                    "Files for Ceredigion, release 2026-07"],
             "cy": ["Data agored", "Rhyddhad 2026-07", "Trwydded Llywodraeth Agored v3.0",
                    "Safleoedd, Cymru, dosbarthiad 2026-07",
                    "Ffeiliau ar gyfer Ceredigion, rhyddhad 2026-07"]}[lang]
    for word in words:
        assert word in text, word
    assert "Crown copyright" in text  # the attribution
    sources = catalog["dcat:dataset"][0]["dct:source"]
    assert sources and all(s["dct:title"] in text for s in sources)


@pytest.mark.parametrize("lang, message", [("en", "Nothing is published here yet"),
                                           ("cy", "Does dim wedi'i gyhoeddi yma eto")])
def test_a_clear_message_when_nothing_is_published(client, lang, message, tmp_path,
                                                   loaded_settings):
    response = client.get(f"/{lang}/data")  # publish_dir unset
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert message in html and "<table" not in html
    with app_for(loaded_settings.replace(publish_dir=tmp_path, secret_key=TEST_SECRET)) as app:
        assert message in unescape(app.test_client().get(f"/{lang}/data").get_data(as_text=True))


def test_the_page_is_linked_from_every_page_and_the_feeds(client):
    for path in ("/en/", "/cy/areas", "/en/privacy"):
        html = client.get(path).get_data(as_text=True)
        lang = path.split("/")[1]
        assert f'href="/{lang}/data"' in html, path
    feed = client.get("/feeds/wales.atom?lang=cy").get_data(as_text=True)
    assert 'rel="alternate" type="text/html" href="http://localhost/cy/data"' in feed


def test_the_archive_setting_and_the_content_security_policy(loaded_settings, client):
    assert load_settings({}, environ={}).tiles_archive_url == ""
    assert "connect-src 'self';" in client.get("/en/").headers["Content-Security-Policy"]
    for bad in ("javascript:alert(1)", "//cdn.example/map.pmtiles", "ftp://x/map.pmtiles"):
        with pytest.raises(Exception, match="archive's URL"):
            load_settings({"tiles_archive_url": bad}, environ={})
    settings = loaded_settings.replace(secret_key=TEST_SECRET,
                                       tiles_archive_url="https://tiles.example:8443/map.pmtiles")
    with app_for(settings) as app:
        page = app.test_client().get("/en/")
        csp = page.headers["Content-Security-Policy"]
        assert "connect-src 'self' https://tiles.example:8443;" in csp
        html = page.get_data(as_text=True)
        assert "vendor/pmtiles/pmtiles.js" in html and "js/pmtiles-grid.js" in html
        assert '"tilesArchive": "https://tiles.example:8443/map.pmtiles"' in html
    html = client.get("/en/").get_data(as_text=True)
    assert "pmtiles" not in html and '"tilesArchive": ""' in html


@pytest.mark.parametrize("lang, says", [
    ("en", "<li>ookla 2026-Q2: <span class=\"source-licence\">Speedtest® by Ookla®, licence "
           "<a href=\"https://creativecommons.org/licenses/by-nc-sa/4.0/\" hreflang=\"en\">"
           "CC BY-NC-SA 4.0</a>, non-commercial use only (not the Open Government Licence)"
           "</span></li>"),
    ("cy", "<li>ookla 2026-Q2: <span class=\"source-licence\">Speedtest® gan Ookla®, trwydded "
           "<a href=\"https://creativecommons.org/licenses/by-nc-sa/4.0/\" hreflang=\"en\">"
           "CC BY-NC-SA 4.0</a>, at ddefnydd anfasnachol yn unig (nid y Drwydded Llywodraeth "
           "Agored)</span></li>"),
])
def test_an_ookla_source_release_is_shown_with_its_own_licence(loaded_settings, published,
                                                                tmp_path, lang, says):
    """A release made from speed tests lists the Ookla release as CC BY-NC-SA 4.0; the other
    source releases carry no licence of their own (the release's, OGL, is said once)."""
    import shutil

    folder = tmp_path / "open-data"
    shutil.copytree(published, folder)
    path = folder / "catalog.jsonld"
    catalog = json.loads(path.read_text())
    for ds in catalog["dcat:dataset"]:
        ds["dct:source"].append({"@type": "dcat:Dataset", "dct:title": "ookla 2026-Q2",
                                 "dcat:version": "2026-Q2"})
    path.write_text(json.dumps(catalog))
    with app_for(loaded_settings.replace(publish_dir=folder, secret_key=TEST_SECRET)) as app:
        html = app.test_client().get(f"/{lang}/data").get_data(as_text=True)
    assert html.count(says) == 1
    assert html.count('class="source-licence"') == 1
