"""`python -m tests.bench [NAME] [options]` (or `make bench`): run benchmarks, print figures.

NAME: conversation, langid, telegram, staff, nlu, delivery, or all (default).
"""

from __future__ import annotations

import sys

from tests.bench import (
    bench_conversation,
    bench_delivery,
    bench_langid,
    bench_nlu,
    bench_staff,
    bench_telegram,
)

BENCHMARKS = {
    "conversation": bench_conversation.main,
    "langid": bench_langid.main,
    "telegram": bench_telegram.main,
    "staff": bench_staff.main,
    "nlu": bench_nlu.main,
    "delivery": bench_delivery.main,
}


def main() -> int:
    args = sys.argv[1:]
    name = args.pop(0) if args and args[0] in (*BENCHMARKS, "all") else "all"
    chosen = BENCHMARKS if name == "all" else {name: BENCHMARKS[name]}
    for run in chosen.values():
        status = run(args)
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
