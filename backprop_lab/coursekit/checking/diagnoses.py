"""Every diagnosis the checker can give, by its stable code: the one list the exercise docs point to.

A failed comparison carries a code (`CheckResult.code`), and so does every outcome that stopped
before a comparison (`Outcome.code`). Codes never change once released: the class report
(`backprop-lab report`) groups students by them, and stored grades keep them.

* generic codes come from `backprop_lab.gradcheck.DIAGNOSES` (a wrong factor, a transpose, ...);
* outcome codes say why no comparison was made (not attempted, an exception, a time-out, ...);
* exercise codes name a bug of one exercise; they start with the notebook number ("03.sigmoid-uses-input").

`docs/DIAGNOSES.md` is generated from this module (`python -m backprop_lab.coursekit.checking.diagnoses`);
a test keeps it current and checks that every code the checkers emit is listed here.
"""
from __future__ import annotations

from backprop_lab.gradcheck import DIAGNOSES as GENERIC

OUTCOMES = {
    "not-attempted": "the exercise still raises NotImplementedError, or its function is not defined",
    "uses-reference": "the answer calls backprop_lab or torch instead of computing the result itself",
    "timeout": "the code ran longer than the check's time limit (an infinite loop?)",
    "raised-exception": "the code raised an exception",
    "grader-error": "the checker itself failed (not the learner's fault)",
    "malformed": "the return value is not of the form asked for (type, tuple length, keys)",
}

#: Exercise-specific codes: "NN.short-name" -> what the bug is, in the learner's words.
EXERCISES: dict[str, str] = {}


def register(code: str, meaning: str) -> str:
    """Add an exercise-specific code (at import of the exercise module); returns `code`."""
    if code in GENERIC or code in OUTCOMES or EXERCISES.get(code, meaning) != meaning:
        raise ValueError(f"diagnosis code {code!r} is defined twice")
    EXERCISES[code] = meaning
    return code


def catalogue() -> dict[str, str]:
    """All codes with their meaning: generic, outcome, then every exercise's (all exercises loaded)."""
    from .registry import load_all

    load_all()
    return {**GENERIC, **OUTCOMES, **dict(sorted(EXERCISES.items()))}


def markdown() -> str:
    """docs/DIAGNOSES.md."""
    lines = ["# Diagnosis codes", "",
             "Every diagnosis the checker gives has a stable code. Self-checks and grade reports print the",
             "sentence; stored grades and `backprop-lab report` use the code. Generated from",
             "`backprop_lab/coursekit/checking/diagnoses.py`; do not edit by hand.", ""]
    groups = [("Generic (any array)", GENERIC), ("No comparison made", OUTCOMES)]
    cat = catalogue()
    exercise_codes = {k: v for k, v in cat.items() if k not in GENERIC and k not in OUTCOMES}
    groups.append(("Exercise-specific", exercise_codes))
    for title, codes in groups:
        lines += [f"## {title}", "", "| code | meaning |", "|---|---|"]
        lines += [f"| `{k}` | {v} |" for k, v in codes.items()]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    # Run as a script this file is `__main__`, a second copy of the module: the exercises register
    # their codes in the imported one, so print that one's catalogue.
    from backprop_lab.coursekit.checking import diagnoses

    print(diagnoses.markdown(), end="")
