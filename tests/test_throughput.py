"""Grading throughput on a synthetic class (nightly: `pytest -m slow`): 40 submissions (correct,
partly wrong, blank, cheating), graded with 1 and with 2 workers in the same run."""
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_lab.grading.demo import make_class
from backprop_lab.grading.workflow import collect

pytestmark = [pytest.mark.slow, pytest.mark.grading]
ROOT = Path(__file__).resolve().parents[1]
A = "01_chain_rule"


def _course(path):
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, path / part)
    (path / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", path / "autograder")
    collect(path, make_class(path, A, path / "inbox", n=40))
    return path


def test_two_workers_grade_a_class_at_least_1_7x_faster(tmp_path):
    """Both runs are the CLI from a cold start, as an instructor runs it."""
    timings = {}
    for workers in (1, 2):
        root = _course(tmp_path / f"w{workers}")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "backprop_lab.cli", "autograde", A, "--workers", str(workers)],
                              cwd=root, capture_output=True, text=True, timeout=1200)
        timings[workers] = time.perf_counter() - start
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "graded 40 submission(s)" in proc.stdout
        mean = float(re.search(r"mean ([\d.]+) s each", proc.stdout).group(1))
        print(f"workers={workers}: {timings[workers]:.1f} s for 40 (cold start), {mean:.2f} s per submission")
    speedup = timings[1] / timings[2]
    print(f"speedup with 2 workers: {speedup:.2f}x")
    assert timings[1] / 40 <= 5.0
    assert speedup >= 1.7
