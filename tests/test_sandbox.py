"""The grading sandbox on its own: what student code may not do, and what it costs when it tries."""
import os
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from backprop_lab.coursekit.checking import core, get_exercise
from backprop_lab.coursekit.checking.core import run_exercise
from backprop_lab.coursekit.grading.sandbox import SandboxRunner
from backprop_lab.coursekit.grading.selfcheck import solution_cells

ROOT = Path(__file__).resolve().parents[1]

CELLS = [
    ("ok", "def square(x):\n    return x ** 2\n"),
    ("read", "def read(path):\n    return open(path).read()[:20]\n"),
    ("listdir", "import os\ndef ls(path):\n    return len(os.listdir(path))\n"),
    ("imp", "def imp(name):\n    __import__(name)\n    return 1\n"),
    ("loop", "def spin():\n    while True:\n        pass\n"),
    ("exit", "def leave():\n    import os\n    os._exit(0)\n"),
    ("kill", "def kill_parent():\n    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n"),
    ("shell", "def shell():\n    import os\n    return os.system('echo hi')\n"),
    ("memory", "def hog():\n    return np.ones((1 << 31,))\n"),
    ("env", "import os\ndef env():\n    return sorted(os.environ)\n"),
    ("toplevel", "while True:\n    pass\n"),
    ("after", "def after():\n    return 7\n"),
]


@pytest.fixture(scope="module")
def runner():
    with SandboxRunner(CELLS, timeout=2.0) as r:
        yield r


def call(runner, func, *args):
    return runner.call("call", func=func, args=list(args))


def test_plain_code_runs_and_returns_arrays(runner):
    np.testing.assert_array_equal(call(runner, "square", np.arange(3.0)), [0.0, 1.0, 4.0])


def test_a_hanging_cell_is_skipped_and_the_rest_still_loads(runner):
    assert call(runner, "after") == 7
    assert any("did not finish" in n and "toplevel" in n for n in runner.notes)


@pytest.mark.parametrize("path", [str(ROOT / "solutions"), str(ROOT / "README.md"), "/etc/passwd",
                                  os.path.expanduser("~")])
def test_no_file_outside_the_sandbox_can_be_read(runner, path):
    with pytest.raises(core.StudentCodeError, match="not allowed while grading"):
        call(runner, "read", path) if os.path.isfile(path) else call(runner, "ls", path)


@pytest.mark.parametrize("module", ["backprop_lab", "torch", "ctypes", "subprocess", "socket"])
def test_the_reference_torch_and_escape_hatches_cannot_be_imported(runner, module):
    with pytest.raises(core.StudentCodeError) as exc:
        call(runner, "imp", module)
    assert "forbidden while grading" in exc.value.message or "No module named" in exc.value.message


def test_processes_signals_and_shell_are_refused(runner):
    for func in ("kill_parent", "shell"):
        with pytest.raises(core.StudentCodeError, match="not allowed while grading"):
            call(runner, func)
    assert call(runner, "after") == 7  # and the grader is alive


def test_an_infinite_loop_costs_one_call_and_the_child_is_replaced(runner):
    start = time.monotonic()
    with pytest.raises(core.CheckTimeout):
        call(runner, "spin")
    assert time.monotonic() - start < 10
    assert call(runner, "after") == 7


def test_exit_and_memory_bombs_cost_one_call(runner):
    with pytest.raises(core.StudentCodeError, match="ended the grading process"):
        call(runner, "leave")
    with pytest.raises(core.StudentCodeError):
        call(runner, "hog")  # 16 GiB: over the child's address-space limit
    assert call(runner, "after") == 7


def test_the_environment_is_scrubbed(runner):
    assert set(call(runner, "env")) <= {"PATH", "HOME", "TMPDIR", "LANG", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                        "MKL_NUM_THREADS", "PYTHONHASHSEED", "MPLBACKEND", "LC_CTYPE"}


def test_landlock_is_applied_where_the_kernel_has_it(runner):
    if not Path("/proc/self").exists():
        pytest.skip("Linux only")
    call(runner, "after")
    assert runner.landlock_abi >= 0  # 0 means the audit-hook layer alone (older kernels)


STEAL = '''
import sys
def _find(name):
    # Look everywhere the sandbox's own code might keep a working implementation.
    seen, todo = set(), [vars(sys.modules["__main__"])]
    for mod in list(sys.modules.values()):
        todo.append(getattr(mod, "__dict__", {}))
    while todo:
        d = todo.pop()
        if id(d) in seen or not isinstance(d, dict):
            continue
        seen.add(id(d))
        for k, v in list(d.items()):
            if k == name and callable(v) and v is not globals().get(name):
                return v
            if isinstance(v, dict):
                todo.append(v)
            if callable(v) and hasattr(v, "__globals__"):
                todo.append(v.__globals__)
            if isinstance(v, str) and ("def " + name) in v:
                ns = {"np": np}
                try:
                    exec(v, ns)
                except Exception:
                    continue
                if callable(ns.get(name)):
                    return ns[name]
    raise NotImplementedError
'''


@pytest.mark.parametrize("notebook, keys", [("04_training_an_mlp", ["04.mlp", "04.sgd", "04.train_step"]),
                                            ("05_optimizers", ["05.adam", "05.adamw"])])
def test_nothing_in_the_sandbox_can_be_stolen(notebook, keys):
    """A blank submission that searches the child's modules, probe globals and sources for working
    code earns nothing: no working implementation is ever sent to the sandbox."""
    release = nbformat.read(str(ROOT / "course" / notebook / f"{notebook}.ipynb"), as_version=4)
    cells = []
    for gid, source in solution_cells(release):
        names = [ln.split("(")[0][4:] for ln in source.splitlines() if ln.startswith("def ")]
        cells.append((gid, STEAL + source + "".join(
            f"\ntry:\n    {n} = _find('{n}')\nexcept NotImplementedError:\n    pass\n" for n in names)))
    with SandboxRunner(cells, timeout=5.0) as runner:
        for key in keys:
            report = run_exercise(get_exercise(key), runner, hidden=True, seed=1)
            assert report.earned == 0, report.text()
