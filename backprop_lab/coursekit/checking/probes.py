"""Probes: the only code that touches a student's functions, and the wire format for their results.

A probe takes the student's namespace and plain data (numpy arrays, numbers, strings, lists and
dicts of them), calls the student's code and returns plain data. Nothing else crosses the
boundary: a verdict is always computed from these returns by the caller.

This file is also executed *inside the grading sandbox*, where `backprop_lab` and torch cannot be
imported, so it must depend on numpy and the standard library only.
"""
from __future__ import annotations

import io
import json
import struct
import traceback

import numpy as np

PROBES: dict = {}


class MissingName(Exception):
    """The student's namespace lacks a function or class the exercise needs."""


def probe(fn):
    PROBES[fn.__name__] = fn
    return fn


def lookup(ns: dict, name: str):
    try:
        return ns[name]
    except KeyError:
        raise MissingName(name) from None


def student_frames(exc: BaseException) -> str:
    """The frames of `exc`'s traceback that lie in student cells (files named ``<cell ...>``), one
    ``  <cell id>, line n, in f`` line each (plus the source line when known); "" when none.

    Both sides format a student's error with it: `checking.core.student_traceback` in the
    learner's kernel, and the grading sandbox's child process, which has this file's source.
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    return "\n".join(f"  {f.filename}, line {f.lineno}, in {f.name}" + (f"\n    {f.line}" if f.line else "")
                     for f in frames)


def plain(value, what: str = "result"):
    """Convert what student code returned into plain data, or raise TypeError saying why not."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"{what} is an object array; return a numeric numpy array")
        return np.array(value, copy=True)
    if isinstance(value, (list, tuple)):
        return [plain(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, what) for k, v in value.items()}
    if hasattr(value, "__array__"):
        return plain(np.asarray(value), what)
    raise TypeError(f"{what} has type {type(value).__name__}; return a numpy array or a number")


# ----------------------------------------------------------------------------------- probes


@probe
def call(ns, func, args=(), kwargs=None):
    """``func(*args, **kwargs)``: for functions whose result is the whole answer."""
    return plain(lookup(ns, func)(*args, **(kwargs or {})), f"{func}(...)")


@probe
def forward_backward(ns, forward, backward, args, kwargs, dout):
    """``out, cache = forward(*args, **kwargs)``; ``grads = backward(dout, cache)``."""
    result = lookup(ns, forward)(*args, **(kwargs or {}))
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"{forward} must return a pair (out, cache), got {type(result).__name__}")
    out, cache = result
    grads = lookup(ns, backward)(dout, cache)
    return {"out": plain(out, f"{forward}'s out"), "grads": plain(grads, f"{backward}'s result")}


BINARY_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
              "div": lambda a, b: a / b, "pow_const": lambda a, b: a ** b}


def build_program(Value, program):
    """The nodes of a `value_program` program built with the class `Value` (the learner's, the
    reference's, or torch tensors: anything with the operators and methods the steps use).

    Returns (nodes, leaves): `nodes[i]` is the Value (or plain float for a "const" step) of step i,
    `leaves` the indices of the "leaf" steps.
    """
    nodes, leaves = [], []
    for op, *idx in program:
        if op == "leaf":
            nodes.append(Value(float(idx[0])))
            leaves.append(len(nodes) - 1)
        elif op == "const":
            nodes.append(float(idx[0]))
        elif op in BINARY_OPS:
            nodes.append(BINARY_OPS[op](nodes[idx[0]], nodes[idx[1]]))
        elif op == "neg":
            nodes.append(-nodes[idx[0]])
        else:
            nodes.append(getattr(nodes[idx[0]], op)())
    return nodes, leaves


@probe
def value_program(ns, cls, program, backward=True):
    """Build an expression with the student's scalar class from a tiny program and backprop it.

    `program` is a list of steps; each step makes a new node from earlier nodes (by index):
    ``["leaf", x]``, ``["const", x]`` (a plain Python number, combined with a node by an operator),
    ``[op, i, j]`` for binary ops (add, sub, mul, div, pow_const), ``[op, i]`` for unary ops (neg,
    exp, log, tanh, sigmoid, relu). Returns every node's data and every leaf's grad after
    ``nodes[-1].backward()``.
    """
    nodes, leaves = build_program(lookup(ns, cls), program)
    if backward:
        nodes[-1].backward()
    data = [float(n.data) if hasattr(n, "data") else float(n) for n in nodes]
    grads = [float(nodes[i].grad) for i in leaves]
    return {"data": data, "grads": grads}


def extra_probe_sources() -> list:
    """(module name, source) of the exercise-specific probe files ``backprop_lab/coursekit/exercises/probes_*.py``.

    Importing them here registers their probes for in-process runs; the sandbox sends the
    sources to its child, which cannot import backprop_lab.
    """
    import importlib
    import pathlib

    folder = pathlib.Path(__file__).resolve().parent.parent / "exercises"
    out = []
    for path in sorted(folder.glob("probes_*.py")):
        name = f"backprop_lab.coursekit.exercises.{path.stem}"
        importlib.import_module(name)
        out.append((name, path.read_text()))
    return out


# ------------------------------------------------------------------------------ wire format
# A frame is: 8-byte length, then a JSON header (4-byte length + UTF-8) and an .npz payload.
# Arrays are stored in the .npz (allow_pickle=False on both sides) and referenced from the JSON.


def _pack(obj, arrays):
    if isinstance(obj, np.ndarray):
        arrays.append(obj)
        return {"__array__": len(arrays) - 1}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _pack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}
    return obj


def _unpack(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[int(obj["__array__"])]
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


def encode(obj) -> bytes:
    arrays: list = []
    header = json.dumps(_pack(obj, arrays), allow_nan=False).encode()
    buf = io.BytesIO()
    np.savez(buf, *[np.asarray(a, order="C") for a in arrays])  # keeps 0-d arrays 0-d
    body = struct.pack("<I", len(header)) + header + buf.getvalue()
    return struct.pack("<Q", len(body)) + body


def decode(body: bytes):
    (n,) = struct.unpack("<I", body[:4])
    header = json.loads(body[4:4 + n].decode())
    with np.load(io.BytesIO(body[4 + n:]), allow_pickle=False) as z:
        arrays = [z[f"arr_{i}"] for i in range(len(z.files))]
    return _unpack(header, arrays)
