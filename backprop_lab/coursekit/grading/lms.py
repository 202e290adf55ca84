"""`backprop-lab export --canvas GRADEBOOK.csv`: this course's scores, ready for Canvas's gradebook import.

Canvas's gradebook export (Grades -> Export) is a CSV: a header ``Student, ID, SIS User ID, SIS Login
ID, [Root Account,] Section`` then one column per assignment, named ``Title (canvas id)``, then read-only
totals ("Current Score", "Final Grade", ...); a second row ``Points Possible`` (Canvas marks read-only
columns "(read only)" there; some exports add a "Manual Posting" row); then one row per student,
Canvas's "Student, Test" among them. Its import reads the same layout: a column without an id becomes
a new assignment, with the points possible of the second row.

`canvas_import` writes a copy of that file with a column per assignment of this course filled in (a
column ``01_chain_rule`` added before the read-only totals when Canvas has none, with the points
possible); every other cell is kept as it was. A course student is matched to a Canvas row by a mapping
file (``student,SIS Login ID`` or ``student,ID`` or ``student,SIS User ID``) or, without one, by the
Canvas login (case-insensitive; the part before "@" of an e-mail login counts). Students left over on
either side are listed, never dropped; a score is the assignment's total after nbgrader's late penalty.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..release import CourseError
from .export import assignment_totals

KEY_COLUMNS = ("ID", "SIS User ID", "SIS Login ID")
READ_ONLY = re.compile(r"(Current|Final|Unposted) (Score|Points|Grade)|read only", re.I)
TITLE_ID = re.compile(r"^(?P<title>.*?)\s*\((?P<id>\d+)\)\s*$")


@dataclass
class CanvasImport:
    path: Path
    filled: dict = field(default_factory=dict)           # course student -> Canvas name
    added: list = field(default_factory=list)            # assignment columns added
    course_only: list = field(default_factory=list)      # course students with no Canvas row
    canvas_only: list = field(default_factory=list)      # Canvas rows no course student matched ("Name (login)")
    warnings: list = field(default_factory=list)


def _read(path: Path) -> tuple[list[list[str]], str, bool, str]:
    """Rows, delimiter, whether the file starts with a UTF-8 BOM, and its line ending."""
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return [r for r in rows if any(c.strip() for c in r)], delimiter, bom, "\r\n" if "\r\n" in text else "\n"


def _title(column: str) -> str:
    m = TITLE_ID.match(column)
    return (m["title"] if m else column).strip()


def _same(a: str, b: str) -> bool:
    norm = lambda s: re.sub(r"[\s_\-]+", "_", s.strip().lower())
    return norm(a) == norm(b)


def _mapping(path: Path) -> tuple[str, dict[str, str]]:
    """(Canvas column, {course student: value in that column}) from a two-column mapping CSV."""
    rows = [r for r in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))) if any(c.strip() for c in r)]
    column = next((k for k in KEY_COLUMNS if rows and len(rows[0]) > 1 and _same(rows[0][1], k)), None)
    if not rows or column is None or len(rows[0]) < 2:
        raise CourseError(f"{path}: a mapping file has a header `student,SIS Login ID` (or `student,ID`, "
                          "`student,SIS User ID`), then one line per student: course id, Canvas value")
    return column, {r[0].strip(): r[1].strip() for r in rows[1:] if len(r) > 1 and r[0].strip()}


def _number(value: float, delimiter: str) -> str:
    text = f"{round(value, 2):g}"
    return text.replace(".", ",") if delimiter == ";" else text


def canvas_import(root: Path, gradebook: str | Path, out: str | Path | None = None, mapping: str | Path | None = None,
                  assignment: str | None = None) -> CanvasImport:
    """Write a copy of Canvas gradebook export `gradebook` with this course's scores (see the module docstring).

    `out` defaults to ``<gradebook>-import.csv`` beside it; `mapping` is a mapping CSV; `assignment`
    limits the export to one assignment.
    """
    gradebook = Path(gradebook)
    if not gradebook.is_file():
        raise CourseError(f"{gradebook}: no such file; export the gradebook from Canvas (Grades -> Export) first")
    rows, delimiter, bom, newline = _read(gradebook)
    header = rows[0] if rows else []
    section = next((i for i, c in enumerate(header) if c.strip() == "Section"), None)
    if len(header) < 3 or "Student" not in header[0] or header[1].strip() != "ID" or section is None:
        raise CourseError(f"{gradebook}: not a Canvas gradebook export (its first columns are Student, ID, "
                          "SIS User ID, SIS Login ID, Section); export it from Canvas: Grades -> Export")
    possible, totals = assignment_totals(root, assignment)
    result = CanvasImport(Path(out) if out else gradebook.with_name(gradebook.stem + "-import.csv"))

    pp = next((r for r in rows[1:] if r and r[0].strip() == "Points Possible"), None)
    meta = [r for r in rows[1:] if r is pp or (r and not r[0].strip() and len(r) > 1 and not r[1].strip())]
    students = [r for r in rows[1:] if not any(r is m for m in meta)]
    if pp is None:
        pp = ["    Points Possible"]
        rows.insert(1, pp)
        meta.insert(0, pp)
    for r in rows:
        r.extend([""] * (len(header) - len(r)))

    # One column per assignment: Canvas's own (matched by title), else a new one before the read-only totals.
    columns = {}
    for name in possible:
        at = next((i for i in range(section + 1, len(header)) if _same(_title(header[i]), name)), None)
        if at is None:
            at = next((i for i in range(section + 1, len(header))
                       if READ_ONLY.search(header[i]) or READ_ONLY.search(pp[i])), len(header))
            for r in rows:
                r.insert(at, "")
            header[at], pp[at] = name, _number(possible[name], delimiter)
            columns = {k: (v + 1 if v >= at else v) for k, v in columns.items()}
            result.added.append(name)
        elif pp[at].strip() and _parse(pp[at]) not in (None, possible[name]):
            result.warnings.append(f"Canvas column {header[at]!r} has {pp[at].strip()} points possible, "
                                   f"the course {possible[name]:g}: scores are written as points of {possible[name]:g}")
        columns[name] = at

    # Match students: a mapping file, else the login.
    key, by_student = ("SIS Login ID", {}) if mapping is None else _mapping(Path(mapping))
    key_at = next((i for i, c in enumerate(header[:section]) if c.strip() == key), None)
    if key_at is None:
        raise CourseError(f"{gradebook}: no column {key!r} to match students on; the mapping file must name "
                          f"one of the export's columns: {', '.join(header[:section + 1])}")
    index = {}
    for r in students:
        login = r[key_at].strip().lower()
        if login:
            index.setdefault(login, r)
            if mapping is None and "@" in login:
                index.setdefault(login.split("@")[0], r)
    matched = set()
    for student in sorted(totals):
        value = by_student.get(student, student if mapping is None else "")
        row = index.get(value.strip().lower()) if value else None
        if row is None:
            result.course_only.append(student)
            continue
        if id(row) in matched:
            result.warnings.append(f"{student}: Canvas row {row[0]!r} is matched by another student too; not filled")
            continue
        matched.add(id(row))
        for name, score in totals[student].items():
            if row[columns[name]].strip().upper() == "EX":
                result.warnings.append(f"{student}: {name} is excused in Canvas (EX); left as it is")
                continue
            row[columns[name]] = _number(score, delimiter)
        result.filled[student] = row[0]
    result.canvas_only = [f"{r[0]} ({r[key_at] or 'no ' + key})" for r in students if id(r) not in matched]

    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(rows)
    result.path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    return result


def _parse(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None
