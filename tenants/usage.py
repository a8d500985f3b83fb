"""What an organization uses, counted by the apps that own the rows.

Tenancy keeps the policy (plans, limits, admission, the daily usage rows) but owns no
documents, sources or questions. Each app registers the counters of its own rows when it
starts (its ``AppConfig.ready()``): ingestion counts documents, stored bytes and
sources; accounts counts people; search counts questions. Tenancy asks for a count by
name and never imports the app behind it.

Two kinds of counter:

- a **level** is what the organization holds now (documents, stored bytes, people,
  sources): admission checks it against the plan's limit, the daily row records it;
- a **day's activity** is what happened in a window of time (questions and LLM tokens,
  sync runs, documents added): the daily measurement raises its counters to it.

Counters run in the organization's schema. They count the whole organization, not what
the person whose request asks may see, so each takes its own organization-wide scope
(``workspaces.rls.organization_scope``) where row-level security applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, Protocol, get_args

Level = Literal["documents", "storage_bytes", "members", "sources"]
Activity = Literal["questions", "llm_tokens", "sync_runs", "documents_added"]

LevelCounter = Callable[[], int]


class ActivityCounter(Protocol):
    def __call__(self, *, start: datetime, end: datetime) -> Mapping[Activity, int]:
        """Counts of the activities this app knows of, in ``[start, end)``."""
        ...


_levels: dict[Level, LevelCounter] = {}
_activities: list[ActivityCounter] = []


class CounterMissing(LookupError):
    """No installed app counts this level (an app that should register it is missing)."""


def level_counter_register(name: Level, counter: LevelCounter) -> None:
    """Count the level ``name`` with ``counter``; one counter per level (the last wins,
    so that a reloaded app does not count twice)."""
    if name not in get_args(Level):
        raise ValueError(f"unknown usage level {name!r}")
    _levels[name] = counter


def activity_counter_register(counter: ActivityCounter) -> None:
    """Add ``counter`` to those asked for a day's activity (once per counter)."""
    if counter not in _activities:
        _activities.append(counter)


def level_count(name: Level) -> int:
    """The current organization's level ``name``, e.g. ``level_count("documents")``."""
    try:
        counter = _levels[name]
    except KeyError:
        raise CounterMissing(f"no installed app counts {name!r}") from None
    return int(counter())


def activity_count(*, start: datetime, end: datetime) -> dict[Activity, int]:
    """Every registered activity of the current organization in ``[start, end)``; an
    activity no app counts is 0."""
    counts: dict[Activity, int] = dict.fromkeys(get_args(Activity), 0)
    for counter in _activities:
        for name, value in counter(start=start, end=end).items():
            counts[name] += int(value or 0)
    return counts
