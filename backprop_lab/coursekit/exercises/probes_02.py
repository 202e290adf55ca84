"""Probes of notebook 02 (the learner's scalar `Value` class). Runs inside the grading sandbox:
numpy, the standard library and `backprop_lab.coursekit.checking.probes` only.

`local_rule` calls ONE operation's `_backward` closure by itself, so that a wrong local derivative
is found without depending on the learner's `backward()`; `topo_order` returns the learner's
`topological_order()` as indices, so that its structure (each node once, children first) can be
checked directly. `build_program` (from `checking.probes`, where `value_program` uses it too) is
shared with the grader side (its mutants use it too).
"""
from __future__ import annotations

from backprop_lab.coursekit.checking.probes import BINARY_OPS, build_program, lookup, probe

__all__ = ["BINARY_OPS", "build_program", "local_rule", "topo_order"]  # ex02 imports the first two from here


@probe
def local_rule(ns, cls, op, x, other=None, pre=(0.0, 0.0), out_grad=1.0):
    """One rule alone: ``out = a * b`` ("mul"), ``a * a`` ("mul_self"), ``a ** other`` ("pow", a
    constant exponent) or ``a.exp()``, ``a.log()``, ``a.tanh()``; then ``out.grad = out_grad``
    and ``out._backward()``. The inputs' grads start at `pre` (non-zero shows ``=`` vs ``+=``).

    Returns {"data": out.data, "grads": [a.grad] or [a.grad, b.grad]}.
    """
    Value = lookup(ns, cls)
    a = Value(float(x))
    a.grad = float(pre[0])
    inputs = [a]
    if op == "mul":
        b = Value(float(other))
        b.grad = float(pre[1])
        inputs.append(b)
        out = a * b
    elif op == "mul_self":
        out = a * a
    elif op == "pow":
        out = a ** float(other)
    else:
        out = getattr(a, op)()
    out.grad = float(out_grad)
    out._backward()
    return {"data": float(out.data), "grads": [float(v.grad) for v in inputs]}


@probe
def topo_order(ns, cls, program):
    """``nodes[-1].topological_order()`` as keys: a program step's index, or a new key (>= the
    program's length) for a Value made inside an operation (a wrapped constant).

    Returns {"order": [key, ...], "children": [[key, [child keys]], ...] for every Value reachable
    from the root (found by following `_prev`, independently of the learner's traversal)}.
    """
    nodes, _ = build_program(lookup(ns, cls), program)
    keys = {id(n): i for i, n in enumerate(nodes) if not isinstance(n, float)}

    def key(v):
        if id(v) not in keys:
            keys[id(v)] = len(program) + len(keys)
        return keys[id(v)]

    root = nodes[-1]
    order = root.topological_order()
    if not isinstance(order, (list, tuple)):
        raise TypeError(f"topological_order() must return a list, got {type(order).__name__} "
                        "(a missing `return`?)")
    children, stack, seen = [], [root], set()
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        children.append([key(v), [key(c) for c in v._prev]])
        stack.extend(v._prev)
    return {"order": [key(v) for v in order], "children": children, "root": key(root)}
