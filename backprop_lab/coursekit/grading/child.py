"""The grading sandbox's child process. Runs student code; never sees an expected answer.

This file is run as ``python -I -S -c <this source> IN_FD OUT_FD`` by `sandbox.SandboxRunner`,
so it may use the standard library only until it has set up `sys.path` with numpy (and nothing
else: neither `backprop_lab` nor torch is importable here). Before any student code runs it:

1. locks the file system with Landlock (Linux >= 5.13): reads only below the Python standard
   library, numpy and its own temporary directory, writes only there; signals to processes
   outside the sandbox are refused (Landlock ABI >= 6);
2. installs an audit hook (PEP 578) that refuses imports of the reference, torch, ctypes and gc,
   process creation, sockets, signals and file access outside the same directories -- a second
   layer, and the only one where Landlock is missing.

Requests come as frames on IN_FD, answers go to OUT_FD (see `probes.encode`); stdout and stderr
go to a file the grader does not read back into any verdict.
"""
import ast
import builtins
import json
import math
import os
import struct
import sys

IN_FD, OUT_FD = int(sys.argv[1]), int(sys.argv[2])


def _read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(IN_FD, n - len(buf))
        if not chunk:
            os._exit(0)  # the grader went away
        buf += chunk
    return buf


def _read_frame():
    (n,) = struct.unpack("<Q", _read_exact(8))
    return _read_exact(n)


CONFIG = json.loads(_read_frame())
sys.path.append(CONFIG["numpy_parent"])
import numpy as np  # noqa: E402 - numpy is importable only once CONFIG (read above) gave its folder

PROBES_NS = {"__name__": "probes"}
exec(compile(CONFIG["probes_source"], "<probes>", "exec"), PROBES_NS)
_encode, _decode, PROBES = PROBES_NS["encode"], PROBES_NS["decode"], PROBES_NS["PROBES"]


def _load_extra_probes():
    # Exercise-specific probe files say `from backprop_lab.coursekit.checking.probes import probe, ...`:
    # stand in for that one module while they load, then take the stand-ins away again.
    import types

    fakes = {}
    for name in ("backprop_lab", "backprop_lab.coursekit", "backprop_lab.coursekit.checking",
                 "backprop_lab.coursekit.checking.probes"):
        fakes[name] = sys.modules[name] = types.ModuleType(name)
    fakes["backprop_lab.coursekit.checking.probes"].__dict__.update(PROBES_NS)
    try:
        for name, source in CONFIG.get("extra_probes", []):
            exec(compile(source, f"<{name}>", "exec"), {"__name__": name})
    finally:
        for name in fakes:
            sys.modules.pop(name, None)


_load_extra_probes()
# Nothing in this process is secret (no working solution is ever sent here), but keep no more
# than needed: the probe sources are not needed any more.
CONFIG.pop("probes_source", None)
CONFIG.pop("extra_probes", None)
READ_ROOTS = tuple(CONFIG["read_roots"])
WRITE_ROOT = CONFIG["tmp"]
FORBIDDEN = tuple(CONFIG["forbidden_modules"])


def _landlock():
    """Restrict this process (and children) to READ_ROOTS (read) and WRITE_ROOT (read/write)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    sc_create, sc_add, sc_restrict = 444, 445, 446  # same numbers on x86_64 and aarch64
    abi = libc.syscall(sc_create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return 0
    handled = (1 << (13 if abi == 1 else 14 if abi == 2 else 15 if abi < 5 else 16)) - 1
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals stay inside
    attr = struct.pack("<QQQ", handled, 0, scoped)
    ruleset = libc.syscall(sc_create, ctypes.c_char_p(attr), ctypes.c_size_t(24 if abi >= 6 else 8),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        return 0
    read = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
    for path, access in [(p, read) for p in READ_ROOTS] + [(WRITE_ROOT, handled)]:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        rule = struct.pack("<Qi", access & handled if os.path.isdir(path) else access & 0b110, fd)
        libc.syscall(sc_add, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.c_char_p(rule), ctypes.c_uint32(0))
        os.close(fd)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if libc.syscall(sc_restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        return 0
    return abi


LANDLOCK_ABI = _landlock() if CONFIG.get("landlock", True) else 0
for _m in ("ctypes", "_ctypes", "gc"):
    sys.modules.pop(_m, None)


def _inside(path, roots):
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


_BLOCKED_EVENTS = ("subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                   "os.forkpty", "pty.", "socket.", "os.kill", "os.killpg", "signal.pthread_kill",
                   "ctypes.", "sys.addaudithook", "os.chdir", "os.chroot", "os.putenv", "os.unsetenv",
                   "sys.remote_exec", "resource.setrlimit", "os.setuid", "os.setgid")


def _audit(event, args, _blocked=_BLOCKED_EVENTS, _forbidden=FORBIDDEN, _inside=_inside,
           _read=READ_ROOTS, _write=(WRITE_ROOT,)):
    if event == "import":
        top = str(args[0]).split(".")[0]
        if top in _forbidden:
            raise ImportError(f"'{args[0]}' is forbidden while grading: solve the exercise without it")
    elif event == "open":
        path, mode = args[0], args[1]
        if isinstance(path, int):
            return
        writing = mode is not None and any(c in str(mode) for c in "wax+")
        if not _inside(path, _write if writing else _read + _write):
            raise PermissionError(f"reading or writing files is not allowed while grading: {path}")
    elif event in ("os.listdir", "os.scandir", "glob.glob", "shutil.copyfile", "os.remove", "os.rename"):
        if args and args[0] is not None and not _inside(args[0], _read + _write):
            raise PermissionError(f"file system access is not allowed while grading: {args[0]}")
    elif event.startswith(_blocked):
        raise PermissionError(f"{event} is not allowed while grading")


sys.addaudithook(_audit)
del _audit

NS = {"__name__": "__main__", "__builtins__": builtins, "np": np, "numpy": np, "math": math}


def _statements(source, cell_id):
    # IPython magics and shell escapes are not Python: drop them.
    lines = ["pass  # " + ln if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()]
    tree = ast.parse("\n".join(lines), filename=f"<cell {cell_id}>")
    for node in tree.body:
        # One statement at a time, so a failing import does not lose the functions after it.
        yield compile(ast.Module(body=[node], type_ignores=[]), f"<cell {cell_id}>", "exec")


_student_tb = PROBES_NS["student_frames"]  # checking/probes.py formats a student's frames for both sides


def _error(exc):
    kind = {"NotImplementedError": "not_attempted", "MissingName": "missing"}.get(type(exc).__name__, "student")
    if isinstance(exc, ImportError) and "forbidden while grading" in str(exc):
        kind = "forbidden"
    return {"error": kind, "type": type(exc).__name__, "message": str(exc)[:2000],
            "traceback": _student_tb(exc)[-4000:]}


def _handle(request):
    if request["op"] == "exec":
        errors = []
        try:
            for code in _statements(request["source"], request["cell_id"]):
                try:
                    exec(code, NS)
                except Exception as exc:
                    errors.append(_error(exc))
        except SyntaxError as exc:
            errors.append({"error": "student", "type": "SyntaxError", "message": str(exc), "traceback": ""})
        return {"ok": True, "errors": errors}
    if request["op"] == "call":
        try:
            return {"ok": True, "value": PROBES[request["probe"]](NS, **request["kwargs"])}
        except Exception as exc:
            return _error(exc)
    if request["op"] == "hello":
        return {"ok": True, "landlock": LANDLOCK_ABI}
    return {"error": "protocol", "message": "unknown op"}


while True:
    frame = _read_frame()
    try:
        reply = _handle(_decode(frame))
        data = _encode(reply)
    except BaseException as exc:
        data = _encode({"error": "student", "type": type(exc).__name__, "message": str(exc)[:2000],
                        "traceback": ""})
    view = memoryview(data)
    while view:
        view = view[os.write(OUT_FD, view):]
