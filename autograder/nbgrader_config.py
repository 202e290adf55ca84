"""nbgrader configuration of the backprop_lab course.

Use it with ``JUPYTER_CONFIG_PATH=autograder`` from the repository root (nbgrader's ``--config``
flag is unreliable); ``backprop-lab release/autograde/feedback`` set this for you.
Layout: source notebooks in ``solutions/``, the student release in ``course/``; everything a
class produces (submitted/, autograded/, feedback/, gradebook.db) stays in ``autograder/`` and
is git-ignored.
"""
import os
from importlib.util import find_spec

import nbgrader
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
                                    AssignLatePenalties,
                                    CheckCellMetadata,
                                    ClearHiddenTests,
                                    GetGrades,
                                    IgnorePattern,
                                    LimitOutput,
                                    SaveAutoGrades,
)

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "backprop_lab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.submitted_directory = os.path.join("autograder", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("autograder", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("autograder", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "autograder", "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]
c.Exchange.root = os.path.join(ROOT, "autograder", "exchange")

# The release shows this stub where the solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# In-kernel execution (nbgrader validate, Formgrader's buttons): never let one cell hang forever.
c.Execute.timeout = 120
c.Execute.raise_on_iopub_timeout = False
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.raise_on_iopub_timeout = False

# Autograde: the student's code runs in a sandbox and verdicts are computed outside it
# (backprop_lab.coursekit.grading.nbgrader_plugin). nbgrader's Execute step is replaced, the rest is stock.
c.Autograde.autograde_preprocessors = [
    "backprop_lab.coursekit.grading.nbgrader_plugin.HonestAutograde",
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.HonestAutograde.timeout = 5.0  # per check; correct code needs milliseconds
c.HonestAutograde.secret_file = os.path.join(ROOT, "autograder", ".grading_secret")
# Deleted test cells come back (with their points) instead of silently vanishing.
c.OverwriteCells.add_missing_cells = True

# Late submissions: a submission's time is its timestamp.txt (`backprop-lab collect` writes it), the due
# date is in the gradebook (`backprop-lab due ASSIGNMENT "2026-12-10 17:00"`). The penalty: 10% of the
# notebook's score per started day late (nbgrader's own LateSubmissionPlugin offers only "none" or "zero").
c.AssignLatePenalties.plugin_class = "backprop_lab.coursekit.grading.lateness.DailyPenalty"
c.DailyPenalty.percent_per_day = 10.0

# Feedback never shows hidden test code.
c.GenerateFeedback.preprocessors = [GetGrades, "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
                                    ClearHiddenTests]
# Math in feedback renders offline: our templates/feedback/mathjax.html.j2 shadows nbconvert's (which
# loads MathJax from a CDN) and loads the MathJax of the jupyter-server-mathjax package, from the
# Jupyter server that serves the page or from this machine's copy for a page opened as a file.
PACKAGE = os.path.dirname(find_spec("backprop_lab").origin)  # found, not imported: this file stays light
FEEDBACK_TEMPLATES = os.path.join(PACKAGE, "coursekit", "grading", "templates")
c.HTMLExporter.extra_template_basedirs = [
    FEEDBACK_TEMPLATES,
    os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates"),
]
c.HTMLExporter.filters = {"local_mathjax_url": "backprop_lab.coursekit.grading.feedback.local_mathjax_url"}
