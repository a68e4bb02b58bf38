"""`python -m bot directory ...`: reading and writing files for the directory commands.

A directory that does not validate raises FlowDataError, which __main__ prints (file:line each).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import TextIO

from bot.directory_tools.hsds import HSDS_VERSION, export_hsds
from bot.directory_tools.importer import import_hsds
from bot.directory_tools.sources import (
    DirectorySources,
    directory_files,
    message_keys,
    scan_directory,
)
from bot.directory_tools.stale import stale_report
from bot.directory_tools.tables import DESCRIPTOR, data_package
from bot.domain.directory import Directory
from bot.errors import FlowDataError
from bot.flowdata.directory import load_directory

_CHECK = "import-check"  # name of the temporary flows folder imported files are checked in


def _load(flows: Path) -> tuple[Directory, DirectorySources]:
    directory = load_directory(flows, message_keys(flows))
    return directory, scan_directory(flows)


def _counts(directory: Directory) -> str:
    return f"{len(directory.organizations)} organizations, {len(directory.services)} services"


def validate(flows: Path, out: TextIO) -> int:
    directory, _ = _load(flows)
    examples = sum(s.example for s in directory.services)
    print(
        f"{flows}/directory and routing.yaml: valid. {len(directory_files(flows))} files, "
        f"{_counts(directory)} ({examples} marked example), {len(directory.rules)} routing rules.",
        file=out,
    )
    return 0


def export(flows: Path, fmt: str, target: Path, out: TextIO) -> int:
    directory, sources = _load(flows)
    files = sources.organization_files
    if fmt == "csv":
        package = data_package(directory, files)
        target.mkdir(parents=True, exist_ok=True)
        for name, content in package.items():
            (target / name).write_bytes(content)
        print(
            f"wrote {target}/: {len(package) - 1} HSDS {HSDS_VERSION} tables (CSV) and "
            f"{DESCRIPTOR}; {_counts(directory)}.",
            file=out,
        )
        return 0
    text = json.dumps(export_hsds(directory, files), indent=2, ensure_ascii=False) + "\n"
    if str(target) == "-":
        out.write(text)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}: HSDS {HSDS_VERSION} JSON, {_counts(directory)}.", file=out)
    return 0


def import_(flows: Path, source: Path, out_dir: Path, out: TextIO, err: TextIO) -> int:
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"cannot read {source}: {exc.strerror}", file=err)
        return 1
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f":{exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        print(f"{source}{where}: this is not JSON ({exc})", file=err)
        return 1
    result = import_hsds(data)
    for note in result.notes:
        print(f"note: {note}", file=err)
    if not result.files:
        print(f"{source}: no organisations found; nothing written", file=err)
        return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in result.files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    print(
        f"wrote {', '.join(result.files)} to {out_dir}/: {result.organizations} organizations, "
        f"{result.services} services.",
        file=out,
    )
    others = sorted(p.name for p in out_dir.glob("*.yaml") if p.name not in result.files)
    if others:
        print(
            f"note: {out_dir}/ also holds {', '.join(others)}, not from this import; the bot "
            "reads every .yaml file there",
            file=err,
        )
    problems = check_directory(flows, out_dir)
    if problems:
        print(
            f"{out_dir}/ has {len(problems)} problem(s) (checked with {flows}/routing.yaml):",
            file=err,
        )
        for problem in problems:
            print(f"  {problem}", file=err)
        return 1
    print(f"{out_dir}/: valid with {flows}/routing.yaml.", file=out)
    return 0


def check_directory(flows: Path, folder: Path) -> list[str]:
    """Problems of the .yaml files in folder, used as flows/directory with flows' routing.yaml."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / _CHECK
        (root / "directory").mkdir(parents=True)
        for path in sorted(folder.glob("*.yaml")):
            shutil.copyfile(path, root / "directory" / path.name)
        if (flows / "routing.yaml").is_file():
            shutil.copyfile(flows / "routing.yaml", root / "routing.yaml")
        try:
            load_directory(root, message_keys(flows))
        except FlowDataError as exc:
            # Name the files staff will open, not the temporary copies.
            renames = {f"{_CHECK}/directory/": f"{folder}/", f"{_CHECK}/": f"{flows}/"}
            return [_renamed(problem, renames) for problem in exc.problems]
    return []


def _renamed(problem: str, renames: dict[str, str]) -> str:
    for old, new in renames.items():
        if problem.startswith(old):
            return new + problem[len(old) :]
    return problem


def stale(flows: Path, days: int, today: date, out: TextIO, err: TextIO) -> int:
    sources = scan_directory(flows)
    for problem in sources.problems:
        print(f"note: not read: {problem}", file=err)
    for line in stale_report(sources.services, today, days):
        print(line, file=out)
    return 0
