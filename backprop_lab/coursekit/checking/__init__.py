"""The checking API shared by notebooks (`check`, `grade`), `backprop-lab check` and the grader.

In a notebook::

    from backprop_lab.coursekit.checking import check
    check("03.linear")          # runs the visible checks on the functions defined in this notebook

Exercises live in one registry (`backprop_lab.coursekit.exercises`), keyed like "03.linear".
"""
from .api import check, finish_first, grade
from .core import (
                   Check,
                   CheckTimeout,
                   Exercise,
                   ExerciseReport,
                   ForbiddenUse,
                   LocalRunner,
                   NotAttempted,
                   Outcome,
                   StudentCodeError,
                   run_exercise,
)
from .registry import exercises_in, get_exercise

__all__ = ["Check", "CheckTimeout", "Exercise", "ExerciseReport", "ForbiddenUse", "LocalRunner",
           "NotAttempted", "Outcome", "StudentCodeError", "run_exercise", "check", "finish_first", "grade",
           "get_exercise", "exercises_in"]
