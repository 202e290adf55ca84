"""A synthetic class to report on, for tests/test_report*.py.

`demo_class` builds the class (20 students of 03_vectorized_layers: planted bugs, a copied pair, a
reference paste, a cheater, blanks); `add_indie` adds one more student whose answers are correct and
written independently, in a style nobody else uses (equivalent code, different tokens). `check_class`
stores each student's check results the way grading does (the grader's sandbox runs the exercise
cells, the hidden checks run here, `records.write_record` stores them) without nbgrader, so the
report tests stay fast; tests/test_report_readme.py runs the real `backprop-lab autograde`.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import nbformat

from backprop_lab.coursekit.checking import get_exercise, run_exercise
from backprop_lab.coursekit.checking.registry import exercises_in
from backprop_lab.coursekit.grading.collect import SUBMITTED, collect
from backprop_lab.coursekit.grading.demo_answers import Variant
from backprop_lab.coursekit.grading.demo_class import fill, make_class
from backprop_lab.coursekit.grading.records import new_record, write_record
from backprop_lab.coursekit.grading.sandbox import SandboxRunner
from backprop_lab.coursekit.grading.selfcheck import exercise_keys, solution_cells

ROOT = Path(__file__).resolve().parents[1]
A = "03_vectorized_layers"

INDIE = {
    "linear": Variant({
        "linear_forward": "out = (weight @ x.T).T\nout += bias\nreturn out, [x, weight]",
        "linear_backward": ("inp, wt = cache\ng_inp = (wt.T @ dout.T).T\n"
                            "g_wt = np.tensordot(dout, inp, axes=([0], [0]))\ng_b = np.add.reduce(dout, axis=0)\n"
                            "return g_inp, g_wt, g_b"),
    }),
    "activations": Variant({
        "relu_forward": "keep = x > 0\nreturn np.multiply(x, keep), keep",
        "relu_backward": "return np.multiply(dout, cache)",
        "leaky_relu_forward": ("slope = np.full(x.shape, float(negative_slope))\nslope[x > 0] = 1.0\n"
                               "return slope * x, slope"),
        "leaky_relu_backward": "return cache * dout",
        "sigmoid_forward": "y = np.exp(-np.logaddexp(0.0, -x))\nreturn y, y",
        "sigmoid_backward": "return dout * cache * (1 - cache)",
        "tanh_forward": "value = np.tanh(x)\nreturn value, value",
        "tanh_backward": "return dout * (1 + cache) * (1 - cache)",
    }),
    "mse": Variant({"mse_loss": ("delta = (pred - target).ravel()\nloss = delta @ delta / delta.size\n"
                                 "grad = (2.0 / delta.size) * (pred - target)\nreturn float(loss), grad")}),
    "cross_entropy": Variant({"softmax_cross_entropy": (
        "n = len(labels)\nshift = logits - logits.max(1)[:, None]\nlog_z = np.log(np.exp(shift).sum(1))\n"
        "nll = log_z - shift[range(n), labels]\nprobs = np.exp(shift - log_z[:, None])\n"
        "probs[range(n), labels] -= 1\nreturn float(nll.sum() / n), probs / n")}),
}


def course_copy(dest: Path) -> Path:
    """solutions/, course/ and the nbgrader config in `dest` (a throw-away course root)."""
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, dest / part)
    (dest / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", dest / "autograder")
    return dest


def add_indie(root: Path, inbox: Path, name: str = "indie") -> Path:
    """One more submission: correct, independently written (see INDIE)."""
    nb = nbformat.read(str(root / "course" / A / f"{A}.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in INDIE:
            cell.source = fill(cell.source, INDIE[gid])
    path = inbox / f"{name}_{A}.ipynb"
    nbformat.write(nb, str(path))
    return path


def check_class(root: Path, assignment: str = A, seed: int = 5) -> list[str]:
    """Store every submitted student's check results (hidden checks, student code in the sandbox)."""
    students = sorted(p.parent.name for p in (root / SUBMITTED).glob(f"*/{assignment}"))
    for student in students:
        nb = nbformat.read(str(root / SUBMITTED / student / assignment / f"{assignment}.ipynb"), as_version=4)
        record = new_record(assignment, student)
        with SandboxRunner(solution_cells(nb), timeout=10.0) as runner:
            for key in exercise_keys(nb):
                report = run_exercise(get_exercise(key), runner, hidden=True, seed=seed)
                record["exercises"].append({"cell": f"check_{key}", **report.to_dict()})
            record["notes"] = list(runner.notes)
        write_record(root, record)
    return students


def demo_class(dest: Path, n: int = 20, indie: bool = True) -> Path:
    """A course root in `dest` with the demo class (and indie) collected and its results stored."""
    root = course_copy(dest)
    inbox = root / "inbox"
    make_class(root, A, inbox, n=n)
    if indie:
        add_indie(root, inbox)
    collect(root, inbox)
    check_class(root)
    return root


def synthetic_records(root: Path, assignment: str = A, seed: int = 0) -> int:
    """Records for every submitted student with random outcomes and codes (no code run): for timing."""
    rng = random.Random(seed)
    codes = ["transposed", "factor-of-N", "wrong-sign", "differs", "raised-exception", "not-attempted"]
    students = sorted(p.parent.name for p in (root / SUBMITTED).glob(f"*/{assignment}"))
    for student in students:
        record = new_record(assignment, student)
        for ex in exercises_in(assignment[:2] + "."):
            checks = []
            for chk in ex.checks:
                code = None if rng.random() < 0.7 else rng.choice(codes)
                status = "pass" if code is None else "not_attempted" if code == "not-attempted" else "fail"
                checks.append({"check": chk.name, "points": chk.points, "earned": chk.points if code is None else 0.0,
                               "status": status, "code": code, "message": "" if code is None else f"FAIL ({code})",
                               "results": []})
            record["exercises"].append({"cell": f"check_{ex.key}", "exercise": ex.key, "title": ex.title,
                                        "points": ex.points, "earned": sum(c["earned"] for c in checks),
                                        "status": "fail", "checks": checks})
        write_record(root, record)
    return len(students)
