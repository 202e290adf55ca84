"""Run student code in a locked-down child process and call it through probes.

`SandboxRunner` implements the same `call(probe, **kwargs)` as `checking.LocalRunner`, so the
exercise checks run unchanged; but here the student's code lives in another process (see
`child.py` for what that process may do), only plain data comes back, and every verdict is
computed in the grader's process. A check that hangs costs that check: the child is killed after
`timeout` seconds and restarted (without the cell that hung, if a cell hung while loading).
"""
from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np

from ..checking import core, probes

_CHILD_SOURCE = (Path(__file__).with_name("child.py")).read_text()
_PROBES_SOURCE = Path(probes.__file__).read_text()
_OPEN: weakref.WeakSet = weakref.WeakSet()  # runners whose child may be alive (see `close_all`)
FORBIDDEN_MODULES = ("backprop_lab", "torch", "ctypes", "_ctypes", "gc", "subprocess", "socket",
                     "multiprocessing", "_posixsubprocess", "importlib.metadata")


def _read_roots() -> list[str]:
    roots = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    roots |= {p for p in sys.path if p.endswith("lib-dynload")}
    roots.add(os.path.realpath(os.path.dirname(np.__file__)))
    libs = os.path.realpath(os.path.dirname(np.__file__)) + ".libs"
    if os.path.isdir(libs):
        roots.add(libs)
    return sorted(os.path.realpath(r) for r in roots if os.path.isdir(r))


class SandboxRunner:
    """Student code in a child process.

    Args:
        cells: ``[(cell_id, source), ...]`` executed in order at start (each top-level statement
            separately, so one failing statement does not lose the definitions after it).
        timeout: seconds allowed for each probe call and each cell.
        memory_mb: address-space limit of the child.
        landlock: use Landlock where the kernel has it (on by default).
    """

    def __init__(self, cells, timeout: float = 10.0, memory_mb: int = 3072, landlock: bool = True):
        self.cells = list(cells)
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.landlock = landlock
        self.skip: set[str] = set()      # cells that hung: not loaded again after a restart
        self.notes: list[str] = []       # what went wrong while loading cells, for the report
        self.forbidden: list[str] = []   # forbidden imports seen while loading cells
        self.landlock_abi = 0
        self.proc = None
        self.tmp = None

    # -- process management -------------------------------------------------------------
    def _limits(self):
        os.setsid()
        mem = self.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 2**20, 50 * 2**20))
        cpu = int(max(60, 20 * self.timeout))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

    def _start(self):
        self.tmp = tempfile.mkdtemp(prefix="bpl-sandbox-")
        np_parent = os.path.join(self.tmp, "site")
        os.makedirs(np_parent)
        os.symlink(os.path.realpath(os.path.dirname(np.__file__)), os.path.join(np_parent, "numpy"))
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp, "TMPDIR": self.tmp, "LANG": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
        self._out = open(os.path.join(tempfile.gettempdir(), f"bpl-out-{os.getpid()}-{id(self)}.txt"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _CHILD_SOURCE, str(to_child_r), str(from_child_w)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT, cwd=self.tmp, env=env,
            pass_fds=(to_child_r, from_child_w), preexec_fn=self._limits, close_fds=True)
        _OPEN.add(self)
        os.close(to_child_r)
        os.close(from_child_w)
        self._w, self._r = to_child_w, from_child_r
        config = {"numpy_parent": np_parent, "probes_source": _PROBES_SOURCE, "tmp": self.tmp,
                  "extra_probes": probes.extra_probe_sources(),
                  "read_roots": _read_roots() + [np_parent], "forbidden_modules": list(FORBIDDEN_MODULES),
                  "landlock": self.landlock}
        payload = json.dumps(config).encode()
        os.write(self._w, struct.pack("<Q", len(payload)) + payload)
        hello = self._request({"op": "hello"}, timeout=max(30.0, self.timeout))
        self.landlock_abi = int(hello.get("landlock", 0))
        for cell_id, source in self.cells:
            if cell_id in self.skip:
                continue
            try:
                reply = self._request({"op": "exec", "cell_id": cell_id, "source": source}, self.timeout)
            except core.CheckTimeout:
                self.skip.add(cell_id)
                self.notes.append(f"cell {cell_id} did not finish within {self.timeout:g} s "
                                  "(an infinite loop at the top level?): it was skipped")
                self.close()
                return self._start()
            except core.StudentCodeError as exc:
                self.skip.add(cell_id)
                self.notes.append(f"cell {cell_id} stopped the grading process ({exc.message}): it was skipped")
                self.close()
                return self._start()
            for err in reply.get("errors", []):
                note = f"cell {cell_id}: {err['type']}: {err['message']}"
                if note not in self.notes:
                    self.notes.append(note)
                if err.get("error") == "forbidden" and note not in self.forbidden:
                    self.forbidden.append(note)

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._out.close()
            os.unlink(self._out.name)
            self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    # -- protocol -------------------------------------------------------------------------
    def _recv_exact(self, n: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise core.CheckTimeout(f"your code did not finish within {self.timeout:g} s "
                                        "(an infinite loop, or much too slow)")
            chunk = os.read(self._r, min(n - len(buf), 1 << 20))
            if not chunk:
                raise core.StudentCodeError("your code ended the grading process "
                                            "(exit(), os._exit(), a crash or the memory limit)")
            buf += chunk
        return bytes(buf)

    def _request(self, request: dict, timeout: float):
        data = probes.encode(request)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._w, view):]
            deadline = time.monotonic() + timeout
            (n,) = struct.unpack("<Q", self._recv_exact(8, deadline))
            if n > 512 * 2**20:
                raise core.StudentCodeError("your code returned an unreasonably large result")
            reply = probes.decode(self._recv_exact(n, deadline))
        except BrokenPipeError:
            raise core.StudentCodeError("your code ended the grading process") from None
        except (ValueError, KeyError, struct.error, UnicodeDecodeError) as exc:
            raise core.StudentCodeError(f"the grading process sent something unreadable ({exc})") from None
        if not isinstance(reply, dict):
            raise core.StudentCodeError("the grading process sent something unreadable")
        return reply

    def call(self, probe_name: str, **kwargs):
        if self.proc is None:
            self._start()
        try:
            reply = self._request({"op": "call", "probe": probe_name, "kwargs": kwargs}, self.timeout)
        except core.StudentCodeError:
            self.close()  # a hung or dead child is replaced before the next check
            raise
        if "error" not in reply:
            return reply.get("value")
        kind, message = reply.get("error"), str(reply.get("message", ""))
        if kind == "not_attempted":
            raise core.NotAttempted("not attempted yet (the code still raises NotImplementedError)")
        if kind == "missing":
            raise core.NotAttempted(f"`{message.strip(chr(39))}` is not defined: run the cell that defines it")
        if kind == "forbidden":
            raise core.ForbiddenUse(f"this exercise must be solved without the reference or torch: {message}")
        if self.forbidden:  # the code failed after a forbidden import was refused: say so
            raise core.ForbiddenUse("this exercise must be solved without the reference or torch; "
                                    + "; ".join(self.forbidden))
        tb = str(reply.get("traceback", ""))
        head = "Traceback (your code only):\n" if tb else ""
        raise core.StudentCodeError(f"your code raised {reply.get('type', 'an error')}: {message}",
                                    head + tb + f"\n{reply.get('type')}: {message}" if tb else "")


def close_all() -> None:
    """Kill every sandbox child this process started and remove its files (a worker being terminated)."""
    for runner in list(_OPEN):
        try:
            runner.close()
        except Exception:
            pass
