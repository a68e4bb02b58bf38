"""Command line: `python -m bot COMMAND`. Settings are read here, once, and passed down."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import ConfigError, FlowDataError

if TYPE_CHECKING:
    from bot.adapters.nlu.runtime import BackgroundRasa
    from bot.config import Settings

DEFAULT_FLOWS = Path(__file__).resolve().parent.parent / "flows"


def _flow_data(flows: Path):  # type: ignore[no-untyped-def]
    from bot.flowdata.load import load_flow_data

    return load_flow_data(flows)


def cmd_validate(args: argparse.Namespace) -> int:
    data = _flow_data(args.flows)
    steps = sum(len(f.steps) for f in data.flows.values())
    services = len(data.directory.services)
    print(
        f"{args.flows}: valid. {len(data.book.indicators)} indicators, "
        f"{len(data.book.outcomes)} outcome rules, {len(data.flows)} interview(s) with "
        f"{steps} steps, {services} services, {len(data.catalog.texts)} messages."
    )
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    from bot.cli_assess import run

    return run(
        _flow_data(args.flows),
        sys.stdin,
        sys.stdout,
        sys.stderr,
        jsonl=args.jsonl,
        now=datetime.now(UTC),
    )


def cmd_flow_diagram(args: argparse.Namespace) -> int:
    from bot.domain.diagram import mermaid

    data = _flow_data(args.flows)
    if args.flow not in data.flows:
        print(
            f"no interview named {args.flow!r}; there is: {', '.join(data.flows)}", file=sys.stderr
        )
        return 2
    sys.stdout.write(mermaid(data.flows[args.flow]))
    return 0


def _app(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bot.bootstrap import build
    from bot.config import load_settings

    settings = load_settings()
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # only the bot's user
    if args.flows != DEFAULT_FLOWS:
        settings = settings.model_copy(update={"flows_dir": args.flows})
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        # the terminal chat keeps the screen for the person: logs go to a file
        filename=settings.data_dir / "bot.log"
        if getattr(args, "log_to_file", True) and (args.command in ("chat", "run"))
        else None,
    )
    return build(settings)


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.adapters.terminal import TerminalChat
    from bot.bootstrap import start_retention_job

    app = _app(args)
    start_retention_job(app)
    chat = TerminalChat(
        app.service, app.translator, sys.stdin, sys.stdout, user=args.user, language=args.language
    )
    return chat.run()


def cmd_telegram(args: argparse.Namespace) -> int:
    from bot.adapters.telegram.app import TelegramChannel, run
    from bot.bootstrap import build_delivery, start_delivery_worker, start_retention_job
    from bot.config import staff_settings, telegram_settings

    args.log_to_file = False
    app = _app(args)
    settings = telegram_settings(app.settings)
    staff = staff_settings(app.settings)
    start_retention_job(app)
    # Referrals are delivered from this process too (more workers: python -m bot deliver).
    delivery = build_delivery(app.settings, app.clock, store=app.store)
    stop = start_delivery_worker(delivery)
    try:
        channel = TelegramChannel(
            app.service, app.store, app.translator, staff=staff, partners=delivery.answers
        )
        run(channel, settings)
    finally:
        stop.set()
        delivery.worker.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Telegram when TELEGRAM_TOKEN is set, else the terminal chat."""
    from bot.config import load_settings

    settings = load_settings()
    rasa = _start_rasa(settings)
    try:
        if settings.telegram_token.get_secret_value():
            return cmd_telegram(args)
        args.user, args.language = "local", None
        return cmd_chat(args)
    finally:
        if rasa is not None:
            rasa.stop()


def _start_rasa(settings: Settings) -> BackgroundRasa | None:
    """The Rasa NLU server, trained if needed and started in the background: the bot answers
    with the keyword fallback until it is ready, and whenever it is down."""
    from bot.adapters.nlu.runtime import BackgroundRasa, RasaProject, loopback_port

    if not settings.nlu_url:
        return None
    project = RasaProject(settings.nlu_dir)
    if not project.venv.exists():
        print(
            "The Rasa runtime is not set up (make nlu-setup): using the keyword NLU.",
            file=sys.stderr,
        )
        return None
    return BackgroundRasa(
        project,
        loopback_port(settings.nlu_url),
        settings.nlu_token.get_secret_value(),
        settings.nlu_workers,
    ).start()


def cmd_keys(_args: argparse.Namespace) -> int:
    import secrets

    from bot.adapters.crypto import new_key

    print(f"DATA_KEYS={new_key()}")
    print(f"LOOKUP_KEY={secrets.token_urlsafe(48)}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from bot.bootstrap import purge_expired

    app = _app(args)
    print(
        f"removed {purge_expired(app)} conversation(s) older than "
        f"{app.settings.retention_days} days"
    )
    return 0


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    app = _app(args)
    print(f"re-encrypted {app.store.rotate_keys()} value(s) with the first key of DATA_KEYS")
    return 0


def cmd_detect_language(args: argparse.Namespace) -> int:
    import json

    from bot.adapters.langid import LanguageDetector

    detector = LanguageDetector()
    for line in sys.stdin:
        text = detector.normalize(line.rstrip("\r\n"))
        found = detector.detect(text, args.prior)
        result = {
            "language": found.language,
            "confidence": found.confidence,
            "script": found.script,
        }
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from bot.cli_nlu import parse
    from bot.config import load_settings

    return parse(load_settings(), args.flows, sys.stdin, sys.stdout)


def cmd_nlu_train(args: argparse.Namespace) -> int:
    from bot.cli_nlu import nlu_train

    return nlu_train(force=args.force)


def cmd_nlu_serve(_args: argparse.Namespace) -> int:
    from bot.cli_nlu import nlu_serve
    from bot.config import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return nlu_serve(load_settings())


def cmd_nlu_eval(args: argparse.Namespace) -> int:
    from bot.cli_nlu import nlu_eval

    return nlu_eval(args.flows, args.keyword_only, args.verbose, sys.stdout)


def cmd_nlu_validate(args: argparse.Namespace) -> int:
    from bot.cli_nlu import nlu_validate

    return nlu_validate(args.flows, sys.stdout)


def cmd_directory_validate(args: argparse.Namespace) -> int:
    from bot.directory_tools.cli import validate

    return validate(args.flows, sys.stdout)


def cmd_directory_export(args: argparse.Namespace) -> int:
    from bot.directory_tools.cli import export

    return export(args.flows, args.format, args.out, sys.stdout)


def cmd_directory_import(args: argparse.Namespace) -> int:
    from bot.directory_tools.cli import import_

    return import_(args.flows, args.source, args.out_dir, sys.stdout, sys.stderr)


def cmd_directory_stale(args: argparse.Namespace) -> int:
    from datetime import date

    from bot.directory_tools.cli import stale

    if args.days < 0:
        print("--days must be 0 or more", file=sys.stderr)
        return 2
    try:
        today = date.fromisoformat(args.today) if args.today else date.today()
    except ValueError:
        print(f"--today {args.today!r} is not a day; write it like 2026-01-15", file=sys.stderr)
        return 2
    return stale(args.flows, args.days, today, sys.stdout, sys.stderr)


def _delivery_settings() -> Settings:
    from bot.config import load_settings

    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return settings


def cmd_deliver(args: argparse.Namespace) -> int:
    import signal
    import threading

    from bot.bootstrap import build_delivery

    delivery = build_delivery(_delivery_settings())
    try:
        if args.once:
            report = delivery.worker.run_once()
            print(
                f"claimed {report.claimed}, delivered {report.delivered}, "
                f"retrying {report.retried}, failed {report.failed}, overdue {report.overdue}"
            )
            return 0
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        delivery.worker.run(stop)
        return 0
    finally:
        delivery.worker.close()
        delivery.store.engine.dispose()


def cmd_partner_api(_args: argparse.Namespace) -> int:
    import uvicorn

    from bot.bootstrap import build_partner_api

    settings = _delivery_settings()
    host, _, port = settings.partner_api_listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("PARTNER_API_LISTEN must look like 127.0.0.1:8081")
    app = build_partner_api(settings)
    uvicorn.run(app, host=host.strip("[]"), port=int(port), log_level="info")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "--flows",
        type=Path,
        default=DEFAULT_FLOWS,
        help="the flows/ folder (default: the one beside the code)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check flows/ and exit non-zero on any problem").set_defaults(
        func=cmd_validate
    )
    assess = sub.add_parser("assess", help="assess indicators read as JSON from stdin")
    assess.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    assess.set_defaults(func=cmd_assess)
    diagram = sub.add_parser("flow-diagram", help="print a Mermaid diagram of an interview")
    diagram.add_argument("flow", help="the interview id, e.g. screening")
    diagram.set_defaults(func=cmd_flow_diagram)
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument(
        "--user", default="local", help="who you are in the database (default: local)"
    )
    chat.add_argument("--language", help="a language code to start in, e.g. th")
    chat.set_defaults(func=cmd_chat)
    sub.add_parser("telegram", help="run the Telegram bot (TELEGRAM_TOKEN)").set_defaults(
        func=cmd_telegram
    )
    sub.add_parser(
        "run", help="run the bot: Telegram when TELEGRAM_TOKEN is set, else the terminal"
    ).set_defaults(func=cmd_run)
    detect = sub.add_parser(
        "detect-language", help="one message per line in, one JSON per line out"
    )
    detect.add_argument("--prior", help="a Telegram language_code, e.g. th or zh-hant")
    detect.set_defaults(func=cmd_detect_language)
    sub.add_parser("keys", help="print new DATA_KEYS and LOOKUP_KEY lines for .env").set_defaults(
        func=cmd_keys
    )
    sub.add_parser("purge", help="delete conversations older than RETENTION_DAYS").set_defaults(
        func=cmd_purge
    )
    sub.add_parser(
        "rotate-keys", help="re-encrypt stored data with the first key of DATA_KEYS"
    ).set_defaults(func=cmd_rotate_keys)
    sub.add_parser(
        "parse", help="understand messages: one per line in, one JSON per line out"
    ).set_defaults(func=cmd_parse)
    nlu_train = sub.add_parser(
        "nlu-train", help="train the Rasa model when nlu/ data or config changed"
    )
    nlu_train.add_argument("--force", action="store_true", help="train even if up to date")
    nlu_train.set_defaults(func=cmd_nlu_train)
    sub.add_parser(
        "nlu-serve", help="run the Rasa NLU server on NLU_URL's port, in the foreground"
    ).set_defaults(func=cmd_nlu_serve)
    nlu_eval = sub.add_parser(
        "nlu-eval", help="intent accuracy and indicator precision/recall on held-out sets"
    )
    nlu_eval.add_argument(
        "--keyword-only", action="store_true", help="only the keyword fallback (no Rasa)"
    )
    nlu_eval.add_argument("--verbose", action="store_true", help="list every wrong intent")
    nlu_eval.set_defaults(func=cmd_nlu_eval)
    sub.add_parser(
        "nlu-validate", help="check nlu/ lexicons, training data and held-out sets"
    ).set_defaults(func=cmd_nlu_validate)
    deliver = sub.add_parser(
        "deliver", help="deliver queued referrals to partners (webhook, Telegram, e-mail)"
    )
    deliver.add_argument("--once", action="store_true", help="one pass, then exit")
    deliver.set_defaults(func=cmd_deliver)
    sub.add_parser(
        "partner-api", help="serve the partners' signed status callbacks on PARTNER_API_LISTEN"
    ).set_defaults(func=cmd_partner_api)
    directory = sub.add_parser(
        "directory", help="the service directory: validate, export, import, stale entries"
    )
    dir_sub = directory.add_subparsers(dest="directory_command", required=True)
    dir_sub.add_parser(
        "validate", help="check flows/directory and flows/routing.yaml (file:line per problem)"
    ).set_defaults(func=cmd_directory_validate)
    dir_export = dir_sub.add_parser(
        "export", help="write the directory as HSDS 3.0 JSON, or as CSV in a data package"
    )
    dir_export.add_argument(
        "--format", choices=("hsds-json", "csv"), default="hsds-json", help="default: hsds-json"
    )
    dir_export.add_argument(
        "out", type=Path, help="hsds-json: the .json file to write (- for stdout); csv: a folder"
    )
    dir_export.set_defaults(func=cmd_directory_export)
    dir_import = dir_sub.add_parser(
        "import", help="write YAML directory files from HSDS JSON, then check them"
    )
    dir_import.add_argument("--format", choices=("hsds-json",), default="hsds-json")
    dir_import.add_argument("source", type=Path, help="the HSDS JSON file to read")
    dir_import.add_argument(
        "out_dir", type=Path, help="the folder to write .yaml files to (e.g. flows/directory)"
    )
    dir_import.set_defaults(func=cmd_directory_import)
    dir_stale = dir_sub.add_parser(
        "stale", help="list entries not verified for more than N days, oldest first"
    )
    dir_stale.add_argument("--days", type=int, default=365, help="default: 365")
    dir_stale.add_argument("--today", help="report as of this day, YYYY-MM-DD (default: today)")
    dir_stale.set_defaults(func=cmd_directory_stale)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FlowDataError as exc:
        print(f"flows/ has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"configuration problem: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
