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


def fill_source_catalog(po_path: str) -> int:
    """The English catalog repeats the source text (msgstr = msgid); return entries written."""
    from babel.messages.pofile import read_po, write_po

    with open(po_path, "rb") as handle:
        catalog = read_po(handle)
    written = 0
    for message in catalog:
        if not message.id:
            continue
        message.string = message.id  # a plural id is (one, other): the same forms
        message.flags.discard("fuzzy")
        written += 1
    with open(po_path, "wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False)
    return written


if __name__ == "__main__":
    import sys

    print(f"{fill_source_catalog(sys.argv[1])} source texts written to {sys.argv[1]}")
