"""The period a dashboard shows: the last 7/30/90 days or a custom range of days, in a
time zone (a day is midnight to midnight there)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

PRESETS = (7, 30, 90)
# A year and a day: a dashboard over more would be slow and unreadable.
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Days ``first`` to ``last`` (both included) in ``tz``."""

    first: dt.date
    last: dt.date
    tz: ZoneInfo
    preset: int | None = None  # 7, 30 or 90; None for a custom range

    @property
    def start(self) -> dt.datetime:
        """The first instant of the period (midnight of ``first`` in ``tz``)."""
        return dt.datetime.combine(self.first, dt.time.min, tzinfo=self.tz)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the period (midnight after ``last`` in ``tz``)."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min, tzinfo=self.tz)

    @property
    def days(self) -> list[dt.date]:
        count = (self.last - self.first).days + 1
        return [self.first + dt.timedelta(days=i) for i in range(count)]

    def query(self) -> dict[str, str]:
        """The query parameters that name this period."""
        if self.preset:
            return {"days": str(self.preset), "tz": self.tz.key}
        return {"start": self.first.isoformat(), "end": self.last.isoformat(), "tz": self.tz.key}


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(
            {"tz": [_("Unknown time zone: %(name)s.") % {"name": name}]}
        ) from error


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise ValidationError({name: [_("Give a date as YYYY-MM-DD.")]}) from error


def period_parse(params, *, now: dt.datetime | None = None) -> Period:
    """The period named by ``params`` (a QueryDict or dict): ``days`` (7, 30 or 90,
    default 30) or ``start`` and ``end`` (dates, both included), and ``tz`` (an IANA
    zone, default the server's). Bad values raise ValidationError (400 in the API)."""
    tz = _zone(params.get("tz"))
    today = (now or timezone.now()).astimezone(tz).date()
    start, end = params.get("start"), params.get("end")
    if start or end:
        first = _date("start", start) if start else today - dt.timedelta(days=29)
        last = _date("end", end) if end else today
        if last < first:
            raise ValidationError({"end": [_("The end comes before the start.")]})
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError(
                {"start": [_("A period is at most %(count)s days.") % {"count": MAX_DAYS}]}
            )
        return Period(first=first, last=last, tz=tz)
    try:
        days = int(params.get("days") or 30)
    except ValueError:
        days = 0
    if days not in PRESETS:
        raise ValidationError({"days": [_("Choose 7, 30 or 90 days, or a start and an end.")]})
    return Period(first=today - dt.timedelta(days=days - 1), last=today, tz=tz, preset=days)
