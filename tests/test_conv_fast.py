"""Speed of the fast convolution against torch (and the naive loops).

Run as a script for the full table (naive float64 included, a few minutes):

    python tests/test_conv_fast.py [--no-naive] [--rounds 9]

or as the slow test (fast vs torch only): ``pytest -m slow tests/test_conv_fast.py``.

Threads: torch and numpy's BLAS use their defaults (all cores); ``OMP_NUM_THREADS=1 python ...``
pins both to one thread, which is far less sensitive to other processes on a busy machine. Under
pytest, tests/conftest.py sets one thread.

Fairness notes. Rounds interleave the contestants (torch, ours, torch, ours...); times are the
minimum over rounds and ratios the median of the per-round ratios, which filters out much of the
noise from other processes on a shared machine. A short sleep separates the contestants: torch's
OpenMP threads keep spinning for ~200 ms after each parallel call and would otherwise steal the
cores from OpenBLAS's threads (and vice versa), slowing the *next* contestant by up to 10x.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np
import pytest

import backprop_lab.functional as F

#: (x shape, F): 3x3 kernels, padding 1, stride 1 -- the three layers of the course CNNs.
SHAPES = [((64, 1, 8, 8), 8), ((32, 3, 32, 32), 16), ((32, 16, 16, 16), 32)]


def _best(fn, budget=0.2, max_reps=30):
    """Best time of a few back-to-back calls (about `budget` seconds)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    best = first
    for _ in range(max(1, min(max_reps, int(budget / max(first, 1e-6))))):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def race(fns: dict, rounds=7, pause=0.25):
    """Interleaved rounds of every callable. Returns (minimum time per name, median over rounds of
    each name's time divided by the first name's time in the same round): on a busy machine the
    paired ratio is steadier than either time alone."""
    best = {name: math.inf for name in fns}
    ratios = {name: [] for name in fns}
    base = next(iter(fns))
    for _ in range(rounds):
        times = {}
        for name, fn in fns.items():
            times[name] = _best(fn)
            best[name] = min(best[name], times[name])
            time.sleep(pause)
        for name in fns:
            ratios[name].append(times[name] / times[base])
    return best, {name: statistics.median(r) for name, r in ratios.items()}


def contestants(x_shape, n_filters, dtype=np.float64, naive=False):
    """fwd+bwd callables for torch, the fast conv and (optionally) the naive one."""
    import torch
    import torch.nn.functional as tF

    rng = np.random.default_rng(0)
    N, C, H, W = x_shape
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (0.1 * rng.standard_normal((n_filters, C, 3, 3))).astype(dtype)
    b = rng.standard_normal(n_filters).astype(dtype)
    dout = rng.standard_normal((N, n_filters, H, W)).astype(dtype)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)

    def torch_fb():
        tF.conv2d(xt, wt, bt, padding=1).backward(dt)

    fns = {"torch": torch_fb, "fast": lambda: F.conv2d_backward(dout, F.conv2d_forward(x, w, b, 1, 1)[1])}
    if naive:
        fns["naive"] = lambda: F.conv2d_backward_naive(dout, F.conv2d_forward_naive(x, w, b, 1, 1)[1])
    return fns


def benchmark(naive=True, rounds=7, dtypes=(np.float64, np.float32), out=sys.stdout):
    """Print a table; return {dtype name: [median paired fast/torch ratio per shape]}."""
    ratios = {}
    for dtype in dtypes:
        name = np.dtype(dtype).name
        ratios[name] = []
        for x_shape, n_filters in SHAPES:
            fns = contestants(x_shape, n_filters, dtype, naive=False)
            t, paired = race(fns, rounds)
            with_naive = naive and dtype == np.float64
            if with_naive:  # seconds per call: one run is plenty
                t["naive"] = _best(contestants(x_shape, n_filters, dtype, naive=True)["naive"], budget=0)
            ratios[name].append(paired["fast"])
            line = (f"{name} {str(x_shape):>16} -> {n_filters:2d}: torch {t['torch'] * 1e3:7.2f} ms  "
                    f"fast {t['fast'] * 1e3:7.2f} ms  (min)  fast/torch {paired['fast']:.2f} (median paired)")
            if with_naive:
                line += f"  naive {t['naive']:7.2f} s  naive/fast {t['naive'] / t['fast']:.0f}x"
            print(line, file=out, flush=True)
        geo = math.exp(sum(map(math.log, ratios[name])) / len(ratios[name]))
        print(f"{name}: geometric mean fast/torch = {geo:.2f}", file=out, flush=True)
    return ratios


@pytest.mark.slow
def test_fast_conv_within_1_5x_of_torch():
    ratios = benchmark(naive=False, rounds=5, dtypes=(np.float64,))["float64"]
    geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
    assert geo <= 1.5, f"fast conv fwd+bwd is {geo:.2f}x torch (geometric mean over {SHAPES})"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    benchmark(naive=not args.no_naive, rounds=args.rounds)
