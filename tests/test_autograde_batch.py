"""How a batch of `backprop-lab autograde` runs (a real CLI process, real nbgrader).

Ctrl-C stops the batch: every student graded so far is recorded whole (gradebook, autograded
notebook, check record), and the summary lists exactly the students that were not graded, with the
command that grades them. A batch too small for its workers is graded in-process, and says so."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_lab.coursekit.grading.collect import collect
from backprop_lab.coursekit.grading.demo_class import make_class
from backprop_lab.coursekit.grading.export import scores

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
A = "01_chain_rule"
N = 16  # enough that a Ctrl-C after the second student lands mid-batch


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("interrupt") / "course"
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, root / part)
    (root / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", root / "autograder")
    make_class(root, A, root / "inbox", n=N)
    collect(root, root / "inbox")
    return root


@pytest.mark.parametrize("workers,presses", [(1, 1), (2, 1), (2, 2)])
def test_ctrl_c_records_whom_it_graded_and_lists_the_rest(prepared, tmp_path, workers, presses):
    root = tmp_path / "course"
    shutil.copytree(prepared, root)
    students = sorted(p.name for p in (root / "autograder" / "submitted").iterdir())
    results = root / "autograder" / "results" / A
    proc = subprocess.Popen([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", A,
                             "--workers", str(workers)], cwd=root, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(results.glob("*.json"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the batch ended before Ctrl-C"
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "Ctrl-C: stopping after the students in progress" in err

    printed = [line.split()[0] for line in out.splitlines() if re.match(r"\S+ +[\d.]+ points", line)]
    listed = re.search(r"stopped: (\d+) not graded: (.*)", out)
    assert listed, out
    not_graded = listed.group(2).split(", ")
    assert int(listed.group(1)) == len(not_graded) > 0
    recorded = sorted(p.stem for p in results.glob("*.json"))
    assert sorted(printed) == recorded and len(recorded) >= 2
    assert sorted(recorded + not_graded) == students
    assert f"grade them with: backprop-lab autograde {A} " + " ".join(f"--student {s}" for s in not_graded) in out

    columns, rows = scores(root, A)
    assert sorted(r["student"] for r in rows) == recorded  # nobody half-recorded, nobody lost
    for row in rows:
        assert all(row[c] is not None for c in columns[1:-1]), row
        assert (root / "autograder" / "autograded" / row["student"] / A / f"{A}.ipynb").is_file()


def test_a_batch_too_small_for_its_workers_is_graded_in_process(prepared, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(prepared, root)
    proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", A, "--workers", "2",
                           "--student", "ada", "--student", "ben", "--student", "cyd"], cwd=root,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "in this process (3 submission(s): too few for 2 workers to gain)" in proc.stdout
    assert "autograde 01_chain_rule (in this process" in proc.stderr  # the progress bar says it too
    assert sorted(r["student"] for r in scores(root, A)[1]) == ["ada", "ben", "cyd"]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_a_local_worker_killed_mid_batch_costs_a_retry_not_a_student(prepared, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(prepared, root)
    students = sorted(p.name for p in (root / "autograder" / "submitted").iterdir())
    results = root / "autograder" / "results" / A
    proc = subprocess.Popen([sys.executable, "-m", "backprop_lab.coursekit.cli", "autograde", A, "--workers", "2"],
                            cwd=root, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(results.glob("*.json"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = [w for server in _children(proc.pid) for w in _children(server)]  # the fork server's children
    assert proc.poll() is None and len(workers) == 2, "the batch ended before the kill"
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    printed = [line.split()[0] for line in out.splitlines() if re.match(r"\S+ +[\d.]+ points", line)]
    assert sorted(printed) == students  # each student once
    assert "a worker process died; graded again in a new one" in out
    assert sorted(r["student"] for r in scores(root, A)[1]) == students


def test_the_batch_module_leaves_nbgrader_for_later():
    # `autograde` starts its workers' imports (torch) before it imports nbgrader itself (~0.7 s); an
    # nbgrader import at module level (collect -> lateness did) delays every worker's first task.
    code = ("import sys, backprop_lab.coursekit.grading.autograde, backprop_lab.coursekit.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nbgrader', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
