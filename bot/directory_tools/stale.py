"""Which directory entries nobody has checked for too long: the staleness report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from bot.directory_tools.sources import ServiceSource


def stale_services(
    services: Sequence[ServiceSource], today: date, days: int
) -> list[ServiceSource]:
    """Services last verified more than `days` days before today, or never; oldest first.

    An entry with no readable date comes first: it may never have been checked.
    """
    cutoff = today - timedelta(days=days)
    stale = [s for s in services if s.last_verified is None or s.last_verified < cutoff]
    # sorted() is stable: entries of the same day stay in directory order.
    return sorted(stale, key=lambda s: (s.last_verified is not None, s.last_verified or date.min))


def _line(s: ServiceSource, today: date) -> str:
    who = f'{s.service_id or "(no id)"} "{s.name}"'
    example = " (example entry)" if s.example else ""
    if s.last_verified is not None:
        age = (today - s.last_verified).days
        return f"{s.at}: {who}: last verified {s.last_verified}, {age} days ago{example}"
    if s.written_as:
        return f'{s.at}: {who}: last_verified "{s.written_as}" is not a date{example}'
    return f"{s.at}: {who}: no last_verified date{example}"


def stale_report(services: Sequence[ServiceSource], today: date, days: int) -> list[str]:
    """The report's lines: a summary, then one line per stale entry with its file:line."""
    stale = stale_services(services, today, days)
    if not stale:
        return [
            f"All {len(services)} services were verified in the last {days} days "
            f"(as of {today.isoformat()})."
        ]
    return [
        f"{len(stale)} of {len(services)} services not verified in the last {days} days "
        f"(as of {today.isoformat()}), oldest first:",
        *(f"  {_line(s, today)}" for s in stale),
    ]
