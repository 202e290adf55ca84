"""`backprop-lab report ASSIGNMENT`: what the class got wrong, from the stored check results.

Reads `autograder/results/<assignment>/*.json` (written when grading) and the submitted notebooks'
answer cells; runs no student code. Writes ``autograder/reports/<assignment>/report.json`` and
``report.html`` (one self-contained page) and returns a short text summary.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..checking.diagnoses import catalogue
from ..grading.autograde import submitted_students
from ..grading.records import RESULTS, read_records
from ..release import CourseError, check_assignment
from . import similarity, tables
from .answers import cell_exercises, release_cells, submitted_answers

REPORTS = Path("autograder") / "reports"


def build_report(root: Path, assignment: str) -> tuple[dict, dict]:
    """(report data, what only the page needs) of `assignment`; see `write_report`.

    The data is what report.json holds: students (count), checks, misconceptions, similar_pairs,
    reference_matches, and the scores, baselines and settings behind them.
    """
    root = Path(root)
    check_assignment(root, assignment)
    records = read_records(root, assignment)
    if not records:
        raise CourseError(f"no stored check results for {assignment} in {root / RESULTS / assignment}: "
                          f"run `backprop-lab autograde {assignment}` first")
    codes = catalogue()
    checks = tables.check_table(records)
    students = tables.student_rows(records, codes)
    stubs = release_cells(root, assignment)
    labels = cell_exercises(root, assignment, stubs)
    answers, notes = submitted_answers(root, assignment, stubs)
    missing = sorted(set(submitted_students(root, assignment)) - set(records))
    if missing:
        notes.append(f"{len(missing)} submission(s) have no stored check results (not graded yet, or no readable "
                     f"notebook): {', '.join(missing)}; run `backprop-lab autograde {assignment}`")
    pair_results, ref_results = {}, {}
    for gid, stub in stubs.items():
        cell_answers = {s: cells[gid] for s, cells in answers.items() if gid in cells}
        stub_hashes, fingerprints = similarity.answer_fingerprints(cell_answers, stub)
        pair_results[labels[gid]] = similarity.similar_pairs(fingerprints, stub_hashes)
        ref_results[labels[gid]] = similarity.reference_matches(fingerprints)
    data = {
        "assignment": assignment,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "students": len(records),
        "points": max((s["points"] for s in students), default=0.0),
        "mean_score": sum(s["score"] for s in students) / len(students),
        "checks": checks,
        "misconceptions": tables.misconceptions(records, codes),
        "scores": students,
        "similar_pairs": [{"students": p["students"], "exercise": key, "similarity": p["similarity"],
                           "shared_chars": p["shared_chars"]}
                          for key, res in pair_results.items() for p in res["flagged"]],
        "reference_matches": [{"student": f["student"], "exercise": key, "similarity": f["similarity"],
                               "files": f["files"]}
                              for key, res in ref_results.items() for f in res["flagged"]],
        "similarity_baseline": {key: {**res["baseline"], "too_short": res["short"]}
                                for key, res in pair_results.items()},
        "reference_baseline": {key: res["baseline"] for key, res in ref_results.items()},
        "settings": {"noise_chars": similarity.NOISE, "window": similarity.WINDOW,
                     "min_chars": similarity.MIN_CHARS, "common_share": similarity.COMMON_SHARE,
                     "floor": similarity.FLOOR, "k_mad": similarity.K, "reference_floor": similarity.REF_FLOOR},
        "notes": notes,
    }
    return data, {"pairs": pair_results, "reference": ref_results}


def _names(students: list[str], limit: int = 8) -> str:
    more = len(students) - limit
    return ", ".join(students[:limit]) + (f", and {more} more" if more > 0 else "")


def summary(data: dict, html_path: Path | None = None, limit: int = 5) -> str:
    """The short text `backprop-lab report` prints."""
    lines = [f"{data['assignment']}: {data['students']} students, mean score "
             f"{data['mean_score']:.1f} / {data['points']:g}"]
    lines.append("hardest checks:")
    lines += [f"  {100 * c['pass_rate']:3.0f}% pass  {c['exercise']}: {c['check']}"
              for c in tables.hardest(data["checks"])[:limit]]
    lines.append("misconceptions (students):")
    lines += [f"  {m['count']:>3} ({m['percent']:.0f}%) {m['exercise']} {m['code']}: {m['diagnosis']}"
              f" [{_names(m['students'])}]" for m in data["misconceptions"][:limit]] or ["  none"]
    lines.append("similar submissions (for a human to look at, not a verdict):")
    pairs, refs = data["similar_pairs"], data["reference_matches"]
    lines += [f"  {' & '.join(p['students'])}  {p['exercise']}  similarity {p['similarity']:.2f}"
              for p in pairs[:2 * limit]] or ["  none flagged"]
    if len(pairs) > 2 * limit:
        lines.append(f"  and {len(pairs) - 2 * limit} more pairs (see the page)")
    lines.append("answers matching backprop_lab's own source:")
    lines += [f"  {r['student']}  {r['exercise']}  {r['similarity']:.2f}  ({', '.join(r['files'])})"
              for r in refs[:2 * limit]] or ["  none flagged"]
    if len(refs) > 2 * limit:
        lines.append(f"  and {len(refs) - 2 * limit} more (see the page)")
    lines += [f"note: {n}" for n in data["notes"]]
    if html_path is not None:
        lines.append(f"wrote {html_path} and {html_path.with_name('report.json')}")
    return "\n".join(lines)


def write_report(root: Path, assignment: str) -> tuple[Path, Path, str]:
    """Write report.json and report.html under autograder/reports/<assignment>/; return their paths
    and the text summary."""
    from .page import render

    data, extra = build_report(root, assignment)
    folder = Path(root) / REPORTS / assignment
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "report.json", folder / "report.html"
    json_path.write_text(json.dumps(data, indent=1, allow_nan=False, default=float))
    html_path.write_text(render(data, extra))
    return json_path, html_path, summary(data, html_path)
