"""The resident's report form lists premises by address when the public_addresses setting is on
and AddressBase gave them one, by UPRN otherwise (issue 17 item 1); with the setting off it never
shows an address. The hand-made evidence copy of tests/test_resident_web.py: two of the chosen
postcode's premises have addresses (the second with no Welsh form), the third none."""

from __future__ import annotations

import html
import re

from tests import test_resident_web

ADDRESSES = test_resident_web.ADDRESSES
#: the evidence copy and its two apps (addresses off and on), the fixtures of test_resident_web
evidence = test_resident_web.evidence
evidence_apps = test_resident_web.evidence_apps


def _options(page: str) -> list[str]:
    select = re.search(r'<select name="uprn" id="field-uprn".*?</select>', page, re.S).group(0)
    return [html.unescape(" ".join(o.split())) for o in
            re.findall(r"<option value=\"\d+\"[^>]*>(.*?)</option>", select, re.S)]


def _hint(page: str) -> str:
    return html.unescape(re.search(r'<p class="hint" id="uprn-hint">(.*?)</p>', page, re.S).group(1))


def test_the_report_form_names_premises_by_address_with_the_setting_on(evidence, evidence_apps):
    full, uprns = evidence["full"], evidence["uprns"]
    path = f"/{{lang}}/postcode/{full.replace(' ', '')}/report"
    en = evidence_apps["on"].get(path.format(lang="en")).get_data(as_text=True)
    cy = evidence_apps["on"].get(path.format(lang="cy")).get_data(as_text=True)
    total = len(uprns)
    options_en, options_cy = _options(en), _options(cy)
    assert len(options_en) == len(options_cy) == total
    assert options_en[0].startswith(f"Premises 1 of {total}: 1 HIGH STREET, ABERAERON "
                                    f"(UPRN {uprns[0]}). ")
    assert options_en[1].startswith(f"Premises 2 of {total}: 2 HIGH STREET, ABERAERON "
                                    f"(UPRN {uprns[1]}). ")
    assert options_en[2].startswith(f"Premises 3 of {total}: UPRN {uprns[2]}. ")
    # Welsh: the Welsh form where AddressBase has one, the English one where it has none
    assert options_cy[0].startswith(f"Safle 1 o {total}: 1 STRYD FAWR, ABER-AERON "
                                    f"(UPRN {uprns[0]}). ")
    assert options_cy[1].startswith(f"Safle 2 o {total}: 2 HIGH STREET, ABERAERON "
                                    f"(UPRN {uprns[1]}). ")
    assert options_cy[2].startswith(f"Safle 3 o {total}: UPRN {uprns[2]}. ")
    assert _hint(en) == (f"The {total} premises of {full} are listed by address (by UPRN, the "
                         "number Ordnance Survey gives each property, where we hold no address), "
                         "with what the map shows for each. If you came from your premises on "
                         "the map, it is already chosen.")
    assert _hint(cy).startswith(f"Mae {total} safle {full} wedi'u rhestru yn ôl cyfeiriad")


def test_the_report_form_shows_no_address_with_the_setting_off(evidence, evidence_apps):
    full, uprns = evidence["full"], evidence["uprns"]
    page = evidence_apps["off"].get(f"/en/postcode/{full.replace(' ', '')}/report").get_data(
        as_text=True)
    options = _options(page)
    assert [o.split(". ")[0] for o in options[:3]] == [
        f"Premises {i + 1} of {len(uprns)}: UPRN {uprns[i]}" for i in range(3)]
    assert _hint(page).startswith("Our data has no addresses:")
    for en, cy in ADDRESSES.values():
        assert en not in page and (cy is None or cy not in page)
