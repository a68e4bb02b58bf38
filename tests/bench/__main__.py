"""`python -m tests.bench` (or `make bench`): run every benchmark and print its figures."""

from __future__ import annotations

import sys

from tests.bench import bench_conversation


def main() -> int:
    return bench_conversation.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
