"""Due dates and late penalties, the nbgrader way.

* The due date lives in the gradebook (nbgrader's ``Assignment.duedate``): ``backprop-lab due
  ASSIGNMENT "2026-12-10 17:00"`` sets it (a date without a time zone is this machine's local time;
  "2026-12-10 17:00 Europe/Berlin" or "... +01:00" name one), ``backprop-lab due ASSIGNMENT`` shows it.
* A submission's time is nbgrader's ``timestamp.txt`` beside it (`collect` writes one).
* nbgrader's `AssignLatePenalties` step asks the configured plugin for each late notebook's penalty;
  `DailyPenalty` (set in autograder/nbgrader_config.py) takes `percent_per_day` of the notebook's score
  for every started day late. The penalty is shown in the feedback ("Late submission penalty") and in
  the export (a ``<assignment>/late_penalty`` column; the total is after it).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

from ..release import CourseError

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's Exchange.timestamp_format


class DailyPenalty(LateSubmissionPlugin):
    """`percent_per_day` percent of the score per started day late (at most the whole score)."""

    percent_per_day = Float(10.0, help="Percent of the notebook's score taken per started day late.").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        if total_seconds_late <= 0:
            return None
        days = math.ceil(total_seconds_late / 86400)
        return min(score, score * self.percent_per_day / 100.0 * days)


def parse_when(text: str) -> datetime:
    """A date and time as naive UTC (nbgrader's convention); naive input is this machine's local time."""
    from dateutil import parser, tz

    text = text.strip()
    head, _, zone = text.rpartition(" ")
    zone_info = tz.gettz(zone) if head and zone and not zone[0].isdigit() and not zone.startswith(("+", "-")) else None
    try:
        when = parser.parse(head if zone_info else text)
    except (ValueError, OverflowError):
        raise CourseError(f"cannot read the date {text!r}: write it like \"2026-12-10 17:00\" "
                          "(local time) or \"2026-12-10 17:00 Europe/Berlin\"") from None
    if zone_info:
        when = when.replace(tzinfo=zone_info)
    if when.tzinfo is None:
        when = when.astimezone()  # the machine's local zone
    return when.astimezone(timezone.utc).replace(tzinfo=None)


def timestamp_text(when: datetime) -> str:
    """nbgrader's timestamp.txt text for a naive-UTC or aware `when`."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


def read_timestamp(folder: Path) -> datetime | None:
    """The time in nbgrader's ``timestamp.txt`` of a submission folder, as naive UTC (None if absent)."""
    from nbgrader.utils import parse_utc

    path = Path(folder) / "timestamp.txt"
    if not path.is_file():
        return None
    try:
        return parse_utc(path.read_text().strip())
    except (ValueError, OverflowError):
        return None


def set_due(root: Path, assignment: str, when: str | None) -> datetime | None:
    """Store (or with `when` None, read) `assignment`'s due date in the gradebook; return it as naive UTC.

    The gradebook must know the assignment already (`autograde.ensure_in_gradebook` records it).
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook("sqlite:///" + str(root / "autograder" / "gradebook.db")) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            raise CourseError(f"the gradebook has no assignment {assignment!r} yet: "
                              f"run `backprop-lab release {assignment}` first") from None
        if when is None:
            return found.duedate
        due = parse_when(when)
        gb.update_or_create_assignment(assignment, duedate=due)
        return due


def due_dates(gb) -> dict[str, datetime]:
    """{assignment: due date (naive UTC)} of every assignment that has one, in an open gradebook."""
    return {a.name: a.duedate for a in gb.assignments if a.duedate is not None}
