"""The full bot against a bare PTB echo bot, through the fake Bot API server, in one run."""

from __future__ import annotations

import argparse

from tests.bench.machine import describe
from tests.bench.telegram_load import run_load


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"telegram load benchmark on {describe()}")
    echo = run_load("echo", args.people, args.messages)
    print(echo.line(), flush=True)
    echo_aio = run_load("echo-aio", args.people, args.messages)
    print(echo_aio.line(), flush=True)
    full = run_load("full", args.people, args.messages)
    print(full.line(), flush=True)
    print(f"ratio full / PTB echo bot (default httpx client): {full.rate / echo.rate:.2f}")
    print(f"ratio full / PTB echo bot (same aiohttp client):  {full.rate / echo_aio.rate:.2f}")
    return 0
