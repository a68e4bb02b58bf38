"""Where each organisation and service of flows/directory is written, read straight from the YAML.

No validation here: the staleness report must work on a directory that does not validate yet, and
exports need to know which file an organisation came from (the loaded Directory does not say).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from bot.errors import FlowDataError
from bot.flowdata.yamlsrc import SourceDict, SourceList, YamlSyntaxError, load_yaml, where


@dataclass(frozen=True, slots=True)
class ServiceSource:
    """One service as written: where, and its last_verified (None when missing or not a date)."""

    at: str  # "flows/directory/examples.yaml:104": the last_verified line, else the service's
    service_id: str
    name: str
    last_verified: date | None
    written_as: str = ""  # what stands after last_verified: when it is not a date
    example: bool = False


@dataclass(frozen=True, slots=True)
class DirectorySources:
    organization_files: Mapping[str, str] = field(default_factory=dict)  # org id -> "x.yaml"
    services: tuple[ServiceSource, ...] = ()
    problems: tuple[str, ...] = ()  # files that could not be read at all


def directory_files(flows_dir: Path) -> list[Path]:
    """The files the bot reads, in the order it reads them."""
    return sorted((flows_dir / "directory").glob("*.yaml"))


def shown(flows_dir: Path, path: Path) -> str:
    """The name staff see in their editor, as the loader prints it: flows/directory/x.yaml."""
    return f"{flows_dir.name}/{path.relative_to(flows_dir).as_posix()}"


def _date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _dicts(container: object, key: str) -> list[SourceDict]:
    items = container.get(key) if isinstance(container, SourceDict) else None
    return (
        [item for item in items if isinstance(item, SourceDict)]
        if isinstance(items, SourceList)
        else []
    )


def _text(d: SourceDict, key: str) -> str:
    value = d.get(key)
    return value.strip() if isinstance(value, str) else ""


def scan_directory(flows_dir: Path) -> DirectorySources:
    org_files: dict[str, str] = {}
    services: list[ServiceSource] = []
    problems: list[str] = []
    for path in directory_files(flows_dir):
        try:
            data = load_yaml(path, shown(flows_dir, path))
        except YamlSyntaxError as exc:
            problems.append(str(exc))
            continue
        for org in _dicts(data, "organizations"):
            org_id = _text(org, "id")
            if org_id:
                org_files.setdefault(org_id, path.name)
            for service in _dicts(org, "services"):
                x = service.get("x_screening")
                x = x if isinstance(x, SourceDict) else None
                raw = x.get("last_verified") if x is not None else None
                has_date = x is not None and raw is not None
                services.append(
                    ServiceSource(
                        at=where(x, "last_verified") if has_date else where(service, "id"),
                        service_id=_text(service, "id"),
                        name=_text(service, "name"),
                        last_verified=_date(raw) if has_date else None,
                        written_as="" if raw is None else str(raw),
                        example=x is not None and x.get("example") is True,
                    )
                )
    return DirectorySources(
        organization_files=org_files, services=tuple(services), problems=tuple(problems)
    )


def message_keys(flows_dir: Path) -> set[str] | None:
    """Keys defined in flows/messages/*.yaml, to check routing `why:` keys; None: no folder."""
    folder = flows_dir / "messages"
    if not folder.is_dir():
        return None
    keys: set[str] = set()
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = load_yaml(path, shown(flows_dir, path))
        except YamlSyntaxError as exc:
            problems.append(str(exc))
            continue
        if isinstance(data, SourceDict):
            keys.update(key for key in data if isinstance(key, str))
    if problems:
        raise FlowDataError(problems)
    return keys
