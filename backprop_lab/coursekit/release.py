"""The course on disk: where notebooks live, running nbgrader, generating the student release."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


class CourseError(Exception):
    """A problem with the course layout or an nbgrader step, with a message that names the fix."""


class NotebookError(CourseError):
    """A notebook that cannot be read or is not a course notebook, with a message naming the fix."""


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The course root: the nearest folder above `start` (default: cwd) with autograder/nbgrader_config.py."""
    here = Path(start or os.getcwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "autograder" / "nbgrader_config.py").is_file():
            return folder
    raise CourseError(f"no course found at or above {here}: run this inside the backprop_lab repository "
                      "(the folder that holds autograder/nbgrader_config.py), or pass --root")


def assignments(root: Path) -> list[str]:
    """Assignment names, i.e. the folders of solutions/ that hold a notebook, sorted."""
    src = root / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) if src.is_dir() else []


def check_assignment(root: Path, name: str) -> str:
    known = assignments(root)
    if name not in known:
        raise CourseError(f"no assignment {name!r}; the course has: {', '.join(known) or 'none'} "
                          "(folders of solutions/)")
    return name


def nbgrader_api(root: Path, **overrides):
    """An in-process `nbgrader.apps.NbGraderAPI` with the course config (autograder/nbgrader_config.py).

    `overrides` set config values, e.g. ``CourseDirectory__root="/tmp/x"``. Running nbgrader's
    converters in one process avoids paying its ~5 s import for every assignment and student.
    """
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root / "autograder")).load_config()
    extra = Config()
    for key, value in overrides.items():
        section, name = key.split("__")
        extra[section][name] = value
    config.merge(extra)
    return NbGraderAPI(config=config)


def api_call(result: dict, what: str) -> dict:
    """Raise CourseError with the end of nbgrader's log when an API call failed."""
    if not result.get("success"):
        log = (result.get("log", "") + "\n" + (result.get("error") or "")).strip().splitlines()
        raise CourseError(f"nbgrader {what} failed:\n" + "\n".join(log[-25:]))
    return result


def generate_release(root: Path, names: list[str] | None = None, dest: Path | None = None,
                     db_url: str | None = None) -> list[Path]:
    """Generate the student release of `names` (default: all) from solutions/ with nbgrader.

    nbgrader writes into a temporary course folder (its ``--force`` wipes whatever release folder it
    is given); then only ``<dest>/<assignment>/`` is replaced, so nothing else in course/ (or
    anywhere) is touched. `db_url` defaults to the course gradebook, which learns the assignment's
    cells and points (autograde needs them).
    """
    names = [check_assignment(root, n) for n in (names or assignments(root))]
    dest = Path(dest or root / "course")
    db_url = db_url or "sqlite:///" + str(root / "autograder" / "gradebook.db")
    written = []
    with tempfile.TemporaryDirectory(prefix="bpl-release-") as tmp:
        api = nbgrader_api(root, CourseDirectory__root=tmp,
                           CourseDirectory__source_directory=str(root / "solutions"),
                           CourseDirectory__release_directory="release", CourseDirectory__db_url=db_url)
        for name in names:
            api_call(api.generate_assignment(name, force=True, create=True), f"generate_assignment {name}")
            out = Path(tmp) / "release" / name
            target = dest / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(out, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            written += sorted(target.glob("*.ipynb"))
    return written
