"""Time until every case has its topic when many people ask for a person at once."""

from __future__ import annotations

import argparse

from tests.bench.machine import describe
from tests.bench.staff_load import run_staff_load


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    args = parser.parse_args(argv)
    print(
        f"staff handover load on {describe()} (Telegram's limits simulated: 20 messages a "
        "minute per group, 30 a second overall)"
    )
    print(run_staff_load(args.people).line(), flush=True)
    return 0
