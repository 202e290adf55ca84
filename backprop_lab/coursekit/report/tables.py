"""What the stored check results say about a class: per-check statistics, misconceptions, per student.

Input is `records.read_records(root, assignment)`: {student: record}, each record holding, per
exercise, every check's outcome (status, diagnosis code, message, points). Nothing is re-run.
"""
from __future__ import annotations

from collections import defaultdict

#: Codes that say nothing about what the learner thinks: left out of the misconceptions.
NOT_A_MISCONCEPTION = {"not-attempted"}


def exercise_order(records: dict) -> list[str]:
    """Exercise keys in the order the records list them (first seen first)."""
    order: list[str] = []
    for record in records.values():
        for ex in record.get("exercises", []):
            if ex["exercise"] not in order:
                order.append(ex["exercise"])
    return order


def meaning(code: str | None, catalogue: dict, outcome: dict | None = None) -> str:
    """The catalogue's sentence for `code`; else the outcome's own diagnosis or first message line."""
    if code in catalogue:
        return catalogue[code]
    return detail(outcome or {}, code or "") or (code or "")


def detail(outcome: dict, code: str) -> str:
    """One student's own diagnosis text for `code`: the comparison's sentence, else the message's first line."""
    for r in outcome.get("results", []):
        if r.get("code") == code and r.get("diagnosis"):
            return r["diagnosis"]
    lines = (outcome.get("message") or "").strip().splitlines()
    return lines[0] if lines else ""


def check_table(records: dict) -> list[dict]:
    """One row per (exercise, check), in exercise and check order.

    Row: exercise, title, check, points, pass_rate (0..1 of the students graded on it), mean_score,
    passed, failed, not_attempted, students (graded on it).
    """
    rows: dict[tuple, dict] = {}
    for record in records.values():
        for ex in record.get("exercises", []):
            for chk in ex.get("checks", []):
                row = rows.setdefault((ex["exercise"], chk["check"]), {
                    "exercise": ex["exercise"], "title": ex.get("title", ex["exercise"]), "check": chk["check"],
                    "points": float(chk["points"]), "passed": 0, "failed": 0, "not_attempted": 0,
                    "students": 0, "earned": 0.0})
                row["students"] += 1
                row["earned"] += float(chk["earned"])
                kind = {"pass": "passed", "not_attempted": "not_attempted"}.get(chk["status"], "failed")
                row[kind] += 1
    out = []
    for row in rows.values():
        n = row.pop("students")
        earned = row.pop("earned")
        out.append({**row, "students": n, "pass_rate": row["passed"] / n if n else 0.0,
                    "mean_score": earned / n if n else 0.0})
    return out


def hardest(checks: list[dict]) -> list[dict]:
    """The checks, lowest pass rate first (ties keep the notebook's order)."""
    return sorted(checks, key=lambda r: r["pass_rate"])


def misconceptions(records: dict, catalogue: dict) -> list[dict]:
    """Failed checks grouped across students by (exercise, diagnosis code), most students first.

    Entry: exercise, code, diagnosis (the catalogue's sentence), students (sorted), count, percent
    (of the class), where (the compared arrays or checks it showed in), example (one student's
    full diagnosis text).
    """
    groups: dict[tuple, dict] = {}
    n = max(len(records), 1)
    for student, record in records.items():
        for ex in record.get("exercises", []):
            for chk in ex.get("checks", []):
                code = chk.get("code")
                if chk["status"] == "pass" or code is None or code in NOT_A_MISCONCEPTION:
                    continue
                g = groups.setdefault((ex["exercise"], code), {
                    "exercise": ex["exercise"], "code": code, "diagnosis": meaning(code, catalogue, chk),
                    "students": set(), "where": set(), "example": ""})
                g["students"].add(student)
                names = [r["name"] for r in chk.get("results", []) if r.get("code") == code]
                g["where"].update(names or [chk["check"]])
                g["example"] = g["example"] or detail(chk, code)
    out = []
    for g in groups.values():
        students = sorted(g["students"])
        out.append({**g, "students": students, "count": len(students),
                    "percent": round(100.0 * len(students) / n, 1), "where": sorted(g["where"])})
    order = {key: i for i, key in enumerate(exercise_order(records))}
    return sorted(out, key=lambda g: (-g["count"], order.get(g["exercise"], 0), g["code"]))


def student_rows(records: dict, catalogue: dict) -> list[dict]:
    """Per student: score, points, and per exercise the first failing check (check order) and its diagnosis."""
    order = exercise_order(records)
    rows = []
    for student, record in sorted(records.items()):
        by_key = {ex["exercise"]: ex for ex in record.get("exercises", [])}
        exercises = []
        for key in order:
            ex = by_key.get(key)
            if ex is None:
                exercises.append({"exercise": key, "earned": 0.0, "points": 0.0, "status": "missing",
                                  "first_failure": None})
                continue
            first = next((c for c in ex.get("checks", []) if c["status"] != "pass"), None)
            failure = None if first is None else {
                "check": first["check"], "code": first.get("code"), "status": first["status"],
                "diagnosis": meaning(first.get("code"), catalogue, first)}
            exercises.append({"exercise": key, "earned": float(ex["earned"]), "points": float(ex["points"]),
                              "status": ex["status"], "first_failure": failure})
        rows.append({"student": student, "score": sum(e["earned"] for e in exercises),
                     "points": sum(e["points"] for e in exercises), "exercises": exercises,
                     "notes": list(record.get("notes", []))})
    return rows


def by_exercise(items: list[dict]) -> dict[str, list[dict]]:
    """Group dicts with an "exercise" key, keeping their order."""
    out: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        out[item["exercise"]].append(item)
    return dict(out)
