#!/usr/bin/env bash
# Refresh the translation catalogues after changing user-facing strings:
#   extract every _() string into messages.pot, merge it into each language's .po, compile .mo.
# Then translate the new empty msgstr entries in webmap/translations/cy/LC_MESSAGES/messages.po
# and run this again (tests/test_i18n.py fails while any string is untranslated or stale).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
"$py" -m babel.messages.frontend extract -F webmap/babel.cfg -k _l -o webmap/translations/messages.pot \
  --no-location --omit-header --sort-output --width 100 . >/dev/null 2>&1
"$py" -m babel.messages.frontend update -i webmap/translations/messages.pot -d webmap/translations \
  --no-fuzzy-matching --ignore-obsolete --width 100 >/dev/null 2>&1
"$py" -m babel.messages.frontend compile -d webmap/translations --statistics
