"""The benchmark's machinery (fast), and the whole benchmark (slow: `pytest -m slow`)."""
import json
import subprocess
import sys
import time

import pytest

from backprop_lab.coursekit import bench


def test_timeit_reports_the_median_of_one_call():
    t = bench.timeit(lambda: time.sleep(0.002), min_time=0.02, repeats=3)
    assert 0.0015 < t < 0.05


def test_summary_and_table_name_the_targets():
    rows = [bench.Row("conv2d (fast)", "a", "float64", 2.0, 1.0), bench.Row("conv2d (fast)", "b", "float64", 1.0, 1.0),
            bench.Row("pool", "p", "float64", 1.0, 2.0), bench.Row("MLP epoch", "m", "float64", 1.0, 4.0),
            bench.Row("CNN epoch", "c", "float64", 3.0, 2.0)]
    summ = bench.summary(rows)
    assert summ["conv2d (fast)"] == pytest.approx(2 ** 0.5) and summ["conv2d (fast) worst"] == 2.0
    text = bench.format_table(rows, {"cores": 2, "torch_threads": 2, "torch": "x", "numpy": "y"}, summ,
                              {"numpy": 10.0, "torch": 5.0})
    assert "meets <= 1.5x" in text and "MISSES <= 1.3x" in text and "2.00x" in text


def test_peak_memory_of_the_fast_conv_is_within_3x_of_torch():
    mem = bench.peak_memory()
    if not mem:
        pytest.skip("peak-memory measurement needs Linux /proc")
    assert 0 < mem["numpy"] <= 3 * mem["torch"], mem


@pytest.mark.slow
def test_full_benchmark_runs_and_prints_json():
    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "bench", "--json", "--quick"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {r["name"] for r in result["rows"]} >= {"conv2d (naive)", "conv2d (fast)", "pool", "MLP epoch", "CNN epoch"}
    assert all(r["numpy_ms"] > 0 and r["torch_ms"] > 0 for r in result["rows"])
