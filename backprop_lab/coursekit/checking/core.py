"""Exercises, checks and the runner interface shared by self-checks, `backprop-lab check` and the grader.

An `Exercise` is a list of weighted `Check`s. A check asks a *runner* to call the student's code
through a probe (`runner.call("forward_backward", ...)`), gets plain data back, and compares it
with the reference and torch using `backprop_lab.gradcheck`. Two runners implement `call`:

* `LocalRunner` calls the functions in a namespace directly (a learner's self-check in Jupyter).
* `backprop_lab.coursekit.grading.sandbox.SandboxRunner` calls them in a locked-down child process: the
  grader computes every verdict in its own process from the plain data that comes back.
"""
from __future__ import annotations

import copy
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from backprop_lab.gradcheck import CheckResult

from . import probes
from .reference_guard import ReferenceGuard

# ------------------------------------------------------------------------------ errors


class StudentCodeError(Exception):
    """Student code raised, returned the wrong type, or could not be run.

    `code`: a diagnosis code that names the cause more precisely than the outcome's status does
    (e.g. "03.sigmoid-overflow" for a FloatingPointError of a naive sigmoid); "" for none.
    """

    def __init__(self, message: str, student_traceback: str = "", code: str = ""):
        super().__init__(message)
        self.message = message
        self.student_traceback = student_traceback
        self.code = code


class NotAttempted(StudentCodeError):
    """The exercise still raises NotImplementedError (or its function is not defined)."""


class CheckTimeout(StudentCodeError):
    """Student code ran longer than the check's time limit."""


class ForbiddenUse(StudentCodeError):
    """Student code used something this exercise forbids (the reference library, torch)."""


def student_traceback(exc: BaseException) -> str:
    """Format a traceback keeping only frames from student cells (`probes.student_frames`)."""
    frames = probes.student_frames(exc)
    head = "Traceback (your code only):\n" if frames else ""
    return head + frames + f"\n{type(exc).__name__}: {exc}"


def translate_exception(exc: BaseException, probe_name: str = "") -> StudentCodeError:
    """Map an exception raised inside a probe to the error kinds above (used on both sides)."""
    if isinstance(exc, NotImplementedError):
        return NotAttempted("not attempted yet (the code still raises NotImplementedError)")
    if isinstance(exc, probes.MissingName):
        return NotAttempted(f"`{exc.args[0]}` is not defined: run the cell that defines it")
    if isinstance(exc, ImportError) and any(m in str(exc) for m in ("backprop_lab", "torch")):
        return ForbiddenUse(f"this exercise must be solved without importing the reference or torch ({exc})")
    return StudentCodeError(f"your code raised {type(exc).__name__}: {exc}", student_traceback(exc))


# ------------------------------------------------------------------------------ runners


class LocalRunner:
    """Calls student functions from `namespace` in this process (for self-checks).

    Inputs are deep-copied so that code which modifies its arguments in place cannot change the
    arrays the expected values are computed from.

    The learner's kernel has the reference library and torch imported (the demos need them), but
    the grader runs exercise cells without them. While a probe runs, a `ReferenceGuard` watches for
    calls from the learner's code into the modules in `forbid`; one raises `ForbiddenUse`, so a
    self-check never shows points that grading would refuse.
    """

    def __init__(self, namespace: dict, forbid: tuple = ("backprop_lab", "torch")):
        self.namespace = namespace
        self.forbid = tuple(forbid)
        probes.extra_probe_sources()  # registers the exercise-specific probes

    def call(self, probe_name: str, **kwargs):
        fn = probes.PROBES[probe_name]
        kwargs = copy.deepcopy(kwargs)
        guard = ReferenceGuard(self.forbid)
        try:
            with guard:
                result = fn(self.namespace, **kwargs)
        except Exception as exc:
            if guard.offence:
                raise ForbiddenUse(guard.offence) from None
            raise translate_exception(exc, probe_name) from None
        if guard.offence:
            raise ForbiddenUse(guard.offence)
        return result


# ------------------------------------------------------------------------------ exercises


@dataclass
class Check:
    """One weighted check of an exercise.

    Attributes:
        name: what it checks, shown to the learner ("dweight on a random batch").
        points: points earned when every comparison passes (partial credit adds these up).
        run: ``run(runner, rng) -> CheckResult | list[CheckResult]``; it may raise the errors above.
        visible: visible checks run in the learner's self-check (fixed seeds); hidden ones only
            when grading, on inputs drawn at grading time.
    """

    name: str
    points: float
    run: Callable
    visible: bool = False


@dataclass
class Exercise:
    """A gradeable exercise: the functions a learner writes and the checks that grade them."""

    key: str
    title: str
    functions: tuple
    where: str
    checks: list
    forbid: tuple = ("backprop_lab", "torch")
    # said with a failure when one of the `requires` exercises fails too (or always, when `requires`
    # is empty): "train_step runs your own mlp_forward ... fix 4.1 first"
    depends: str = ""
    requires: tuple = ()  # the Exercise objects whose functions this one's functions call

    @property
    def points(self) -> float:
        return float(sum(c.points for c in self.checks))


@dataclass
class Outcome:
    check: str
    points: float
    earned: float
    status: str  # "pass" | "fail" | "not_attempted" | "error" | "timeout" | "forbidden"
    results: list = field(default_factory=list)
    message: str = ""
    error_code: str = ""  # a more precise code for a check that stopped before comparing (StudentCodeError.code)

    @property
    def code(self) -> str | None:
        """The stable diagnosis code of this outcome (None when it passed); see `diagnoses.CATALOGUE`."""
        if self.status == "pass":
            return None
        if self.status != "fail":
            return self.error_code or STATUS_CODES[self.status]
        return next((r.code for r in self.results if not r.passed), "differs")

    def to_dict(self) -> dict:
        """Plain data (JSON-ready), as stored with a grade: enough for a class report or a regrade
        of the report without running any student code again."""
        return {"check": self.check, "points": self.points, "earned": self.earned, "status": self.status,
                "code": self.code, "message": self.message, "results": [r.to_dict() for r in self.results]}

    def line(self) -> str:
        mark = "✓" if self.status == "pass" else "✗"
        head = f"  {mark} {self.check} ({self.earned:g}/{self.points:g} pt)"
        if self.status == "pass":
            errs = [r.max_rel_error for r in self.results if np.isfinite(r.max_rel_error)]
            return head + (f": max rel. error {max(errs):.1e}" if errs else "")
        return head + ": " + self.message.replace("\n", "\n      ")


#: The code of an outcome that did not get as far as a comparison.
STATUS_CODES = {
    "not_attempted": "not-attempted",
    "forbidden": "uses-reference",
    "timeout": "timeout",
    "error": "raised-exception",
    "grader_error": "grader-error",
}


@dataclass
class ExerciseReport:
    exercise: Exercise
    outcomes: list

    @property
    def earned(self) -> float:
        return float(sum(o.earned for o in self.outcomes))

    @property
    def points(self) -> float:
        return float(sum(o.points for o in self.outcomes))

    @property
    def status(self) -> str:
        statuses = {o.status for o in self.outcomes}
        if statuses == {"pass"}:
            return "pass"
        if statuses == {"not_attempted"}:
            return "not_attempted"
        return "fail"

    def to_dict(self) -> dict:
        """Plain data (JSON-ready): the exercise's key, points and every check's outcome."""
        return {"exercise": self.exercise.key, "title": self.exercise.title, "points": self.points,
                "earned": self.earned, "status": self.status, "checks": [o.to_dict() for o in self.outcomes]}

    def first_problem(self) -> str:
        for o in self.outcomes:
            if o.status != "pass":
                return o.message.splitlines()[0] if o.message else o.status
        return ""

    def text(self, score: bool = True) -> str:
        ex = self.exercise
        if self.status == "not_attempted":
            names = ", ".join(f"`{f}`" for f in ex.functions)
            return (f"{ex.title}: not attempted yet. Write {names} in {ex.where} "
                    "(replace `raise NotImplementedError()`), run that cell, then run this check again.")
        head = f"{ex.title}: " + (f"{self.earned:g} / {self.points:g} points" if score else
                                  ("all checks pass" if self.status == "pass" else "not yet right"))
        lines, said = [head], None
        for o in self.outcomes:  # a message said once already (the same cause) is not repeated
            line = o.line()
            if o.status != "pass" and o.message and o.message == said:
                line = line[: len(line) - len(o.message.replace("\n", "\n      "))] + "the same as above."
            said = o.message if o.status != "pass" else said
            lines.append(line)
        return "\n".join(lines)


def _seed(key: str, index: int, base: int | None) -> np.random.Generator:
    # Visible checks: a fixed seed per (exercise, check) so a learner sees stable inputs.
    # Hidden checks: `base` comes from the grader (a secret per student, or fresh entropy).
    salt = zlib.crc32(f"{key}/{index}".encode())
    return np.random.default_rng([salt] if base is None else [salt, base])


def _failure_text(failed: list) -> str:
    """The messages of the failed comparisons of one check. A diagnosis said once is not repeated:
    the other results with the same diagnosis are listed by name on one line under it."""
    groups: dict = {}  # diagnosis (or a result's own key) -> the results that have it, in order
    for i, r in enumerate(failed):
        groups.setdefault(r.diagnosis or i, []).append(r)
    out = []
    for results in groups.values():
        out.append(results[0].message)
        if len(results) > 1:
            out.append(f"  (the same for {', '.join(r.name for r in results[1:])})")
    return "\n".join(out)


def _dependency_note(exercise: Exercise, runner, hidden: bool, seed: int | None) -> str:
    """`exercise.depends`, when an exercise it `requires` does not pass either (checked once, with
    the same runner and checks of the same kind); always, when it names no `requires`."""
    if not exercise.depends:
        return ""
    if not exercise.requires:
        return exercise.depends
    failing = [dep.title for dep in exercise.requires
               if run_exercise(dep, runner, hidden=hidden, seed=seed).status != "pass"]
    verb = "does" if len(failing) == 1 else "do"
    return f"{exercise.depends} ({' and '.join(failing)} {verb} not pass yet)" if failing else ""


def run_exercise(exercise: Exercise, runner, hidden: bool = True, seed: int | None = None) -> ExerciseReport:
    """Run the exercise's checks (visible ones only when ``hidden=False``) and collect outcomes."""
    outcomes = []
    note = None  # the dependency note, computed at the first failure
    for i, chk in enumerate(exercise.checks):
        if not (chk.visible or hidden):
            continue
        rng = _seed(exercise.key, i, None if chk.visible else seed)
        error_code = ""
        try:
            results = chk.run(runner, rng)
            results = [results] if isinstance(results, CheckResult) else list(results)
            failed = [r for r in results if not r.passed]
            status = "fail" if failed else "pass"
            message = _failure_text(failed)
        except NotAttempted as exc:
            results, status, message = [], "not_attempted", exc.message
        except ForbiddenUse as exc:
            results, status, message = [], "forbidden", exc.message
        except CheckTimeout as exc:
            results, status, message = [], "timeout", exc.message
        except StudentCodeError as exc:
            results, status, error_code = [], "error", exc.code
            message = exc.message + ("\n" + exc.student_traceback if exc.student_traceback else "")
        except Exception as exc:
            results, status = [], "grader_error"
            message = (f"the checker itself failed ({type(exc).__name__}: {exc}); "
                       "this is not your fault: please tell your instructor")
        if status in ("fail", "error") and exercise.depends:
            if note is None:
                note = _dependency_note(exercise, runner, hidden, seed)
            message += f"\n({note})" if note else ""
        earned = chk.points if status == "pass" else 0.0
        outcomes.append(Outcome(chk.name, chk.points, earned, status, results, message, error_code))
    return ExerciseReport(exercise, outcomes)
