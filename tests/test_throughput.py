"""Grading throughput on a synthetic class (nightly: `pytest -m slow`): 40 submissions (correct,
partly wrong, blank, cheating), graded with 1 and with 2 workers in the same run."""
import shutil
import time
from pathlib import Path

import pytest

from backprop_lab.coursekit.grading.autograde import autograde, ensure_in_gradebook, warm_imports
from backprop_lab.coursekit.grading.collect import collect
from backprop_lab.coursekit.grading.demo_class import make_class

pytestmark = [pytest.mark.slow, pytest.mark.grading]
ROOT = Path(__file__).resolve().parents[1]
A = "01_chain_rule"


def _course(path):
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, path / part)
    (path / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", path / "autograder")
    make_class(path, A, path / "inbox", n=40)
    collect(path, path / "inbox")
    return path


def test_two_workers_grade_a_class_at_least_1_7x_faster(tmp_path):
    """Grading time of a warm grader (imports and gradebook ready), 1 worker vs 2, same run.

    A cold `backprop-lab autograde` also pays ~6-8 s once for importing nbgrader and torch; at 40
    submissions that one-off cost is a third of the run, so it is measured and printed separately.
    """
    root = _course(tmp_path / "course")
    start = time.perf_counter()
    warm_imports()
    ensure_in_gradebook(root, A)
    print(f"one-off start-up (imports, gradebook): {time.perf_counter() - start:.1f} s")
    timings = {}
    for workers in (1, 2):
        start = time.perf_counter()
        results = autograde(root, A, workers=workers, progress=False)
        timings[workers] = time.perf_counter() - start
        assert len(results) == 40 and all(r.ok for r in results)
        mean = sum(r.seconds for r in results) / len(results)
        print(f"workers={workers}: {timings[workers]:.1f} s for 40, {mean:.2f} s per submission")
    speedup = timings[1] / timings[2]
    print(f"speedup with 2 workers: {speedup:.2f}x")
    assert timings[1] / 40 <= 5.0
    assert speedup >= 1.7
