"""`backprop-lab feedback`: per-student HTML feedback in autograder/feedback/ (hidden tests removed).

Math renders without a network: the course's nbgrader config puts `FEEDBACK_TEMPLATES` first on
nbconvert's template path, where ``feedback/mathjax.html.j2`` replaces nbconvert's CDN MathJax with a
loader that tries, in order, the MathJax served by the Jupyter server showing the page (the
``jupyter-server-mathjax`` extension, at ``<base url>static/jupyter_server_mathjax/``), this machine's
copy of that package (for a page opened as a file), and the CDN only as a last resort.
"""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..release import CourseError, api_call, check_assignment, nbgrader_api
from .autograde import submitted_students

FEEDBACK_TEMPLATES = Path(__file__).parent / "templates"


def local_mathjax_url(_=None) -> str:
    """file:// URL of the MathJax.js installed with jupyter-server-mathjax ("" when it is not installed).

    A Jinja filter of the feedback template (registered in autograder/nbgrader_config.py).
    """
    try:
        import jupyter_server_mathjax
    except ImportError:
        return ""
    path = Path(jupyter_server_mathjax.__file__).parent / "static" / "MathJax.js"
    return path.as_uri() if path.is_file() else ""


def feedback(root: Path, assignment: str, progress: bool = True) -> list[Path]:
    """Per-student HTML feedback in autograder/feedback/<student>/<assignment>/ (hidden tests removed)."""
    check_assignment(root, assignment)
    api = nbgrader_api(root)
    students = [s for s in submitted_students(root, assignment)
                if (root / "autograder" / "autograded" / s / assignment).is_dir()]
    if not students:
        raise CourseError(f"nothing autograded for {assignment} yet: run `backprop-lab autograde {assignment}` first")
    out = []
    for s in tqdm(students, desc=f"feedback {assignment}", unit="student", disable=not progress):
        api_call(api.generate_feedback(assignment, s, force=True), f"generate_feedback {assignment} {s}")
        out += sorted((root / "autograder" / "feedback" / s / assignment).glob("*.html"))
    return out
