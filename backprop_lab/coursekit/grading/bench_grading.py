"""Grading speed, measured the way an instructor runs it: `backprop-lab autograde` started cold.

Cold speedup of a second worker (one command; ratios measured in the same run, median of repeats)::

    python -m backprop_lab.coursekit.grading.bench_grading --assignment 08_full_training --students 30

Throughput on a synthetic class of several notebooks (submissions per second at 1 and 2 workers)::

    python -m backprop_lab.coursekit.grading.bench_grading --throughput 300

Every run grades a fresh copy of the same prepared course (the release recorded in the gradebook,
the class collected, the same grading secret), so runs differ only in ``--workers``; the scores of
every run must agree. Submissions come from `demo_class.make_class`: correct, buggy, blank and one
that patches numpy's comparisons per notebook.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THROUGHPUT_ASSIGNMENTS = ("01_chain_rule", "04_training_an_mlp", "07_convolutions", "08_full_training")


def prepare(source_root: Path, dest: Path, classes: dict[str, int]) -> Path:
    """A course at `dest` with `classes` (``{assignment: n}``) collected and recorded in the gradebook."""
    from .autograde import ensure_in_gradebook
    from .collect import collect
    from .demo_class import make_class
    from .nbgrader_plugin import SECRET_FILE, load_secret

    for part in ("solutions", "course"):
        shutil.copytree(source_root / part, dest / part)
    (dest / "autograder").mkdir(parents=True)
    shutil.copy(source_root / "autograder" / "nbgrader_config.py", dest / "autograder")
    load_secret(str(dest / SECRET_FILE))
    for assignment, n in classes.items():
        make_class(dest, assignment, dest / "inbox" / assignment, n=n)
        collect(dest, dest / "inbox" / assignment, assignment)
        ensure_in_gradebook(dest, assignment)
    return dest


def run_cli(root: Path, assignment: str, workers: int) -> tuple[float, str]:
    """Wall seconds of one cold `backprop-lab autograde` (a new Python process), and its output."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", assignment,
                           "--workers", str(workers)], cwd=root, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"autograde --workers {workers} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def _totals(root: Path, assignment: str) -> dict:
    from .export import scores

    return {r["student"]: r["total"] for r in scores(root, assignment)[1]}


def cold_speedup(source_root: Path, assignment: str, students: int, repeat: int = 3, workers: int = 2) -> dict:
    """Time `--workers 1` and `--workers N` from a cold start on fresh copies, `repeat` times (alternating)."""
    with tempfile.TemporaryDirectory(prefix="bpl-bench-") as tmp:
        base = prepare(source_root, Path(tmp) / "base", {assignment: students})
        times: dict[int, list] = {1: [], workers: []}
        expected = None
        for r in range(repeat):
            for w in ((1, workers) if r % 2 == 0 else (workers, 1)):
                root = Path(tmp) / f"run{r}-w{w}"
                shutil.copytree(base, root)
                seconds, out = run_cli(root, assignment, w)
                totals = _totals(root, assignment)
                if len(totals) != students or (expected is not None and totals != expected):
                    raise RuntimeError(f"--workers {w} graded differently:\n{out[-2000:]}")
                expected = totals
                times[w].append(seconds)
                print(f"  run {r + 1}: --workers {w}: {seconds:6.1f} s  ({out.splitlines()[-1]})", flush=True)
                shutil.rmtree(root)
    ratios = [a / b for a, b in zip(times[1], times[workers])]
    return {"times": times, "ratios": ratios, "median_ratio": statistics.median(ratios)}


def throughput(source_root: Path, total: int, assignments=THROUGHPUT_ASSIGNMENTS, workers=(1, 2)) -> dict:
    """Submissions per second grading `total` synthetic submissions spread over `assignments`."""
    per = {a: total // len(assignments) + (i < total % len(assignments)) for i, a in enumerate(assignments)}
    out = {}
    with tempfile.TemporaryDirectory(prefix="bpl-throughput-") as tmp:
        base = prepare(source_root, Path(tmp) / "base", per)
        expected = None
        for w in workers:
            root = Path(tmp) / f"w{w}"
            shutil.copytree(base, root)
            seconds, totals = {}, {}
            for assignment in assignments:
                seconds[assignment], log = run_cli(root, assignment, w)
                totals[assignment] = _totals(root, assignment)
                if len(totals[assignment]) != per[assignment]:
                    raise RuntimeError(f"--workers {w} did not grade every submission of {assignment}:\n{log[-2000:]}")
                print(f"  --workers {w}: {assignment}: {per[assignment]} in {seconds[assignment]:.1f} s", flush=True)
            if expected is not None and totals != expected:
                raise RuntimeError(f"--workers {w} graded differently from --workers {workers[0]}")
            expected = totals
            out[w] = {"seconds": sum(seconds.values()), "per_assignment": seconds,
                      "per_second": total / sum(seconds.values())}
            shutil.rmtree(root)
    return {"submissions": per, "workers": out}


def main(argv=None) -> None:
    from ..release import find_root

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", default="08_full_training")
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--throughput", type=int, metavar="N", help="grade N submissions of several notebooks instead")
    p.add_argument("--root", help="course root to copy (default: found from the current folder)")
    args = p.parse_args(argv)
    root = find_root(args.root)
    if args.throughput:
        res = throughput(root, args.throughput, workers=(1, args.workers))
        for w, r in res["workers"].items():
            print(f"--workers {w}: {args.throughput} submissions in {r['seconds']:.1f} s: "
                  f"{r['per_second']:.2f} submissions/s")
        return
    print(f"cold `backprop-lab autograde {args.assignment}`, {args.students} submissions, "
          f"--workers 1 vs --workers {args.workers}:")
    res = cold_speedup(root, args.assignment, args.students, args.repeat, args.workers)
    print("ratios: " + ", ".join(f"{r:.2f}x" for r in res["ratios"]))
    one, many = (statistics.median(res["times"][w]) for w in (1, args.workers))
    print(f"median speedup with {args.workers} workers: {res['median_ratio']:.2f}x "
          f"(median {one:.1f} s vs {many:.1f} s)")


if __name__ == "__main__":
    main()
