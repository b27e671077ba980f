"""Every user-facing string exists in Welsh, and the compiled catalogue matches its source."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import ROOT

PO = ROOT / "webmap/translations/cy/LC_MESSAGES/messages.po"
MO = ROOT / "webmap/translations/cy/LC_MESSAGES/messages.mo"


def test_every_string_in_the_code_has_a_welsh_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "webmap/babel.cfg",
         "-o", str(pot), "--no-location", "--omit-header", "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with PO.open("rb") as fh:
        catalogue = read_po(fh)
    have = {m.id: m for m in catalogue if m.id}
    assert sorted(wanted - set(have)) == [], "run scripts/i18n.sh and translate the new strings"
    untranslated = sorted(i for i in wanted if not have[i].string or have[i].fuzzy)
    assert untranslated == []
    assert len(wanted) >= 30


def test_compiled_catalogue_matches_the_po_file():
    with PO.open("rb") as fh:
        po = {m.id: m.string for m in read_po(fh) if m.id}
    with MO.open("rb") as fh:
        mo = {m.id: m.string for m in read_mo(fh) if m.id}
    assert mo == po, "run scripts/i18n.sh to recompile messages.mo"


def test_placeholders_survive_translation():
    import re

    with PO.open("rb") as fh:
        for message in read_po(fh):
            if message.id:
                assert sorted(re.findall(r"%\(\w+\)s", message.id)) == sorted(
                    re.findall(r"%\(\w+\)s", message.string)), message.id
