"""A synthetic class of submissions: for the README walk-through, tests and throughput benchmarks.

Each student's notebook is built from the assignment's source (answers) and release (stubs):
every exercise cell is either answered, left blank, or answered with a bug that scales every
number the learner's functions return (a wrong factor, which the checker names). One student
also tries to cheat by patching numpy's comparison functions.
"""
from __future__ import annotations

import random
from pathlib import Path

import nbformat

BUG = '''

# --- injected by the demo generator: every function of this cell returns 1.5x its answer ---
def _demo_scale(value):
    if isinstance(value, dict):
        return {k: _demo_scale(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_demo_scale(v) for v in value)
    try:
        return value * 1.5
    except TypeError:
        return value

def _demo_wrap(f):
    def wrapped(*args, **kwargs):
        return _demo_scale(f(*args, **kwargs))
    wrapped.__name__ = f.__name__
    return wrapped

for _name, _obj in list(globals().items()):
    if callable(_obj) and _name not in _demo_before and not _name.startswith("_"):
        globals()[_name] = _demo_wrap(_obj)
'''
CHEAT = "\nimport numpy\nnumpy.allclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
NAMES = ["ada", "ben", "cyd", "dee", "eli", "fay", "gus", "hal", "ivy", "jon", "kim", "lou", "max", "ned",
         "oli", "pam", "quin", "ray", "sue", "tom"]


def _cells(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def make_class(root: Path, assignment: str, dest: Path, n: int = 4, seed: int = 0) -> list[Path]:
    """Write `n` submissions ``<dest>/<student>_<assignment>.ipynb`` (an LMS-style download).

    Student 0 answers everything, student 1 has one buggy exercise, student 2 submits the blank
    release, student 3 cheats (patched numpy, blank answers); the rest are random mixes.
    """
    source = root / "solutions" / assignment / f"{assignment}.ipynb"
    release = root / "course" / assignment / f"{assignment}.ipynb"
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        nb = nbformat.read(str(release), as_version=4)
        answers = _cells(nbformat.read(str(source), as_version=4))
        ids = list(_cells(nb))
        if i == 0:
            plan = {g: "answer" for g in ids}
        elif i == 1:
            plan = {g: "answer" for g in ids} | {ids[-1]: "bug"}
        elif i == 2:
            plan = {g: "blank" for g in ids}
        elif i == 3:
            plan = {g: "cheat" if k == 0 else "blank" for k, g in enumerate(ids)}
        else:
            plan = {g: rng.choice(["answer", "answer", "bug", "blank"]) for g in ids}
        for gid, cell in _cells(nb).items():
            if plan[gid] in ("answer", "bug"):
                cell.source = "\n".join(ln for ln in answers[gid].source.splitlines()
                                        if "### BEGIN SOLUTION" not in ln and "### END SOLUTION" not in ln)
            if plan[gid] == "bug":
                cell.source = "_demo_before = set(globals())\n" + cell.source + BUG
            if plan[gid] == "cheat":
                cell.source = CHEAT + cell.source
        name = NAMES[i] if i < len(NAMES) else f"student{i:03d}"
        path = dest / f"{name}_{assignment}.ipynb"
        nbformat.write(nb, str(path))
        out.append(path)
    return out
