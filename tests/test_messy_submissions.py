"""The submissions a real class hands in, graded by real nbgrader in one batch: each student's exact
score, proof that the student was graded (an autograded notebook, a score in the gradebook for every
graded cell), and one clear line about what was repaired, never an nbgrader traceback."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from backprop_lab.coursekit.grading.collect import collect
from backprop_lab.coursekit.grading.export import export_csv, scores
from backprop_lab.coursekit.grading.feedback import feedback
from backprop_lab.coursekit.grading.records import read_records

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
A = "01_chain_rule"
FULL = 12.0
CLI = [sys.executable, "-m", "backprop_lab.coursekit.cli"]
DUE = datetime(2026, 12, 10, 17, 0, tzinfo=timezone.utc)
BEFORE, LATE = DUE.timestamp() - 86400, DUE.timestamp() + 1.5 * 86400  # 1.5 days late: 2 started days
GRADED_CELLS = ["tests_01_local_derivatives", "tests_01_two_layer", "tests_01_numerical_gradient"]


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _at(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)


def _answered():
    """The release with every answer filled in, as a student hands it in (no solution markers)."""
    nb = nbformat.read(str(ROOT / "course" / A / f"{A}.ipynb"), as_version=4)
    src = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
    answers = {_gid(c): c.source for c in src.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        if _gid(cell) in answers:
            cell.source = "\n".join(ln for ln in answers[_gid(cell)].splitlines() if "### " not in ln)
    return nb


def _blank():
    return nbformat.read(str(ROOT / "course" / A / f"{A}.ipynb"), as_version=4)


def _delete(*gids):
    nb = _answered()
    nb.cells = [c for c in nb.cells if _gid(c) not in gids]
    return nb


def _move():
    nb = _answered()
    setup = nb.cells.pop(_at(nb, "setup"))
    check = nb.cells.pop(_at(nb, "check_01_numerical_gradient"))
    nb.cells = [check, *nb.cells, setup]
    return nb


def _copy(cell):
    """A pasted copy of a cell (a new cell id, the same metadata: nbgrader's tags come along)."""
    copy = nbformat.from_dict(json.loads(json.dumps(cell)))
    copy["id"] = cell["id"][::-1]
    return copy


def _duplicate_locked():
    nb = _answered()
    i = _at(nb, "check_01_two_layer")
    nb.cells.insert(i, _copy(nb.cells[i]))
    return nb


def _edit_locked(nb):
    """Edit every locked cell: the setup, the checks and the (empty) test cells claim full marks."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked"):
            cell.source += "\nprint('all tests passed')\n4.0"
            meta["points"] = 100 if meta.get("grade") else meta.get("points")
    return nb


def _answers_in_locked_cells():
    """A blank notebook whose correct answers were typed into the locked check cells: still 0."""
    nb, answered = _blank(), _answered()
    for gid in ("local_derivatives", "two_layer", "numerical_gradient"):
        nb.cells[_at(nb, f"check_01_{gid}")].source += "\n" + answered.cells[_at(answered, gid)].source
    return nb


def _duplicate_answer(first, second):
    nb = _answered()
    i = _at(nb, "two_layer")
    copy = _copy(nb.cells[i])
    nb.cells[i].source, copy.source = first(nb.cells[i].source), second(copy.source)
    nb.cells.insert(i + 1, copy)
    return nb


STUB = _blank().cells[_at(_blank(), "two_layer")].source
WRONG = lambda s: s.replace('"w1": d_a * x', '"w1": d_a * x * 2')  # 1 point lost


def _split():
    nb = _answered()
    i = _at(nb, "local_derivatives")
    text = nb.cells[i].source
    cut = text.index("\n", text.index("def d_sigmoid")) + 1  # in the middle of d_sigmoid
    copy = _copy(nb.cells[i])
    nb.cells[i].source, copy.source = text[:cut], text[cut:]
    nb.cells.insert(i + 1, copy)
    return nb


def _merge_answer_and_check():
    nb = _answered()
    i = _at(nb, "two_layer")
    nb.cells[i].source += "\n\n" + nb.cells[i + 1].source  # JupyterLab's merge keeps the first cell's tags
    del nb.cells[i + 1]
    return nb


def _merge_setup_and_answer():
    nb = _answered()
    i = _at(nb, "setup")
    j = _at(nb, "local_derivatives")
    nb.cells[i].source += "\n\n" + nb.cells[j].source  # a locked cell first: the merged cell keeps its tags
    del nb.cells[j]
    return nb


def _untagged_answer():
    nb = _answered()
    i = _at(nb, "two_layer")
    nb.cells[i] = nbformat.v4.new_code_cell(nb.cells[i].source)  # retyped into a new cell, the old one deleted
    return nb


def _big_outputs():
    nb = _answered()
    blob = "x" * (1 << 20)
    nb.cells[_at(nb, "setup") + 2].outputs = [nbformat.v4.new_output("stream", name="stdout", text=blob)
                                              for _ in range(50)]
    return nb


# student -> (notebook, file name in the LMS download, its time, exact total, a line the student and the
# instructor must read ("" when nothing needed repair))
CASES = {
    "correct": (_answered(), None, BEFORE, FULL, ""),
    "deltest": (_delete("tests_01_local_derivatives"), None, BEFORE, FULL,
                "locked cells deleted, put back from the assignment: `tests_01_local_derivatives`"),
    "delcheck": (_delete("check_01_two_layer"), None, BEFORE, FULL,
                 "locked cells deleted, put back from the assignment: `check_01_two_layer`"),
    "delall": (_delete("setup", *GRADED_CELLS, "check_01_local_derivatives"), None, BEFORE, FULL,
               "locked cells deleted"),
    "moved": (_move(), None, BEFORE, FULL,
              "locked cells moved, put back in their place: `check_01_numerical_gradient`, `setup`"),
    "duplocked": (_duplicate_locked(), None, BEFORE, FULL, "locked cells duplicated, kept once: `check_01_two_layer`"),
    "editlocked": (_edit_locked(_answered()), None, BEFORE, FULL, "locked cells edited, graded with their original"),
    "editblank": (_edit_locked(_blank()), None, BEFORE, 0.0, "locked cells edited"),
    "lockedanswers": (_answers_in_locked_cells(), None, BEFORE, 0.0, "locked cells edited"),
    "dupstub": (_duplicate_answer(lambda s: STUB, lambda s: s), None, BEFORE, FULL,
                "answer cell `two_layer` appears 2 times: graded copy 2 of 2"),
    "dupwrong": (_duplicate_answer(lambda s: s, WRONG), None, BEFORE, FULL - 1,
                 "answer cell `two_layer` appears 2 times: graded copy 2 of 2"),
    "split": (_split(), None, BEFORE, FULL, "answer cell `local_derivatives` was split into 2 cells"),
    "merged": (_merge_answer_and_check(), None, BEFORE, FULL,
               "cell `check_01_two_layer` was merged into your answer cell `two_layer`"),
    "mergedup": (_merge_setup_and_answer(), None, BEFORE, FULL,
                 "your answer `local_derivatives` was merged into locked cell `setup`: graded the answer part"),
    "untagged": (_untagged_answer(), None, BEFORE, FULL,
                 "answer cell `two_layer` had lost its grading tag: graded the cell that defines two_layer_grads"),
    "late": (_answered(), None, LATE, FULL - 2 * 0.1 * FULL, ""),
    "oldformat": (nbformat.convert(_answered(), 3), None, BEFORE, FULL, "saved by an old Jupyter (format 3)"),
    "bigoutputs": (_big_outputs(), None, BEFORE, FULL, ""),
    "José García": (_answered(), f"José García_412345_assignsubmission_file_{A}.ipynb", BEFORE, FULL, ""),
    "resubmit": (_answered(), None, BEFORE, FULL, ""),
    "renamed": (_answered(), None, BEFORE, FULL, f"graded `{A} (1).ipynb` as `{A}.ipynb`"),
}


def _write(path, nb, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    if nb.nbformat == 3:
        path.write_text(nbformat.v3.writes_json(nb))
    else:
        path.write_text(nbformat.writes(nb))
    os.utime(path, (mtime, mtime))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, root / part)
    (root / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", root / "autograder")
    run = lambda *a: subprocess.run([*CLI, *a], cwd=root, capture_output=True, text=True, timeout=900)
    due = run("due", A, "2026-12-10 17:00 UTC")
    assert due.returncode == 0 and "due 2026-12-10 17:00 UTC" in due.stdout, due.stdout + due.stderr

    inbox = root / "lms_download"
    for student, (nb, name, when, _, _) in CASES.items():
        if student != "renamed":
            _write(inbox / (name or f"{student}_{A}.ipynb"), nb, when)
    # A resubmission: a blank one first, a wrong one collected later but handed in earlier than the last.
    first, older = root / "first", root / "older"
    _write(first / f"resubmit_{A}.ipynb", _blank(), BEFORE - 7200)
    _write(older / f"resubmit_{A}.ipynb", _duplicate_answer(lambda s: s, WRONG), BEFORE - 3600)
    reports = [collect(root, first), collect(root, inbox), collect(root, older)]
    # nbgrader's exchange keeps the student's file name: a browser's copy suffix.
    _write(root / "autograder" / "submitted" / "renamed" / A / f"{A} (1).ipynb", _answered(), BEFORE)
    originals = {p: p.read_bytes() for p in (root / "autograder").rglob("*.ipynb")}
    proc = run("autograde", A, "--workers", "2")
    return root, reports, originals, proc


def _block(stdout, student):
    """The instructor's summary lines of one student (the name line and its `!` lines)."""
    m = re.search(rf"^{re.escape(student)} .*\n((?:\s+! .*\n)*)", stdout, re.M)
    assert m, f"{student} missing from the autograde summary:\n{stdout}"
    return m.group(0)


def test_every_messy_submission_is_graded_with_its_exact_score_and_one_clear_line(graded):
    from nbgrader.api import Gradebook

    root, _, _, proc = graded
    out = proc.stdout + proc.stderr
    print(proc.stdout)  # the instructor's summary: shown with -s
    assert proc.returncode == 0, out
    assert f"graded {len(CASES)} submission(s)" in proc.stdout, out
    assert "Traceback" not in out and "nbgrader autograde failed" not in out, out
    totals = {r["student"]: r["total"] for r in scores(root, A)[1]}
    records = read_records(root, A)
    with Gradebook("sqlite:///" + str(root / "autograder" / "gradebook.db")) as gb:
        for student, (_, _, _, expected, line) in CASES.items():
            assert totals.get(student) == pytest.approx(expected), f"{student}: {totals.get(student)} != {expected}"
            assert (root / "autograder" / "autograded" / student / A / f"{A}.ipynb").is_file(), student
            grades = {g.name: g for g in gb.find_submission_notebook(A, A, student).grades}
            assert sorted(grades) == sorted(GRADED_CELLS), student
            assert all(g.auto_score is not None and not g.needs_manual_grade for g in grades.values()), student
            summary = _block(proc.stdout, student)
            notes = records[student]["notes"]
            if line:
                assert line in summary, f"{student}: {line!r} not in\n{summary}"
                assert any(line in n for n in notes), (student, notes)
                assert len([ln for ln in summary.splitlines() if line in ln]) == 1, summary
            else:
                assert "!" not in summary and not notes, (student, summary, notes)


def test_submitted_files_are_never_modified(graded):
    root, _, originals, _ = graded
    for path, data in originals.items():
        assert path.read_bytes() == data, f"{path} was modified"


def test_the_latest_submission_is_graded_and_earlier_ones_are_kept(graded):
    root, reports, _, _ = graded
    history = sorted((root / "autograder" / "history" / "resubmit" / A).glob(f"*/{A}.ipynb"))
    assert len(history) == 2, history  # the blank first try and the older wrong one
    stamps = [(p.parent / "timestamp.txt").read_text() for p in history]
    assert all(s.endswith("UTC\n") for s in stamps), stamps
    assert reports[2].kept and not reports[2].imported  # collected last, handed in earlier: kept only
    stamp = (root / "autograder" / "submitted" / "late" / A / "timestamp.txt").read_text()
    assert stamp.startswith("2026-12-12 05:00:00"), stamp
    again = collect(root, root / "lms_download")
    assert not again.imported and not again.kept  # the same files twice are stored once


def _visible(html):
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_feedback_shows_each_note_and_the_late_penalty_and_export_has_it(graded):
    root = graded[0]
    feedback(root, A, progress=False)
    for student, (_, _, _, _, line) in CASES.items():
        text = _visible((root / "autograder" / "feedback" / student / A / f"{A}.html").read_text())
        assert ("Notes from the grader" in text) == bool(line), student
        assert line.replace("`", "") in text, (student, line)
    page = (root / "autograder" / "feedback" / "late" / A / f"{A}.html").read_text()
    assert "Late submission penalty (Score: -2.4)" in page
    rows = {r["student"]: r for r in csv.DictReader(export_csv(root, assignment=A).splitlines())}
    assert float(rows["late"][f"{A}/late_penalty"]) == pytest.approx(2.4)
    assert float(rows["correct"][f"{A}/late_penalty"]) == 0.0
    assert "cdnjs" in page and "jupyter_server_mathjax" in page  # the offline MathJax loader


def test_canvas_import_fills_matched_students_and_lists_the_rest(graded, tmp_path):
    root = graded[0]
    canvas = tmp_path / "grades.csv"
    canvas.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (101),Current Score,Final Score\n"
        "    Points Possible,,,,,10.00,(read only),(read only)\n"
        '"Lovelace, Ada",11,S1,correct,Sec 1,9,90,90\n'
        '"García, José",12,S2,jgarcia@uni.example,Sec 1,8,80,80\n'
        '"Late, Lou",13,S3,late@uni.example,Sec 1,,,\n'
        '"Nobody, Nora",14,S4,nora,Sec 1,7,70,70\n'
        '"Student, Test",15,,,Sec 1,,,\n')
    mapping = tmp_path / "map.csv"
    mapping.write_text("student,SIS Login ID\ncorrect,correct\nJosé García,jgarcia@uni.example\n"
                       "late,late@uni.example\n")
    proc = subprocess.run([*CLI, "export", "--canvas", str(canvas), "--map", str(mapping)], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.reader((tmp_path / "grades-import.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Quiz 1 (101)", A,
                       "Current Score", "Final Score"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][6] == "12"
    by_id = {r[1]: r for r in rows[2:]}
    assert by_id["11"][5:7] == ["9", "12"] and by_id["12"][6] == "12" and by_id["13"][6] == "9.6"
    assert by_id["14"][6] == "" and by_id["15"][6] == "" and len(rows) == 7  # kept, never dropped
    assert "no course scores for Canvas row: Nobody, Nora (nora)" in proc.stdout
    assert "no course scores for Canvas row: Student, Test (no SIS Login ID)" in proc.stdout
    assert "NOT in the Canvas file: deltest" in proc.stdout  # course students with no Canvas row
    for student in CASES:
        if student not in ("correct", "José García", "late"):
            assert f"NOT in the Canvas file: {student} " in proc.stdout, student
    by_login = subprocess.run([*CLI, "export", "--canvas", str(canvas), "--out", str(tmp_path / "b.csv")], cwd=root,
                              capture_output=True, text=True, timeout=300)
    rows = {r[1]: r for r in csv.reader((tmp_path / "b.csv").read_text().splitlines())}
    assert rows["11"][6] == "12" and rows["13"][6] == "9.6" and rows["12"][6] == ""  # login "late@..." -> late
    assert "NOT in the Canvas file: José García" in by_login.stdout


def test_file_names_are_matched_with_a_note():
    from backprop_lab.coursekit.grading.rebuild import match_notebooks

    got = match_notebooks([f"Copy of {A.upper()}.ipynb", "notes.ipynb"], [A])
    assert got[f"Copy of {A.upper()}.ipynb"][0] == A and "file name differs" in got[f"Copy of {A.upper()}.ipynb"][1]
    assert got["notes.ipynb"][0] is None and "not a notebook of this assignment" in got["notes.ipynb"][1]
    both = match_notebooks([f"{A}-Copy1.ipynb", f"{A}.ipynb"], [A])
    assert both[f"{A}.ipynb"] == (A, None) and both[f"{A}-Copy1.ipynb"][0] is None  # the exact name wins
    newest = match_notebooks([f"{A} (1).ipynb", f"{A} (2).ipynb"], [A], {f"{A} (1).ipynb": 2.0, f"{A} (2).ipynb": 1.0})
    assert newest[f"{A} (1).ipynb"][0] == A and "also handed in" in newest[f"{A} (2).ipynb"][1]


def test_a_due_date_that_cannot_be_read_says_how_to_write_it():
    from backprop_lab.coursekit.grading.lateness import parse_when
    from backprop_lab.coursekit.release import CourseError

    assert parse_when("2026-12-10 18:00 Europe/Berlin") == datetime(2026, 12, 10, 17, 0)
    assert parse_when("2026-12-10T17:00:00+00:00") == datetime(2026, 12, 10, 17, 0)
    with pytest.raises(CourseError, match="2026-12-10 17:00"):
        parse_when("next friday-ish")
