"""Babel extractor for flows/messages/*.yaml (registered in babel.cfg).

Each key becomes the msgctxt and its English text the msgid, so translators see the English
and keys stay stable when the English is edited.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from bot.flowdata.yamlsrc import SourceDict, _Loader


def extract_messages(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, tuple[str, ...], list[str]]]:
    loader = _Loader(fileobj.read().decode("utf-8"))
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    if not isinstance(data, SourceDict):
        return
    for key, value in data.items():
        line = data.key_lines.get(key, 0)
        if isinstance(value, str):
            yield line, "pgettext", (str(key), value), [f"key: {key}"]
        elif isinstance(value, SourceDict) and "one" in value and "other" in value:
            yield line, "npgettext", (str(key), value["one"], value["other"]), [f"key: {key}"]
