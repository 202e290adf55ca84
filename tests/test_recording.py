"""The recording half writes what nbgrader itself writes.

The same class is graded twice with the same grading secret: once by nbgrader's own `autograde`
converter (as Formgrader's button runs it: `HonestAutograde` finds no precomputed result and grades
in its own process), once by `backprop-lab autograde` (pure tasks, then `recording.Recorder`). The
gradebook rows (grades, comments, submissions with their timestamps, late penalties) and the
autograded notebooks and files must be identical."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lab.coursekit.grading.autograde import ensure_in_gradebook
from backprop_lab.coursekit.grading.collect import collect
from backprop_lab.coursekit.grading.demo_class import make_class
from backprop_lab.coursekit.release import nbgrader_api

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
A = "01_chain_rule"
SUBMITTED = ("SELECT sn.id AS sid, sa.student_id AS student, nb.name AS notebook, sa.timestamp, sa.extension, "
             "sn.flagged, sn.late_submission_penalty FROM submitted_notebook sn "
             "JOIN submitted_assignment sa ON sn.assignment_id = sa.id JOIN notebook nb ON sn.notebook_id = nb.id")
QUERIES = {  # every recorded fact, keyed by names (the row ids differ between gradebooks)
    "notebooks": f"SELECT student, notebook, timestamp, extension, flagged, late_submission_penalty FROM ({SUBMITTED})",
    "grades": "SELECT x.student, x.notebook, c.name, g.auto_score, g.manual_score, g.extra_credit, "
              f"g.needs_manual_grade FROM grade g JOIN base_cell c ON g.cell_id = c.id JOIN ({SUBMITTED}) x "
              "ON g.notebook_id = x.sid",
    "comments": "SELECT x.student, x.notebook, c.name, m.auto_comment, m.manual_comment FROM comment m "
                f"JOIN base_cell c ON m.cell_id = c.id JOIN ({SUBMITTED}) x ON m.notebook_id = x.sid",
}


def _rows(root: Path) -> dict:
    con = sqlite3.connect(root / "autograder" / "gradebook.db")
    out = {name: sorted(con.execute(query).fetchall(), key=repr) for name, query in QUERIES.items()}
    con.close()
    return out


def _files(root: Path) -> dict:
    base = root / "autograder" / "autograded"
    return {str(p.relative_to(base)): (json.loads(p.read_text()) if p.suffix == ".ipynb" else p.read_bytes(),
                                       oct(p.stat().st_mode))
            for p in sorted(base.rglob("*")) if p.is_file()}


def test_batch_recording_equals_nbgraders_own_autograde(tmp_path):
    base = tmp_path / "base"
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, base / part)
    (base / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", base / "autograder")
    (base / "autograder" / ".grading_secret").write_bytes(os.urandom(32))
    make_class(base, A, base / "inbox", n=6)
    collect(base, base / "inbox")
    submitted = base / "autograder" / "submitted"
    (submitted / "ada" / A / "timestamp.txt").write_text("2031-01-01 12:00:00.000000 UTC")
    (submitted / "ben" / A / "notes.txt").write_text("a file beside the notebook")
    students = sorted(p.name for p in submitted.iterdir())
    nbgrader_root, batch_root = tmp_path / "nbgrader", tmp_path / "batch"
    shutil.copytree(base, nbgrader_root)
    shutil.copytree(base, batch_root)

    ensure_in_gradebook(nbgrader_root, A)
    api = nbgrader_api(nbgrader_root)
    for student in students:
        result = api.autograde(A, student, force=True, create=True)
        assert result["success"], result.get("log", "")[-2000:]

    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", A], cwd=batch_root,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    expected, got = _rows(nbgrader_root), _rows(batch_root)
    scores = [row[3] for row in got["grades"]]
    assert len(scores) == 3 * len(students) and 0 in scores and max(scores) > 0
    assert got == expected
    expected, got = _files(nbgrader_root), _files(batch_root)
    assert sorted(got) == sorted(expected) and f"ben/{A}/notes.txt" in got
    for name in expected:
        assert got[name] == expected[name], name
    for student in students:  # and the check records, written by both
        records = [json.loads((r / "autograder" / "results" / A / f"{student}.json").read_text())
                   for r in (nbgrader_root, batch_root)]
        assert records[0]["exercises"] == records[1]["exercises"]
