"""Grading on a real Dask cluster whose workers cannot see the course.

A `dask scheduler` and two `dask worker` processes (not a LocalCluster) run from a copy of the
package; each worker lives in its own mount namespace (``unshare --mount``) where empty tmpfs are
mounted over the course folders: over the test's courses and over the repository's solutions/,
course/ and autograder/. `backprop-lab autograde --scheduler` then grades a class: the scores equal
those of local grading. A second batch kills one worker mid-batch: every student is still graded
and recorded exactly once, and the summary names the student that was graded again.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_lab.coursekit.grading.cluster import TOPIC
from backprop_lab.coursekit.grading.collect import collect
from backprop_lab.coursekit.grading.demo_class import make_class
from backprop_lab.coursekit.grading.export import scores
from backprop_lab.coursekit.grading.nbgrader_plugin import load_secret

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
A = "01_chain_rule"
N = 8
CLI = [sys.executable, "-m", "backprop_lab.coursekit.cli"]


def _can_unshare() -> bool:
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True) if shutil.which("unshare") else None
    return probe is not None and probe.returncode == 0


def _course(path: Path, secret: bytes) -> Path:
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, path / part)
    (path / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", path / "autograder")
    (path / "autograder" / ".grading_secret").write_bytes(secret)  # same hidden inputs in every copy
    make_class(path, A, path / "inbox", n=N)
    collect(path, path / "inbox")
    return path


def _autograde(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.run([*CLI, "autograde", A, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"autograde {' '.join(args)}: {time.perf_counter() - start:.1f} s")
    return proc


def _graded(root: Path) -> dict:
    """{student: total}, after checking each student has an autograded notebook and a score per cell."""
    columns, rows = scores(root, A)
    for row in rows:
        assert (root / "autograder" / "autograded" / row["student"] / A / f"{A}.ipynb").is_file()
        assert all(row.get(c) is not None for c in columns[1:-1]), row
        assert (root / "autograder" / "results" / A / f"{row['student']}.json").is_file()
    return {row["student"]: row["total"] for row in rows}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not _can_unshare():
        pytest.skip("needs `unshare --mount` (root, or user namespaces) to hide the course from the workers")
    tmp = tmp_path_factory.mktemp("dask")
    package = tmp / "pkg"
    shutil.copytree(ROOT / "backprop_lab", package / "backprop_lab", ignore=shutil.ignore_patterns("__pycache__"))
    courses = tmp / "courses"
    courses.mkdir()
    hidden = [courses] + [ROOT / p for p in ("solutions", "course", "autograder")]
    env = dict(os.environ, PYTHONPATH=str(package))
    sched_file = tmp / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--scheduler-file", str(sched_file),
                               "--port", "0", "--no-dashboard"], cwd=tmp, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    workers = {}
    for name in ("w1", "w2"):
        mounts = " && ".join(f"mount -t tmpfs -o size=1m,mode=755 bpl-hidden '{p}'" for p in hidden)
        worker = (f"exec {sys.executable} -m dask worker --scheduler-file '{sched_file}' --nthreads 1 --no-nanny "
                  f"--name {name} --local-directory '{tmp / name}'")
        workers[name] = subprocess.Popen(["unshare", "--mount", "sh", "-c", f"{mounts} && {worker}"], cwd=tmp,
                                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs += workers.values()
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        client = distributed.Client(address, timeout="30s")
        client.wait_for_workers(2, timeout=60)
        names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
        yield {"address": address, "client": client, "workers": workers, "names": names, "courses": courses,
               "package": package}
        client.close()
    finally:
        for proc in procs:  # workers first: a lost scheduler would keep them retrying
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def test_workers_cannot_see_the_course(cluster):
    secret = os.urandom(32)
    root = _course(cluster["courses"] / "probe", secret)

    def look(paths):
        import backprop_lab
        return backprop_lab.__file__, {p: os.path.exists(p) and sorted(os.listdir(p)) for p in paths}

    paths = [str(root / "autograder" / "nbgrader_config.py"), str(root), str(ROOT / "solutions"),
             str(ROOT / "course"), str(ROOT / "autograder")]
    seen = cluster["client"].run(look, paths)
    assert len(seen) == 2
    for package_file, views in seen.values():
        assert package_file.startswith(str(cluster["package"]))  # the copy, not the repository
        assert not any(views.values()), views  # missing, or an empty folder
    assert os.path.exists(paths[0])  # while this process sees the course


def test_cluster_grades_like_local_and_survives_a_lost_worker(cluster):
    secret = load_secret(str(cluster["courses"].parent / "secret"))
    start = time.perf_counter()
    local = _course(cluster["courses"] / "local", secret)
    remote = _course(cluster["courses"] / "remote", secret)
    lost = _course(cluster["courses"] / "lost", secret)
    print(f"three courses: {time.perf_counter() - start:.1f} s")

    _autograde(local, "--workers", "1")
    expected = _graded(local)
    assert len(expected) == N and len(set(expected.values())) > 1  # a class with different scores

    proc = _autograde(remote, "--scheduler", cluster["address"])
    assert f"Dask scheduler {cluster['address']}, 2 workers" in proc.stdout
    assert _graded(remote) == expected

    # Kill the worker that starts the third task: it has graded a student and is grading another.
    client, starts, killed = cluster["client"], [], {}

    def on_start(event):
        msg = event[1]
        starts.append(msg)
        if len(starts) == 3 and not killed:
            cluster["workers"][cluster["names"][msg["worker"]]].kill()
            killed.update(msg)

    client.subscribe_topic(TOPIC, on_start)
    try:
        proc = _autograde(lost, "--scheduler", cluster["address"])
    finally:
        client.unsubscribe_topic(TOPIC)
    assert killed, "no task started"
    assert _graded(lost) == expected
    for student in expected:  # each student once in the summary, and recorded once
        assert sum(line.split()[0] == student for line in proc.stdout.splitlines() if "points" in line) == 1
    assert f"graded {N} submission(s)" in proc.stdout
    assert f"retried {killed['student']}: its worker {killed['worker']} was lost" in proc.stdout, proc.stdout
