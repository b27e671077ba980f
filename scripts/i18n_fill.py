"""Fill the Welsh catalogue from JSON files of {English msgid: Welsh msgstr}, then compile.

    python scripts/i18n_fill.py /tmp/cy/*.json

Runs scripts/i18n.sh (extract, update), sets every msgstr the files name (plural entries take a
list), writes the catalogue and compiles it again. A tool for translating many new strings at
once; tests/test_i18n.py still checks that none is missing.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "webmap/translations/cy/LC_MESSAGES/messages.po"


def main(paths: list[str]) -> int:
    words: dict[str, object] = {}
    for path in paths:
        words.update(json.loads(Path(path).read_text(encoding="utf-8")))
    with open(ROOT / ".i18n.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["bash", str(ROOT / "scripts/i18n.sh")], check=True, capture_output=True)
        with PO.open("rb") as f:
            catalog = read_po(f, locale="cy")
        filled = 0
        for message in catalog:
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            if key in words and key:
                value = words[key]
                message.string = tuple(value) if isinstance(message.id, tuple) else value
                filled += 1
        with PO.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False)
        done = subprocess.run(["bash", str(ROOT / "scripts/i18n.sh")], check=True,
                              capture_output=True, text=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"filled {filled}; untranslated {len(missing)}", *missing[:20], sep="\n")
    print(done.stdout.strip() or done.stderr.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
