"""Helpers for tests/test_hub.py: the course hub (deploy/jupyterhub_config.py) in a temporary folder,
its users' environments, timed steps, and the notebooks the students hand in.

The hub runs the repository's own configuration with the test's two shortcuts given on the command
line (deploy/README.md, "What the test takes a shortcut on"): a shared password instead of PAM, and
SimpleLocalProcessSpawner (every server runs as the test's user, each in a home folder of its own)
instead of LocalProcessSpawner. It listens on free localhost ports and is stopped through its own
process group; any process it started that outlives it (servers, kernels, the proxy) is killed by pid.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import browser_helpers as bh
import nbformat

ROOT = bh.ROOT
DEPLOY = ROOT / "deploy"
SCREENSHOTS = ROOT / "test-output" / "hub"  # git-ignored
COURSE_ID = "backprop_lab"
PASSWORD = "backprop-lab-hub-test"  # the shared password of the test's authenticator (8+ characters)
BIN = Path(sys.executable).parent  # the virtualenv that runs the tests runs the hub too


def proxy_command() -> str | None:
    """configurable-http-proxy: the one npm installed into deploy/, else one on PATH."""
    local = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(local) if os.access(local, os.X_OK) else shutil.which("configurable-http-proxy")


def missing_requirement() -> str | None:
    """Why the hub test cannot run here (None when it can)."""
    if shutil.which("node") is None:
        return "node is not installed (the hub's proxy, configurable-http-proxy, runs on Node.js)"
    if proxy_command() is None:
        return ("configurable-http-proxy is not installed: `npm ci --prefix deploy` "
                "(.ci/run does it where npm exists)")
    if not (BIN / "jupyterhub").exists():
        return "JupyterHub is not installed: pip install -e '.[hub]'"
    return bh.missing_requirement()  # Chromium, playwright, JupyterLab, nbgrader


# ------------------------------------------------------------------------------------------ timing


class Steps:
    """Wall-clock time of each named step, in order: ``with steps("collect"): ...``."""

    def __init__(self):
        self.times: list[tuple[str, float]] = []

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            self.times.append((name, seconds))
            print(f"[{seconds:6.1f} s] {name}", flush=True)

    def table(self) -> str:
        width = max((len(name) for name, _ in self.times), default=4)
        lines = [f"{name:<{width}}  {seconds:6.1f} s" for name, seconds in self.times]
        lines.append(f"{'total':<{width}}  {sum(s for _, s in self.times):6.1f} s")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------- users


class Course:
    """The temporary course: a copy of the repository's course, the exchange, the users' homes."""

    def __init__(self, tmp: Path, instructor: str, students: list[str]):
        self.root = bh.copy_course(tmp / "course")
        self.exchange = tmp / "exchange"
        self.homes = tmp / "homes"
        self.instructor, self.students = instructor, list(students)
        self.exchange.mkdir()
        self.exchange.chmod(0o1777)  # deploy/README.md: world-writable with the sticky bit
        self.homes.mkdir()

    def home(self, user: str) -> Path:
        """The user's home folder (SimpleLocalProcessSpawner's home_dir_template gives the same)."""
        home = self.homes / user
        home.mkdir(exist_ok=True)
        return home

    def config_path(self, user: str) -> str:
        """JUPYTER_CONFIG_PATH as the hub sets it for the user's server (deploy/jupyterhub_config.py)."""
        if user == self.instructor:
            return os.pathsep.join([str(DEPLOY / "jupyter" / "instructor"), str(self.root / "autograder")])
        return str(DEPLOY / "jupyter" / "student")

    def env(self, user: str) -> dict:
        """The environment of a terminal on the user's server: the variables the spawner passes on
        (PATH, PYTHONPATH, LANG), the user's HOME, JUPYTERHUB_USER and the role's configuration."""
        env = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "LANG", "LC_ALL") if k in os.environ}
        env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", os.defpath)])
        env.update(HOME=str(self.home(user)), USER=user, JUPYTERHUB_USER=user,
                   JUPYTER_CONFIG_PATH=self.config_path(user), BACKPROP_LAB_EXCHANGE=str(self.exchange))
        return env

    def run(self, user: str, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a command as `user` would in a terminal on the hub: the instructor in the course
        folder, a student in their home. Fails the test with the command's output when it fails."""
        cwd = self.root if user == self.instructor else self.home(user)
        proc = subprocess.run(list(argv), cwd=cwd, env=self.env(user), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"{user}: `{' '.join(argv)}` exited with {proc.returncode}:\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def nbgrader(self, user: str, *args: str) -> subprocess.CompletedProcess:
        return self.run(user, sys.executable, "-m", "nbgrader", *args)

    def backprop_lab(self, user: str, *args: str) -> subprocess.CompletedProcess:
        return self.run(user, sys.executable, "-m", "backprop_lab.coursekit.cli", *args)


# ----------------------------------------------------------------------------------------- the hub


class Hub:
    """deploy/jupyterhub_config.py on free localhost ports, state (database, cookie secret) in `state`."""

    def __init__(self, course: Course, state: Path, log_path: Path):
        self.course, self.state, self.log_path = course, state, log_path
        self.port = bh.free_port()
        hub_port, api_port = bh.free_port(), bh.free_port()
        self.argv = [
            str(BIN / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py"),
            f"--JupyterHub.bind_url=http://127.0.0.1:{self.port}",
            f"--JupyterHub.hub_bind_url=http://127.0.0.1:{hub_port}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}",
            f"--ConfigurableHTTPProxy.command={proxy_command()}",
            # The test's shortcuts (deploy/README.md says what a course uses instead):
            "--JupyterHub.authenticator_class=shared-password",
            f"--SharedPasswordAuthenticator.user_password={PASSWORD}",
            "--JupyterHub.spawner_class=simple",
            f"--SimpleLocalProcessSpawner.home_dir_template={course.homes}/{{username}}",
        ]
        self.env = {**os.environ, "BACKPROP_HUB_COURSE_ROOT": str(course.root),
                    "BACKPROP_LAB_EXCHANGE": str(course.exchange),
                    "BACKPROP_HUB_INSTRUCTORS": course.instructor,
                    "BACKPROP_HUB_STUDENTS": ",".join(course.students),
                    "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", os.defpath)])}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Hub:
        self.state.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=self.state, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:  # through the proxy: both the proxy and the hub answer
                with urllib.request.urlopen(f"{self.url}/hub/api", timeout=2) as resp:
                    if resp.status == 200 and "version" in json.load(resp):
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterHub did not answer {self.url}/hub/api within {timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the hub (it stops the servers and the proxy it started), then SIGKILL to every
        process it started that is still alive (checked by pid and start time)."""
        proc = self.proc
        if proc is None:
            return
        started = descendants(proc.pid)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        for pid, start in started:
            if start_time(pid) == start:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self._log.close()
        self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no hub log)"


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): tells a process from a recycled pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every process below `pid` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


# --------------------------------------------------------------------------------------- notebooks


def fill(path: Path, solution: Path, edits: dict[str, tuple[str, str]] | None = None) -> None:
    """Answer the fetched notebook `path` in place with the solution cells of `solution` (matched by
    nbgrader grade_id), then apply `edits` {grade_id: (old, new)}: a student's bug."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in nbformat.read(str(solution), as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    for grade_id, (old, new) in (edits or {}).items():
        cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
        assert cells and old in cells[0].source, f"{path.name}: no cell {grade_id!r} containing {old!r}"
        cells[0].source = cells[0].source.replace(old, new)
    nbformat.write(nb, str(path))


def gradebook_scores(root: Path, assignment: str) -> tuple[list[str], dict[str, dict[str, float | None]]]:
    """The assignment's graded cells, and per student {cell: score} from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(root / "autograder" / "gradebook.db")) as gb:
        cells = [c.name for nb in gb.find_assignment(assignment).notebooks for c in nb.grade_cells]
        scores = {}
        for sub in gb.assignment_submissions(assignment):
            scores[sub.student_id] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
    return cells, scores
