"""YAML reading that remembers where each mapping and list came from, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class SourceDict(dict[Any, Any]):
    """A YAML mapping that knows its file and the line of each key."""

    path: str
    line: int
    key_lines: dict[Any, int]


class SourceList(list[Any]):
    """A YAML sequence that knows its file and the line of each item."""

    path: str
    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    source_path = "?"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> SourceDict:
    loader.flatten_mapping(node)
    result = SourceDict()
    result.path = loader.source_path
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        # YAML reads yes/no/on/off/true/false and numbers as non-strings; such keys are kept as
        # they are so validation can say so instead of failing obscurely.
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> SourceList:
    result = SourceList(loader.construct_object(child, deep=True) for child in node.value)
    result.path = loader.source_path
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlSyntaxError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


def load_yaml(path: Path, shown_as: str | None = None) -> Any:
    """Parse one YAML file; mappings become SourceDict and sequences SourceList."""
    name = shown_as or str(path)
    loader = _Loader(path.read_text(encoding="utf-8"))
    loader.source_path = name
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise YamlSyntaxError(f"{name}:{line}: this is not valid YAML ({exc.problem})") from exc
    finally:
        loader.dispose()


def where(container: Any, key: str | int | None = None) -> str:
    """'file:line' for a key of a SourceDict, an item of a SourceList, or the container itself."""
    path = getattr(container, "path", "?")
    line = getattr(container, "line", 0)
    if isinstance(container, SourceDict) and key is not None:
        line = container.key_lines.get(key, line)
    elif isinstance(container, SourceList) and isinstance(key, int) and key < len(container):
        line = container.item_lines[key]
    return f"{path}:{line}"


class Problems:
    """Collects validation problems so one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, at: str, message: str) -> None:
        self.items.append(f"{at}: {message}")

    def __bool__(self) -> bool:
        return bool(self.items)
