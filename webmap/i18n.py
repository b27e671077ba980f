"""Welsh and English: Babel catalogues, the locale of each request, the language switch."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_babel import Babel

from connectivity.settings import Settings
from connectivity.vocab import STATUSES

#: language code -> its own name, as the switch shows it
LANGUAGES = {"en": "English", "cy": "Cymraeg"}


def negotiate() -> str:
    """The language for a request without one in its URL: ``?lang=``, then Accept-Language."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    default = current_app.config["GAPMAP_SETTINGS"].default_language
    return request.accept_languages.best_match(list(LANGUAGES), default=default)


def current_language() -> str:
    return getattr(g, "lang", None) or negotiate()


def other_language(lang: str) -> str:
    return "cy" if lang == "en" else "en"


def area_name(row: dict, lang: str) -> str:
    """An area's name in ``lang``, falling back to the other language where it has none."""
    if lang == "cy":
        return row.get("name_cy") or row["name_en"]
    return row["name_en"] or row.get("name_cy")


def status_names() -> dict[str, str]:
    """Every status code and its name in the request's language (connectivity.vocab)."""
    return STATUSES.names(current_language())


def init_app(app: Flask, settings: Settings) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = settings.default_language
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = "translations"
    Babel(app, locale_selector=current_language)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, other_language=other_language,
                                 area_name=area_name, status_names=status_names)
