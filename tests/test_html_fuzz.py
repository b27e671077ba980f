"""Property-based tests of the HTML pages and forms (hypothesis): whatever a visitor puts in a path,
a query string or a form, the answer is a page in their language or a refusal, never a server
error. The JSON API has its own contract tests (test_schemathesis.py); these cover what the
OpenAPI document does not: every public page route and the resident's report form.

The text strategies include NUL and the other control characters, lone surrogates' replacement,
right-to-left marks, very long values and SQL and HTML fragments; each route gets the query
parameters the pages read, and some they do not.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TEST_SECRET, app_for, copy_of

NASTY = st.sampled_from([
    "\x00", "\x01", "\x1f", "\x7f", "\u202e", "\ufeff", "'", '"', "<script>", "%00", "%", "../",
    "' OR 1=1 --", "W06000008", "W06%", "SA43 1AA", "CF10", "52.1,-4.6,14", "9999999999999",
    "-1", "1e309", "NaN", "ll", "Æ", "ŵ", "🙂", "²", "١٢٣", "a" * 3000,
])
VALUE = st.one_of(NASTY, st.text(max_size=40), st.text(alphabet=st.characters(codec="utf-8"),
                                                        max_size=12))
PARAMS = ["q", "la", "at", "label", "level", "sort", "order", "theme", "uprn", "t", "page",
          "status", "scheme", "layer", "signed_out", "next", "unknown"]
QUERY = st.dictionaries(st.sampled_from(PARAMS), VALUE, max_size=4)
OK = {200, 302, 303, 304, 400, 404, 405, 413, 429}

#: every public page with its path variables (the officer pages have their own route walk)
PAGES = ["/{lang}/", "/{lang}/areas", "/{lang}/search", "/{lang}/postcode/{postcode}",
         "/{lang}/postcode/{postcode}/report", "/{lang}/reports/{ref}", "/{lang}/data",
         "/{lang}/privacy", "/{lang}/accessibility", "/{lang}/sign-in"]


def _quote(value: str) -> str:
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())


def _check(response, path):
    assert response.status_code in OK, (path, response.status_code, response.text[:400])
    assert response.status_code != 500 and "Traceback" not in response.text, path
    if response.mimetype == "text/html" and response.status_code in (200, 400, 404):
        # the answer is a page of ours in the language asked for
        assert re.search(r'<html lang="(en|cy)"', response.text), path


@pytest.mark.parametrize("template", PAGES)
def test_pages_answer_every_path_and_query_without_a_server_error(client, template):
    @given(lang=st.sampled_from(["en", "cy"]), postcode=VALUE, ref=VALUE, query=QUERY)
    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(lang, postcode, ref, query):
        path = template.format(lang=lang, postcode=_quote(postcode) or "x", ref=_quote(ref) or "x")
        if query:
            path += "?" + _query(query)
        _check(client.get(path), path)

    check()


@pytest.fixture(scope="module")
def form_app(server, base_db):
    """A writable copy of the demo data: fuzzed reports that pass every check are stored."""
    from connectivity.settings import load_settings

    name, url = copy_of(server, base_db)
    s = load_settings({"database_url": url}, environ={}).replace(
        secret_key=TEST_SECRET, report_limit_per_client=100_000, report_limit_per_postcode=100_000)
    with app_for(s) as app:
        yield app, url
    server.drop(name)


FIELDS = ["problem", "uprn", "measured_down", "measured_up", "provider", "message", "contact",
          "consent", "website", "csrf_token", "unknown"]


def test_the_report_form_refuses_or_stores_every_submission_without_a_server_error(form_app):
    import psycopg

    app, url = form_app
    client = app.test_client()
    with psycopg.connect(url) as conn:
        pc = conn.execute("SELECT replace(postcode, ' ', '') FROM gapmap.premises_class "
                          "ORDER BY uprn LIMIT 1").fetchone()[0]
    path = f"/en/postcode/{pc}/report"
    page = client.get(path)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    @given(fields=st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=8),
           with_token=st.booleans(), problem=st.sampled_from(["slower", "none", "x", ""]))
    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(fields, with_token, problem):
        data = {"problem": problem, **fields}
        if with_token:
            data["csrf_token"] = token
        body = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in data.items())
        r = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
        _check(r, path)
        if not with_token or data.get("csrf_token") != token:
            assert r.status_code == 400
        if r.status_code in (303, 200) and "value=" in r.text:
            # a refused value is never echoed longer than its field allows
            assert all(len(v) <= 2000 for v in re.findall(r'value="([^"]*)"', r.text))

    check()
