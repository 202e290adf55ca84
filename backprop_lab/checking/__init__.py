"""The checking API shared by notebooks (`check`, `grade`), `backprop-lab check` and the grader.

In a notebook::

    from backprop_lab.checking import check
    check("03.linear")          # runs the visible checks on the functions defined in this notebook

Exercises live in one registry (`backprop_lab.exercises`), keyed like "03.linear".
"""
from .core import (Check, CheckTimeout, Exercise, ExerciseReport, ForbiddenUse, LocalRunner,
                   NotAttempted, Outcome, StudentCodeError, run_exercise)
from .api import check, get_exercise, grade, exercises_in

__all__ = ["Check", "CheckTimeout", "Exercise", "ExerciseReport", "ForbiddenUse", "LocalRunner",
           "NotAttempted", "Outcome", "StudentCodeError", "run_exercise", "check", "grade",
           "get_exercise", "exercises_in"]
