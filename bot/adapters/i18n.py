"""Babel/gettext rendering of message keys. msgctxt is the key, msgid the English source."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from datetime import time
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_time, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.domain.messages import Catalog, Plural
from bot.services.messages import Choice, Outbound, Reply, Text

log = logging.getLogger(__name__)
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"


def autonym(code: str) -> str:
    """A language's name in its own script, e.g. th -> ไทย."""
    try:
        locale = Locale.parse(code)
        name = locale.get_display_name(locale) or code
    except (ValueError, LookupError):
        return code
    return name[:1].upper() + name[1:]


class BabelTranslator:
    """Loads every catalog under locales/ once; renders keys with their parameters."""

    def __init__(self, catalog: Catalog, locales_dir: Path) -> None:
        self.catalog = catalog
        self._translations: dict[str, NullTranslations] = {SOURCE_LANGUAGE: NullTranslations()}
        for po in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            code = po.parent.parent.name
            self._translations[code] = _load(po)
        self._names = {code: autonym(code) for code in sorted(self._translations)}
        self._locales: dict[str, Locale] = {}
        for code in self._translations:
            try:
                self._locales[code] = Locale.parse(code)
            except (ValueError, UnknownLocaleError):
                log.warning("no Babel locale data for %s: dates and times stay as written", code)

    def languages(self) -> Mapping[str, str]:
        return self._names

    def supports(self, language: str) -> bool:
        return language in self._translations

    def text(self, language: str, key: str) -> str:
        return self.render(language, Text(key))

    def render(self, language: str, text: Text) -> str:
        translations = self._translations.get(language) or self._translations[SOURCE_LANGUAGE]
        source = self.catalog.texts.get(text.key)
        if source is None:
            log.error("message key %s is not defined", text.key)
            return text.key
        if isinstance(source, Plural):
            count = int(text.params.get("count", 0))
            result = str(translations.npgettext(text.key, source.one, source.other, count))
        else:
            result = str(translations.pgettext(text.key, source))
        params = _localized(text.params, self._locales.get(language)) if text.params else {}
        try:
            return result.format_map(params) if params else result
        except (KeyError, ValueError, IndexError):
            log.error("message %s in %s has bad placeholders", text.key, language)
            fallback = source.other if isinstance(source, Plural) else source
            return fallback.format_map(params)

    def format(self, language: str, key: str, params: Mapping[str, str | int]) -> str:
        return self.render(language, Text(key, params))

    def country_name(self, language: str, code: str) -> str:
        locale = self._locales.get(language) or self._locales.get(SOURCE_LANGUAGE)
        return str(locale.territories.get(code, code)) if locale else code

    def language_name(self, language: str, code: str) -> str:
        locale = self._locales.get(language) or self._locales.get(SOURCE_LANGUAGE)
        try:
            name = Locale.parse(code).get_display_name(locale)
        except (ValueError, UnknownLocaleError):
            name = None
        return name or code

    def reply_text(self, language: str, reply: Reply) -> str:
        return "\n".join(self.render(language, part) for part in reply.parts)

    def label(self, language: str, choice: Choice) -> str:
        return choice.label or self.text(language, choice.key)

    def lines(self, outbound: Outbound) -> list[str]:
        return [self.reply_text(outbound.language, reply) for reply in outbound.replies]


WEEKDAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")


def _localized(params: Mapping[str, str | int], locale: Locale | None) -> dict[str, str | int]:
    """Opening hours in the person's locale: `weekday` (mo..su) and `opens` / `closes` (HH:MM)."""
    result = dict(params)
    if locale is None:
        return result
    weekday = result.get("weekday")
    if isinstance(weekday, str) and weekday in WEEKDAYS:
        result["weekday"] = get_day_names("wide", locale=locale)[WEEKDAYS.index(weekday)]
    for name in ("opens", "closes"):
        value = result.get(name)
        if isinstance(value, str) and len(value) == 5 and value[2] == ":":
            hour, minute = int(value[:2]), int(value[3:])
            result[name] = format_time(time(hour, minute), format="short", locale=locale)
    return result


def _load(po: Path) -> NullTranslations:
    """Prefer the compiled .mo; compile it in memory from the .po when missing or stale."""
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    with po.open("rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)
