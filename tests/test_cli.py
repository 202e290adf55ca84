"""The command line: help, lab settings, progress, and errors that name the problem and the fix."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lab.coursekit.cli import build_parser, main
from backprop_lab.coursekit.lab import lab_command
from backprop_lab.coursekit.release import CourseError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def course(tmp_path):
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, tmp_path / part)
    (tmp_path / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp_path / "autograder")
    return tmp_path


def test_help_explains_each_step():
    text = build_parser().format_help()
    for command in ("release", "collect", "autograde", "feedback", "export", "check", "lab", "progress",
                    "bench", "digits-demo"):
        assert command in text
    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", "--help"],
                          capture_output=True, text=True)
    assert "--workers" in proc.stdout and "--scheduler" in proc.stdout


def test_lab_serves_the_release_with_working_settings(course):
    argv, env = lab_command(course, port=8999, open_browser=False)
    assert f"--ServerApp.root_dir={course / 'course'}" in argv
    assert "--LabApp.default_url=/lab/tree/01_chain_rule/01_chain_rule.ipynb" in argv
    assert "--no-browser" in argv and "--ServerApp.port=8999" in argv
    news = course / ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    assert json.loads(news.read_text())["fetchNews"] == "false"
    assert (course / "autograder" / "exchange").is_dir()  # nbgrader's Assignments tab finds its exchange
    assert env["JUPYTER_CONFIG_PATH"].split(":")[0] == str(course / "autograder")
    argv, _ = lab_command(course, instructor=True)
    assert f"--ServerApp.root_dir={course / 'solutions'}" in argv


def test_lab_without_a_release_says_how_to_make_one(course):
    shutil.rmtree(course / "course")
    with pytest.raises(CourseError, match="backprop-lab release"):
        lab_command(course)


def test_progress_table_of_an_untouched_release(course, capsys):
    assert main(["progress", str(course / "course" / "01_chain_rule")]) == 0
    out = capsys.readouterr().out
    assert "01_chain_rule" in out and "not attempted" in out
    assert "0 of 3 exercises pass" in out


def test_release_of_an_unknown_assignment_names_the_known_ones(course, capsys, monkeypatch):
    monkeypatch.chdir(course)
    assert main(["release", "99_nope"]) == 2
    err = capsys.readouterr().err
    assert "no assignment '99_nope'" in err and "01_chain_rule" in err


def test_commands_outside_a_course_say_where_to_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export"]) == 2
    assert "autograder/nbgrader_config.py" in capsys.readouterr().err
