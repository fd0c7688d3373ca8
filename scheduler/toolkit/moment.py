"""The storm's moment for a supporter's calendar: an iCalendar event (the ``icalendar`` library) with an
alarm before it, and a Google Calendar template link (a plain link the visitor clicks; it loads nothing).
The visitor's own local time and the countdown are computed in the browser (static/toolkit.js)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from icalendar import Alarm, Calendar, Event

#: How long before the storm the calendar reminds the supporter.
ALARM_BEFORE = timedelta(minutes=15)
#: How long the event lasts when the storm names no spread window.
DEFAULT_LENGTH = timedelta(minutes=30)
GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
PRODUCT_ID = "-//Stormcaller//supporter toolkit//EN"


@dataclass(frozen=True)
class Moment:
    """One storm, for calendars: when it starts and ends (aware UTC), what to call it, what to say."""

    uid: str              # the event's identity: the same storm keeps it when the toolkit is made again
    start: datetime
    end: datetime
    title: str
    description: str
    link: str | None = None

    @property
    def iso_start(self) -> str:
        """The instant as the page's ``datetime`` attribute carries it: ISO 8601 in UTC with a ``Z``."""
        return self.start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def calendar_file(moment: Moment, stamp: datetime) -> bytes:
    """The storm as an .ics file: one event in UTC with a display alarm ``ALARM_BEFORE`` it. ``stamp``: when
    the file is made (DTSTAMP)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", moment.uid)
    event.add("dtstamp", stamp.astimezone(timezone.utc))
    event.add("dtstart", moment.start.astimezone(timezone.utc))
    event.add("dtend", moment.end.astimezone(timezone.utc))
    event.add("summary", moment.title)
    event.add("description", moment.description)
    if moment.link:
        event.add("url", moment.link)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", moment.title)
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def google_calendar_link(moment: Moment) -> str:
    """Google Calendar's event template, filled in (opens only when clicked)."""
    def stamp(instant: datetime) -> str:
        return instant.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")

    query = {"action": "TEMPLATE", "text": moment.title, "dates": f"{stamp(moment.start)}/{stamp(moment.end)}",
             "details": moment.description}
    return f"{GOOGLE_TEMPLATE}?{urlencode(query)}"
