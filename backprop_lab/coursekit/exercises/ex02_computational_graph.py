"""Exercises of notebook 02 (computational graph): the learner's scalar `Value` class.

* 02.local_rules: the backward closures of `*`, `**k`, `exp`, `log`, `tanh`, each called alone.
* 02.backward: `topological_order()` (its structure, checked directly) and `backward()` on programs.
* 02.xor: `xor_loss_and_grads(params, X, y)`, a D-H-1 tanh network built from the learner's Value
  (in `ex02_xor`).

Everything is compared with `backprop_lab.scalar.Value` and torch float64. When a result is wrong,
the grader replays known bugs ("mutants": `=` for `+=`, tanh' from the input, leaves-first order, a
node visited twice, ...) on the reference engine; a mutant that reproduces the numbers names the bug.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from backprop_lab.gradcheck import CheckResult, check_gradient, rel_error
from backprop_lab.scalar import Value as RefValue

from ..checking.core import Check, Exercise
from ..checking.diagnoses import register as diagnosis
from ..checking.probes import value_program
from ..checking.registry import register
from .probes_02 import BINARY_OPS, build_program, local_rule

F64 = torch.float64
_SAME = 1e-8  # a mutant "reproduces" the learner's numbers when this close (normwise)


_leaf = lambda x: torch.tensor(float(x), dtype=F64, requires_grad=True)


def _fail(name, why, against="the reference", code=None):
    return CheckResult(name, False, math.inf, None, against, why, 0.0, code)


OVERWRITE = diagnosis("02.overwrite-instead-of-accumulate",
                      "a gradient is assigned (=) instead of added (+=): one path's share overwrites another's")
NO_CHAIN = diagnosis("02.rule-missing-out-grad", "a local rule does not multiply by out.grad (the chain rule)")
MUL_GRAD = diagnosis("02.mul-uses-grad", "a * b's rule multiplies by the other factor's .grad instead of its .data")
MUL_OWN = diagnosis("02.mul-own-factor", "in a * b each factor received itself instead of the other factor")
POW_K = diagnosis("02.pow-exponent-not-lowered", "d(a**k)/da written as k * a**k instead of k * a**(k-1)")
POW_NO_K = diagnosis("02.pow-missing-k", "d(a**k)/da written without the factor k")
EXP_INPUT = diagnosis("02.exp-uses-input", "exp's rule uses the input a instead of the output e**a")
LOG_WRONG = diagnosis("02.log-wrong-derivative", "d(log a)/da is not 1/a (log a, or -1/a**2)")
LOG_MUL = diagnosis("02.log-multiplies", "d(log a)/da written as a (out.grad * self.data) instead of 1/a "
                                         "(out.grad / self.data)")
LOG_OUT = diagnosis("02.log-divides-by-output", "d(log a)/da written as 1/out.data instead of 1/a")
TANH_INPUT = diagnosis("02.tanh-uses-input", "tanh's rule uses the input a instead of the output t: 1 - a**2")
TANH_SQUARE = diagnosis("02.tanh-not-squared", "tanh's rule written as 1 - t instead of 1 - t**2")
TANH_PAREN = diagnosis("02.tanh-square-misplaced", "tanh's rule written as (1 - t)**2 instead of 1 - t**2: "
                                                 "the square is on the difference instead of on t")
TANH_SIGN = diagnosis("02.tanh-wrong-sign", "tanh's rule written as t**2 - 1 instead of 1 - t**2")
TOPO_TWICE = diagnosis("02.topo-duplicates", "topological_order() lists a node more than once (no visited set)")
TOPO_MISSING = diagnosis("02.topo-missing-nodes", "topological_order() misses nodes (no recursion into children)")
TOPO_FOREIGN = diagnosis("02.topo-foreign-nodes", "topological_order() holds Values that are not in the graph")
TOPO_PRE = diagnosis("02.topo-preorder", "a node comes before its children (pre-order instead of post-order)")
NO_SEED = diagnosis("02.backward-no-seed", "backward() does not set self.grad = 1.0 before the pass")
WRONG_ORDER = diagnosis("02.backward-wrong-order", "backward() does not run _backward() on every node root "
                                                    "first (it runs them leaves-first, or only the root's)")
BFS = diagnosis("02.backward-breadth-first", "backward() walks breadth-first from the root: not a topological order")


# ------------------------------------------------------------------------ 02.local_rules
_OVERWRITE = ("the rule assigns (=) instead of adding (+=), so the grad already stored on the input was "
              "lost. Use += : a node used twice (fan-out, or a * a) must receive the sum of both paths.")
_NO_CHAIN = ("the local derivative was not multiplied by out.grad. The chain rule: "
             "input.grad += (local derivative) * out.grad.")
_MATH = {"mul": "d(a*b)/da = b and d(a*b)/db = a", "mul_self": "a * a is a * b with b = a: two shares for a",
         "pow": "d(a**k)/da = k * a**(k-1)", "exp": "d(e**a)/da = e**a", "log": "d(log a)/da = 1/a",
         "tanh": "d(tanh a)/da = 1 - tanh(a)**2"}


def _local_derivatives(op, x, k):
    """The true local derivative(s) d out / d input, and wrong ones learners write: (values, code, what to say)."""
    if op == "mul":
        return [k, x], [([x, k], MUL_OWN, "each factor must receive the OTHER factor: d(a*b)/da = b, "
                                          "so self.grad += other.data * out.grad.")]
    if op == "mul_self":
        return [2 * x], []
    if op == "pow":
        return [k * x ** (k - 1)], [([k * x ** k], POW_K, "the power rule lowers the exponent by one: "
                                                          "d(x**k)/dx = k * x**(k - 1)."),
                                    ([x ** (k - 1)], POW_NO_K, "the factor k is missing: d(x**k)/dx = k * x**(k - 1).")]
    if op == "exp":
        return [math.exp(x)], [([x], EXP_INPUT, "d(e**x)/dx is e**x itself: use out.data, not self.data.")]
    if op == "log":
        return [1 / x], [([math.log(x)], LOG_WRONG, "d(log x)/dx = 1/x, not log x."),
                         ([-1 / x ** 2], LOG_WRONG, "d(log x)/dx = +1/x (that was the derivative of 1/x)."),
                         ([x], LOG_MUL, "d(log a)/da = 1/a: the rule multiplied out.grad by a; divide by "
                                        "it instead: self.grad += out.grad / self.data."),
                         ([1 / math.log(x)], LOG_OUT, "d(log a)/da = 1/a: divide by the input self.data, "
                                                      "not by the output out.data = log a.")]
    t = math.tanh(x)
    return [1 - t * t], [([1 - x * x], TANH_INPUT, "tanh'(x) = 1 - tanh(x)**2 = 1 - out.data**2: you used the "
                                                   "input x instead of the output t."),
                         ([1 - t], TANH_SQUARE, "square the output: tanh'(x) = 1 - t**2."),
                         ([(1 - t) ** 2], TANH_PAREN, "the parentheses are misplaced: (1 - t)**2 squares the "
                                                      "difference; tanh'(x) = 1 - t**2 squares only the output t: "
                                                      "(1.0 - out.data ** 2)."),
                         ([t * t - 1], TANH_SIGN, "the sign is flipped: tanh'(x) = 1 - t**2 (always >= 0).")]


def _torch_local(op, x, k, pre, g):
    a = _leaf(x)
    inputs = [a, _leaf(k)] if op == "mul" else [a]
    out = {"mul": lambda: a * inputs[-1], "mul_self": lambda: a * a, "pow": lambda: a ** float(k),
           "exp": lambda: torch.exp(a), "log": lambda: torch.log(a), "tanh": lambda: torch.tanh(a)}[op]()
    grads = torch.autograd.grad(out, inputs)
    return {"data": out.item(), "grads": [p + g * d.item() for p, d in zip(pre, grads)]}


def _describe_rule(op, x, k, pre, g):
    expr = (f"a * b with a={x:.4g}, b={k:.4g}" if op == "mul" else f"a * a with a={x:.4g}" if op == "mul_self"
            else f"a ** {k:g} with a={x:.4g}" if op == "pow" else f"{op}(a) with a={x:.4g}")
    before = f", grads before {tuple(round(float(p), 4) for p in pre)}" if any(pre) else ""
    return f"{expr} (out.grad={g:.4g}{before})"


def _rule_results(runner, cases):
    results = []
    for op, x, k, pre, g in cases:
        pre = tuple(pre[:2 if op == "mul" else 1])
        kw = dict(op=op, x=x, other=k, pre=pre + (0.0,) * (2 - len(pre)), out_grad=g)
        got = runner.call("local_rule", cls="Value", **kw)
        ref = local_rule({"Value": RefValue}, "Value", **kw)
        tch = _torch_local(op, x, k, pre, g)
        name = _describe_rule(op, x, k, pre, g)
        results.append(check_gradient(got["data"], f"out.data of {name}", reference=ref["data"], torch=tch["data"]))
        r = check_gradient(got["grads"], f"input grads of {name}", reference=ref["grads"], torch=tch["grads"])
        if not r.passed:
            true, wrong = _local_derivatives(op, x, k)
            right, over = [p + g * d for p, d in zip(pre, true)], [g * d for d in true]
            # `=` for some inputs and `+=` for the others; in a * a, `=` on the second update keeps one share
            mutants = [(list(c), OVERWRITE, _OVERWRITE) for c in itertools.product(*zip(right, over))
                       if list(c) != right]
            mutants += [([x * g], OVERWRITE, _OVERWRITE)] if op == "mul_self" else []
            mutants += [([p + d for p, d in zip(pre, true)], NO_CHAIN, _NO_CHAIN)]
            mutants += [([p + g * d for p, d in zip(pre, loc)], code, why) for loc, code, why in wrong]
            mutants += [([g * d for d in loc], OVERWRITE, f"{why} Also: add (+=), do not assign (=).")
                        for loc, code, why in wrong if any(pre)]
            if op in ("mul", "mul_self") and any(pre):  # other.grad for other.data (the grads before the rule)
                a_grad = pre[0] + g * pre[-1]  # self.grad += other.grad * out.grad, then other's with it
                mutants += [([a_grad, pre[1] + g * a_grad] if op == "mul" else [a_grad + g * a_grad], MUL_GRAD,
                             "the rule multiplied by the other factor's .grad; use its value: "
                             "self.grad += other.data * out.grad, other.grad += self.data * out.grad.")]
            r.diagnosis = (f"expected {np.round(right, 6).tolist()}, got {np.round(got['grads'], 6).tolist()}: check "
                           f"the local derivative ({_MATH[op]}), the factor out.grad and the +=.")
            for expected, code, why in mutants:
                if np.shape(got["grads"]) == np.shape(expected) and rel_error(got["grads"], expected) <= _SAME:
                    r.code, r.diagnosis = code, why
                    break
        results.append(r)
    return results


def _random_case(rng, op):
    x = float(rng.uniform(0.2, 3.0) if op in ("log", "pow") else rng.uniform(-2.5, 2.5))
    k = {"mul": float(rng.uniform(-3, 3)), "pow": float(rng.choice([2, 3, -1, 0.5, 1.5, -0.5]))}.get(op)
    return op, x, k, tuple(float(p) for p in rng.uniform(-1, 1, 2)), float(rng.uniform(-2, 2))


def _rules(cases=None, ops=(), n=6):
    """A check's run(): the fixed `cases`, or `n` random ones cycling through `ops`."""
    return lambda runner, rng: _rule_results(runner, cases or [_random_case(rng, ops[i % len(ops)])
                                                               for i in range(n)])


# --------------------------------------------------------------------------- 02.backward
def _torch_program(program):
    nodes, leaves = build_program(_leaf, program)  # tensors have +, -, *, /, ** and .exp(), .log(), .tanh()
    nodes[-1].backward()
    return {"data": [n.item() if isinstance(n, torch.Tensor) else n for n in nodes],
            "grads": [0.0 if nodes[i].grad is None else nodes[i].grad.item() for i in leaves]}


def _order_without_visited(root, order=None):
    order = [] if order is None else order
    if len(order) > 50_000:
        raise OverflowError("too many paths to list")
    for c in root._prev:
        _order_without_visited(c, order)
    order.append(root)
    return order


def _mutant_grads(program, kind):
    """Leaf grads of `program` computed by the reference engine with a known bug in backward()."""
    nodes, leaves = build_program(RefValue, program)
    root = nodes[-1]
    root.grad = 0.0 if kind == "no_seed" else 1.0
    if kind == "bfs":
        queue, seen = [root], {root}
        for v in queue:  # the list grows while we walk it: breadth-first from the root
            v._backward()
            new = [c for c in dict.fromkeys(v._prev) if c not in seen]
            seen.update(new)
            queue += new
    elif kind == "overwrite":
        for v in reversed(root.topological_order()):
            kids = list(dict.fromkeys(v._prev))
            before = [c.grad for c in kids]
            v._backward()
            for c, b in zip(kids, before):  # keep only this rule's share (halved for a * a)
                c.grad = (c.grad - b) / sum(1 for d in v._prev if d is c)
    else:
        order = {"forward_order": lambda: list(reversed(root.topological_order())),
                 "no_visited": lambda: _order_without_visited(root)}.get(kind, root.topological_order)()
        for v in reversed(order):
            v._backward()
    return [nodes[i].grad for i in leaves]


_BACKWARD_MUTANTS = [
    ("overwrite", OVERWRITE, "gradients are overwritten instead of accumulated. Use += : a node used twice must "
                  "receive the sum of both paths' gradients (and then run check('02.local_rules'))."),
    ("no_seed", NO_SEED, "every leaf grad is 0: backward() must set self.grad = 1.0 (d root / d root), then call "
                "_backward() on every node in REVERSED topological order (the root first)."),
    ("forward_order", WRONG_ORDER, "only the root passed its gradient on: the other nodes ran _backward() "
                                   "before they had received anything (leaves-first order), or never ran. Call "
                                   "_backward() on EVERY node in REVERSED topological order (root first), so that "
                                   "a node has all of its gradient before passing it on."),
    ("no_visited", TOPO_TWICE, "a node reached along two paths was processed twice (its gradient passed on twice): "
                   "topological_order() must list each node once; keep a set of visited nodes."),
    ("bfs", BFS, "a node passed its gradient on before all of its users had sent theirs: breadth-first order "
            "from the root is not a topological order. Use reversed(self.topological_order())."),
]


def _describe_program(program):
    """One line per program, like "v0=1.5; v1=-0.5; v2=v0+v1; v3=tanh(v2)"."""
    sym = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow_const": "**"}
    name = lambda i: f"{program[i][1]:g}" if program[i][0] == "const" else f"v{i}"
    return "; ".join(f"v{i}=" + (f"{idx[0]:.4g}" if op == "leaf" else f"{name(idx[0])}{sym[op]}{name(idx[1])}"
                                 if op in sym else f"{'-' if op == 'neg' else op}({name(idx[0])})")
                     for i, (op, *idx) in enumerate(program) if op != "const")


def _program_results(runner, program, what):
    got = runner.call("value_program", cls="Value", program=program)
    ref = value_program({"Value": RefValue}, "Value", program)
    tch = _torch_program(program)
    data = check_gradient(got["data"], f"data of every node ({what})", reference=ref["data"], torch=tch["data"])
    grads = check_gradient(got["grads"], f"leaf grads ({what})", reference=ref["grads"], torch=tch["grads"])
    if not grads.passed:
        why = ("if check('02.local_rules') passes, look at the traversal: each node once, the root first, "
               "every rule with +=.")
        found = []  # every known bug that gives these numbers on this program
        for kind, code, text in _BACKWARD_MUTANTS:
            try:
                m = _mutant_grads(program, kind)
            except OverflowError:
                continue
            if rel_error(got["grads"], m) <= _SAME and rel_error(m, ref["grads"]) > 1e-6:
                found.append((code, text))
        if found:
            grads.code = found[0][0]
            why = found[0][1] if len(found) == 1 else "either " + " OR ".join(t for _, t in found)
        grads.diagnosis = f"{why}\n  The program: {_describe_program(program)}"
    return [data, grads]


_UNARY = {"neg": lambda x: -x, "exp": math.exp, "log": math.log, "tanh": math.tanh}


def random_program(rng, ops=("add", "sub", "mul", "div", "pow_const", "neg", "exp", "log", "tanh"),
                   n_leaves=(2, 4), n_steps=(5, 10)):
    """A random `value_program` whose values stay in every op's domain; recent nodes are picked more
    often but older ones are reused too (fan-out), and every unused node is summed into the root."""
    prog, data = [], []

    def add(step, x):
        prog.append(step)
        data.append(x)
        return len(prog) - 1

    def pick():
        values = [i for i, step in enumerate(prog) if step[0] != "const"]
        w = np.arange(1.0, len(values) + 1)
        return values[int(rng.choice(len(values), p=w / w.sum()))]

    for _ in range(int(rng.integers(*n_leaves, endpoint=True))):
        x = round(float(rng.uniform(-2, 2)), 3)
        add(["leaf", x], x)
    for _ in range(int(rng.integers(*n_steps, endpoint=True))):
        op, i = str(rng.choice(ops)), pick()
        x = data[i]
        if op == "log" and x < 0.1 or op == "exp" and x > 3 or op == "pow_const" and abs(x) > 3:
            op = "tanh"
        if op in _UNARY:
            j = add([op, i], _UNARY[op](x))
        elif op == "pow_const":
            k = float(rng.choice([2, 3, -1, 0.5, 1.5] if x > 0.2 else [2, 3]))
            j = add(["pow_const", i, add(["const", k], k)], x ** k)
        else:
            c = round(float(rng.choice([-1, 1]) * rng.uniform(0.5, 2.0)), 2)
            a, b = i, (pick() if rng.random() < 0.75 else add(["const", c], c))
            a, b = (a, b) if rng.random() < 0.5 else (b, a)  # constants on either side: 2 - v, v / 2
            op = "mul" if op == "div" and abs(data[b]) < 0.3 else op
            j = add([op, a, b], BINARY_OPS[op](data[a], data[b]))
        if abs(data[j]) > 20:
            add(["tanh", j], math.tanh(data[j]))
    used = {i for step in prog if step[0] not in ("leaf", "const") for i in step[1:]}
    dangling = [i for i, step in enumerate(prog) if step[0] != "const" and i not in used]
    root = dangling[0]
    for v in dangling[1:]:
        root = add(["add", root, v], data[root] + data[v])
    return prog


def _topo_result(got, what):
    children = {k: cs for k, cs in got["children"]}
    order = list(got["order"])
    name = f"topological_order() ({what})"

    fail = lambda why, code: _fail(name, why, "the definition of a topological order", code)
    repeated = sorted({k for k in order if order.count(k) > 1})
    if repeated:
        return fail(f"{len(repeated)} node(s) appear more than once: a node reached along several paths must be "
                    "listed once. Keep a set of the nodes already visited and skip them.", TOPO_TWICE)
    if set(order) - set(children):
        return fail("the list holds Values that are not part of this graph.", TOPO_FOREIGN)
    if set(children) - set(order):
        return fail(f"{len(set(children) - set(order))} of the {len(children)} nodes are missing: visit the "
                    "children (_prev) of every node, recursively, not only those of the root.", TOPO_MISSING)
    pos = {k: i for i, k in enumerate(order)}
    if any(pos[c] > pos[k] for k, cs in children.items() for c in cs):
        return fail("a node comes before a Value it was computed from. Append a node only AFTER all of its "
                    "children (post-order): leaves first, the root last.", TOPO_PRE)
    return CheckResult(name, True, 0.0, None, "the definition of a topological order", None, 0.0)


# Fixed programs of the visible checks.
DIAMOND = [["leaf", 1.5], ["leaf", -0.5], ["add", 0, 1], ["mul", 2, 0], ["tanh", 2], ["add", 3, 4],
           ["mul", 5, 2]]
PLUS_MINUS = [["leaf", 2.0], ["leaf", -1.0], ["add", 0, 1], ["add", 2, 0], ["sub", 3, 2], ["add", 4, 3],
              ["neg", 2], ["add", 5, 6], ["add", 7, 3], ["add", 8, 1]]  # the last: a leaf right under the root
LOSS = [["leaf", 2.0], ["leaf", 3.0], ["mul", 0, 1], ["const", 10.0], ["sub", 2, 3], ["const", 2.0],
        ["pow_const", 4, 5]]
NEURON = [["leaf", 0.5], ["leaf", -1.5], ["leaf", 0.8], ["leaf", 0.3], ["leaf", 0.1], ["mul", 0, 2],
          ["mul", 1, 3], ["add", 5, 6], ["add", 7, 4], ["tanh", 8], ["const", 1.0], ["sub", 9, 10],
          ["const", 2.0], ["pow_const", 11, 12], ["exp", 4], ["log", 14], ["add", 13, 15], ["div", 16, 9]]


# ---------------------------------------------------------------------------- registry
RULES = tuple(f"Value.{m}" for m in ("__mul__", "__pow__", "exp", "log", "tanh"))

LOCAL_RULES = Exercise("02.local_rules", "Exercise 2.1 · local backward rules", RULES,
                       "their `_backward` closures (the `Value` class under Exercise 2.1)", [
    Check("a * b: each factor receives the other one", 1,
          _rules([("mul", 3.0, -2.0, (0, 0), 1.0), ("mul", 0.5, 4.0, (0, 0), -1.5)]), visible=True),
    Check("a ** k with a constant k", 1,
          _rules([("pow", 3.0, 2.0, (0,), 1.0), ("pow", 2.0, -1.0, (0,), 0.7),
                  ("pow", 4.0, 0.5, (0,), 1.0)]), visible=True),
    Check("exp, log and tanh", 1,
          _rules([("exp", 0.5, None, (0,), 1.0), ("log", 2.0, None, (0,), 1.0),
                  ("tanh", 0.8, None, (0,), 1.0)]), visible=True),
    Check("+= : a * a, and grads that already hold something", 1,
          _rules([("mul_self", 3.0, None, (0.5,), 1.0), ("mul", 2.0, 5.0, (1.0, -2.0), 1.0),
                  ("tanh", 0.3, None, (0.5,), 2.0), ("exp", -1.0, None, (-0.25,), 0.5),
                  ("pow", 2.0, 3.0, (0.25,), 1.5), ("log", 1.5, None, (-0.5,), -1.5)]), visible=True),
    Check("*, a * a and ** on random inputs", 1, _rules(ops=("mul", "mul_self", "pow"))),
    Check("exp, log and tanh on random inputs", 1, _rules(ops=("exp", "log", "tanh"))),
])

BACKWARD = Exercise("02.backward", "Exercise 2.2 · topological order and backward()",
                    ("Value.topological_order", "Value.backward"), "the bottom of the `Value` class", [
    Check("topological_order() of a graph with fan-out", 1,
          lambda runner, rng: _topo_result(runner.call("topo_order", cls="Value", program=DIAMOND), "fan-out"),
          visible=True),
    Check("backward() through + and - only, with fan-out", 1,
          lambda runner, rng: _program_results(runner, PLUS_MINUS, "+ and -"), visible=True),
    Check("backward() of (w*x - 10)**2 and a small neuron", 1,
          lambda runner, rng: _program_results(runner, LOSS, "(w*x - 10)**2")
          + _program_results(runner, NEURON, "neuron"), visible=True),
    Check("topological_order() of random graphs", 1,
          lambda runner, rng: [_topo_result(runner.call("topo_order", cls="Value", program=random_program(rng)),
                                            f"random graph {i + 1}") for i in range(3)]),
    Check("backward() of random programs (every op)", 2,
          lambda runner, rng: [r for i in range(4) for r in _program_results(runner, random_program(rng),
                                                                              f"random program {i + 1}")]),
])

register(LOCAL_RULES, BACKWARD)
