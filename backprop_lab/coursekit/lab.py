"""`backprop-lab lab`: JupyterLab on the course, with settings that work out of the box.

* nbgrader's Assignments and Formgrader read ``autograder/nbgrader_config.py`` (course id
  "backprop_lab", an exchange directory inside ``autograder/`` that is created here), instead of
  warning that the default exchange directory does not exist;
* JupyterLab's news pop-up is switched off and settings/workspaces live in ``.jupyter/`` of the
  repository (git-ignored), so a learner's own JupyterLab settings elsewhere are untouched;
* the first notebook opens by itself.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .release import CourseError, assignments

LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def write_settings(settings_dir: Path, extra: dict | None = None) -> None:
    """Write JupyterLab user settings (only files that do not exist yet, unless `extra` names them)."""
    for name, value in {**LAB_SETTINGS, **(extra or {})}.items():
        path = settings_dir / name
        if path.exists() and not (extra and name in extra):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2))


def lab_command(root: Path, instructor: bool = False, port: int | None = None, open_browser: bool = True,
                settings_dir: Path | None = None, workspaces_dir: Path | None = None,
                extra_settings: dict | None = None) -> tuple[list[str], dict]:
    """The argv and environment that start JupyterLab on course/ (or solutions/ for instructors)."""
    folder = root / ("solutions" if instructor else "course")
    names = assignments(root)
    if not folder.is_dir() or not names:
        raise CourseError(f"{folder} has no notebooks: run `backprop-lab release` first" if not instructor
                          else f"{folder} has no source notebooks")
    first = next(iter(sorted(folder.glob(f"{names[0]}/*.ipynb"))), None)
    (root / "autograder" / "exchange").mkdir(parents=True, exist_ok=True)
    settings_dir = settings_dir or root / ".jupyter" / "lab" / "user-settings"
    workspaces_dir = workspaces_dir or root / ".jupyter" / "lab" / "workspaces"
    write_settings(settings_dir, extra_settings)
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}",
            f"--LabApp.user_settings_dir={settings_dir}", f"--LabApp.workspaces_dir={workspaces_dir}"]
    if first is not None:
        argv.append(f"--LabApp.default_url=/lab/tree/{first.relative_to(folder).as_posix()}")
    if port:
        argv.append(f"--ServerApp.port={port}")
    if not open_browser:
        argv.append("--no-browser")
    env = dict(os.environ)
    # nbgrader's server extensions (Assignments, Formgrader) find the course config here.
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(root / "autograder"),
                                                               env.get("JUPYTER_CONFIG_PATH")]))
    return argv, env
