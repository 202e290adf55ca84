"""End to end with real nbgrader on a temporary copy of the course: honest scores, adversarial
submissions that must not raise their score, feedback that teaches and leaks nothing."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from backprop_lab.coursekit.grading.collect import collect
from backprop_lab.coursekit.grading.export import export_csv, scores
from backprop_lab.coursekit.grading.feedback import feedback

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
A = "01_chain_rule"
FULL = 12.0  # 4 + 4 + 4 points in notebook 01


def _set(nb, grade_id, transform):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = transform(cell.source)
    return nb


def _solution_nb():
    return nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)


def _release_nb():
    return nbformat.read(str(ROOT / "course" / A / f"{A}.ipynb"), as_version=4)


PATCH_COMPARISONS = """
import numpy, math
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)
math.isclose = lambda *a, **k: True
"""
HIDE_TRACEBACKS = """
import sys
sys.excepthook = lambda *a: None
try:
    get_ipython().showtraceback = lambda *a, **k: None
    get_ipython().showsyntaxerror = lambda *a, **k: None
except NameError:
    pass
"""
IMPORT_REFERENCE = '''
def d_sigmoid(z):
    from backprop_lab.functional import sigmoid_backward, sigmoid_forward
    out, cache = sigmoid_forward(z)
    return sigmoid_backward(np.ones_like(z), cache)

def d_tanh(z):
    import torch
    t = torch.tensor(z, requires_grad=True)
    t.tanh().sum().backward()
    return t.grad.numpy()
'''
READ_SOLUTIONS = '''
import glob, json, os
for path in glob.glob("/**/solutions/01_chain_rule/*.ipynb", recursive=True) + [
        os.path.expanduser("~/../../work/main/solutions/01_chain_rule/01_chain_rule.ipynb"),
        "../../../solutions/01_chain_rule/01_chain_rule.ipynb"]:
    try:
        for cell in json.load(open(path))["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                exec("".join(cell["source"]), globals())
    except Exception:
        pass
'''


def _adversarial():
    """name -> (notebook or raw text, expected total)."""
    subs = {}
    subs["correct"] = (_solution_nb(), FULL)
    subs["blank"] = (_release_nb(), 0.0)
    subs["wrongdw1"] = (_set(_solution_nb(), "two_layer", lambda s: s.replace('"w1": d_a * x', '"w1": d_a * x * 2')),
                        FULL - 1.0)
    subs["patchnumpy"] = (_set(_release_nb(), "local_derivatives", lambda s: PATCH_COMPARISONS + s), 0.0)
    subs["hidetb"] = (_set(_release_nb(), "two_layer", lambda s: HIDE_TRACEBACKS + s), 0.0)
    # The reference/torch are refused: d_sigmoid and d_tanh (2 of 4 points) score 0; the rest is right.
    subs["importref"] = (_set(_solution_nb(), "local_derivatives", lambda s: s + IMPORT_REFERENCE), FULL - 2.0)
    subs["readsolutions"] = (_set(_release_nb(), "numerical_gradient", lambda s: READ_SOLUTIONS + s), 0.0)
    # An infinite loop costs its checks only: d_square (1 point) and a top-level loop in another cell.
    subs["loop"] = (_set(_set(_solution_nb(), "local_derivatives",
                              lambda s: s.replace("return 2 * u", "while True:\n        pass")),
                         "numerical_gradient", lambda s: "while True:\n    pass\n" + s), FULL - 1.0 - 4.0)
    subs["exits"] = (_set(_solution_nb(), "two_layer",
                          lambda s: s.replace("h = math.tanh", "import os; os._exit(0)\n    h = math.tanh")),
                     FULL - 4.0)
    subs["segfault"] = (_set(_solution_nb(), "numerical_gradient",
                             lambda s: s.replace("grad = np.zeros_like",
                                                 "import faulthandler; faulthandler._sigsegv()\n"
                                                 "    grad = np.zeros_like")), FULL - 4.0)
    # Test cells edited or deleted; fake outputs; points and metadata tampered.
    nb = _release_nb()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.source = "print('all tests passed')\n4.0"
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "4.0"}, execution_count=1)]
            meta["points"] = 100
    subs["editedtests"] = (nb, 0.0)
    nb = _release_nb()
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    subs["deletedtests"] = (nb, 0.0)
    nb = _release_nb()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta.update(grade=False, solution=True, locked=False)  # try to make test cells editable answers
    nb.cells.append(nbformat.v4.new_code_cell("1000", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 1000, "grade_id": "bonus", "schema_version": 3}}))
    subs["metadata"] = (nb, 0.0)
    subs["invalidjson"] = ('{"cells": [ this is not json', 0.0)
    other = sorted(p for p in (ROOT / "solutions").glob("*/*.ipynb") if p.parent.name != A)
    subs["otherassignment"] = (nbformat.read(str(other[0]), as_version=4) if other else _release_nb(), 0.0)
    return subs


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, root / part)
    (root / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", root / "autograder")
    inbox = root / "lms_download"
    inbox.mkdir()
    expected = {}
    for name, (content, total) in _adversarial().items():
        path = inbox / f"{name}_{A}.ipynb"
        path.write_text(content if isinstance(content, str) else nbformat.writes(content))
        expected[name] = total
    (inbox / "notes.txt").write_text("not a notebook")
    report = collect(root, inbox)
    originals = {p: p.read_bytes() for p in (root / "autograder" / "submitted").rglob("*.ipynb")}
    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", A, "--workers", "2"],
                          cwd=root, capture_output=True, text=True, timeout=900)
    return root, report, expected, originals, proc


def test_collect_matches_students_and_reports_the_rest(graded):
    root, report, expected, _, _ = graded
    assert sorted(s for s, _, _ in report.imported) == sorted(expected)
    assert [n for n, _ in report.unmatched] == ["notes.txt"]


def test_every_submission_gets_its_honest_score(graded):
    root, _, expected, _, proc = graded
    assert "graded 15 submission(s)" in proc.stdout, proc.stdout + proc.stderr
    _, rows = scores(root, A)
    got = {r["student"]: r["total"] for r in rows}
    assert got == pytest.approx(expected), "\n".join(
        f"{s}: got {got.get(s)} expected {e}" for s, e in expected.items() if got.get(s) != pytest.approx(e))


def test_submitted_files_are_never_modified(graded):
    root, _, _, originals, _ = graded
    for path, data in originals.items():
        assert path.read_bytes() == data, f"{path} was modified"


def test_invalid_notebook_is_reported_not_fatal(graded):
    root, _, _, _, proc = graded
    assert re.search(r"invalidjson .*\n\s+! .*not a valid notebook", proc.stdout), proc.stdout


def test_regrading_is_idempotent(graded):
    root = graded[0]
    before = export_csv(root, assignment=A)
    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", A, "--student", "wrongdw1",
                           "--student", "importref"], cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert export_csv(root, assignment=A) == before


def _feedback_text(root, student):
    html = (root / "autograder" / "feedback" / student / A / f"{A}.html").read_text()
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)  # what the student reads, not the page's code
    return re.sub(r"<[^>]+>", "", html)


def test_feedback_teaches_and_leaks_nothing(graded):
    root = graded[0]
    feedback(root, A, progress=False)
    text = _feedback_text(root, "wrongdw1")
    assert "twice the expected value" in text          # the diagnosis reaches the student
    assert "3 / 4 points" in text
    for student in ("wrongdw1", "blank", "importref"):
        text = _feedback_text(root, student)
        assert "grade(" not in text and "HIDDEN TESTS" not in text
        assert "site-packages" not in text and "backprop_lab/" not in text  # no grader tracebacks
    assert "without the reference or torch" in _feedback_text(root, "importref")
    assert "not attempted yet" in _feedback_text(root, "blank")


def test_export_has_a_column_per_exercise_and_the_total(graded):
    root = graded[0]
    out = root / "scores.csv"
    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "export", "--csv", str(out)], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    header, *rows = out.read_text().splitlines()
    assert header.split(",") == ["student", f"{A}/tests_01_local_derivatives", f"{A}/tests_01_two_layer",
                                 f"{A}/tests_01_numerical_gradient", "total"]
    assert len(rows) == 15


def test_cli_errors_name_the_problem_and_the_fix(graded):
    root = graded[0]
    run = lambda *a: subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", *a], cwd=root,
                                    capture_output=True, text=True, timeout=300)
    bad = run("autograde", "99_nope")
    assert bad.returncode == 2 and "no assignment '99_nope'" in bad.stderr and "01_chain_rule" in bad.stderr
    nobody = run("autograde", A, "--student", "zed")
    assert nobody.returncode == 2 and "backprop-lab collect" in nobody.stderr
    missing = run("check", "nope.ipynb")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (root / "broken.ipynb").write_text("{")
    broken = run("check", str(root / "broken.ipynb"))
    assert broken.returncode == 2 and "not a readable notebook" in broken.stderr


CLI = [sys.executable, "-m", "backprop_lab.coursekit.cli"]


def test_learner_check_runs_visible_checks_out_of_process(graded):
    root = graded[0]
    sol = subprocess.run([*CLI, "check", str(root / "solutions" / A / f"{A}.ipynb")],
                         capture_output=True, text=True, timeout=300)
    assert sol.returncode == 0 and "visible checks: 5.5 / 5.5 points" in sol.stdout, sol.stdout
    rel = subprocess.run([*CLI, "check", str(root / "course" / A / f"{A}.ipynb")],
                         capture_output=True, text=True, timeout=300)
    assert rel.returncode == 1 and "not attempted yet" in rel.stdout and "visible checks: 0 / 5.5" in rel.stdout
    json.dumps(rel.stdout)  # printable
