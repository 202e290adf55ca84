"""Grading speed at class scale (nightly: `pytest -m slow -s`), the way an instructor runs it: each
`backprop-lab autograde` starts cold. Prints numbers for docs/performance.md; asserts only that
every run graded every submission the same way (timings on shared machines are noise)."""
from pathlib import Path

import pytest

from backprop_lab.coursekit.grading.bench_grading import THROUGHPUT_ASSIGNMENTS, cold_speedup, throughput

pytestmark = [pytest.mark.slow, pytest.mark.grading]
ROOT = Path(__file__).resolve().parents[1]


def test_throughput_of_300_synthetic_submissions():
    """Correct, buggy, blank and numpy-patching submissions of four notebooks, at 1 and 2 workers."""
    res = throughput(ROOT, 300, THROUGHPUT_ASSIGNMENTS, workers=(1, 2))
    assert sum(res["submissions"].values()) == 300
    for w, r in res["workers"].items():
        print(f"--workers {w}: 300 submissions in {r['seconds']:.1f} s = {r['per_second']:.2f} submissions/s "
              f"({', '.join(f'{a} {s:.1f} s' for a, s in r['per_assignment'].items())})")
    print(f"2 workers / 1 worker: {res['workers'][1]['seconds'] / res['workers'][2]['seconds']:.2f}x")


def test_cold_speedup_of_a_second_worker_on_notebook_08():
    """`autograde 08_full_training --workers 2` vs `--workers 1`, 30 submissions, cold, median of 3."""
    res = cold_speedup(ROOT, "08_full_training", 30, repeat=3, workers=2)
    assert len(res["ratios"]) == 3  # every run graded all 30 alike (cold_speedup raises otherwise)
    print("ratios: " + ", ".join(f"{r:.2f}x" for r in res["ratios"]) + f"; median {res['median_ratio']:.2f}x")
