"""Notice an answer that calls the reference library (or torch) while a self-check runs it.

A learner's kernel imports `backprop_lab` and torch for the demos, so ``linear_backward`` could simply
call ``F.linear_backward`` and pass its self-check; the grader runs exercise cells without those
modules and would give 0. `ReferenceGuard` is a `sys.setprofile` hook, active only while a probe
runs the learner's code. It records the first call

* from the learner's code (any file outside the forbidden packages) into a forbidden package, or
* from a probe straight into a forbidden package: the learner's name *is* a reference function
  (``linear_backward = F.linear_backward``).

Probe files (``checking/probes.py``, ``exercises/probes_*.py``) are the checker's own code given to
the learner (a test function for a numerical gradient): calling them is allowed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

_KIT = Path(__file__).resolve().parents[1]
_PROBE_FILES = (str(_KIT / "checking" / "probes.py"), str(_KIT / "exercises" / "probes_"))
_THIS_FILE = str(Path(__file__).resolve())
LEARNER, PROBE, FORBIDDEN = "learner", "probe", "forbidden"


def _package_dir(name: str) -> str | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.realpath(path)) + os.sep if path else None


class ReferenceGuard:
    """``with ReferenceGuard(("backprop_lab", "torch")) as guard: ...``; then `guard.offence` is
    None, or one sentence for the learner naming the forbidden call and the fix."""

    def __init__(self, forbid: tuple = ("backprop_lab", "torch")):
        self.forbid = tuple(forbid)
        self.offence: str | None = None
        self._kinds: dict[str, str] = {}
        self._dirs: dict[str, str] = {}
        self._previous = None

    # -- classification of code by its file -------------------------------------------------
    def _forbidden_dirs(self) -> list[str]:
        for name in self.forbid:  # a package imported only during the call is looked up then
            if name not in self._dirs and (found := _package_dir(name)):
                self._dirs[name] = found
        return list(self._dirs.values())

    def kind(self, filename: str) -> str:
        """LEARNER, PROBE or FORBIDDEN for code from `filename`."""
        known = self._kinds.get(filename)
        if known is not None:
            return known
        path = os.path.realpath(filename) if os.path.isabs(filename) else filename
        if path == _PROBE_FILES[0] or path.startswith(_PROBE_FILES[1]):
            kind = PROBE
        elif path == _THIS_FILE:  # the guard's own __exit__
            kind = LEARNER
        elif any(path.startswith(d) for d in self._forbidden_dirs()):
            kind = FORBIDDEN
        else:
            kind = LEARNER
        if kind != LEARNER or len(self._dirs) == len(self.forbid):  # LEARNER may change after an import
            self._kinds[filename] = kind
        return kind

    # -- the hook ------------------------------------------------------------------------------
    def _profile(self, frame, event, arg):
        if self.offence is not None:
            return
        if event == "call":
            if self.kind(frame.f_code.co_filename) != FORBIDDEN or frame.f_back is None:
                return
            caller = frame.f_back
            caller_kind = self.kind(caller.f_code.co_filename)
            if caller_kind != FORBIDDEN:
                module = frame.f_globals.get("__name__", "?")
                self._record(f"{module}.{frame.f_code.co_qualname}", caller, caller_kind == PROBE)
        elif event == "c_call":
            owner = getattr(arg, "__module__", None) or type(getattr(arg, "__self__", None)).__module__
            if (owner or "").split(".")[0] in self.forbid and self.kind(frame.f_code.co_filename) != FORBIDDEN:
                name = getattr(arg, "__name__", "?")
                self._record(f"{owner}.{name}", frame, self.kind(frame.f_code.co_filename) == PROBE)

    def _record(self, target: str, caller, alias: bool) -> None:
        package = target.split(".")[0]
        what = "the course's reference library" if package == "backprop_lab" else package
        grader = ("The grader runs your exercise cells without backprop_lab and torch, so this answer would "
                  "score 0 there: write the computation yourself with numpy.")
        if alias:
            name = target.rsplit(".", 1)[-1]
            self.offence = (f"`{name}` is {target} from {what}, not your own function (did you write "
                            f"`{name} = F.{name}` or return its result?). {grader}")
        else:
            self.offence = f"your `{caller.f_code.co_qualname}` calls {target} from {what}. {grader}"

    def __enter__(self):
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._previous)
        return False
