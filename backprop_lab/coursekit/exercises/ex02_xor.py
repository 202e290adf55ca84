"""Exercise 2.3 of notebook 02: `xor_loss_and_grads(params, X, y)`, a D-H-1 tanh network built from
the learner's own `Value` (exercises 2.1 and 2.2, in `ex02_computational_graph`).

Compared with the same network built from `backprop_lab.scalar.Value` and with torch float64. A wrong
result is matched against known slips ("mutants": no tanh, W1 read by columns, H taken from the
inputs, backward() never called) computed with torch.
"""
from __future__ import annotations

import numpy as np
import torch

from backprop_lab.gradcheck import check_gradient
from backprop_lab.scalar import Value as RefValue

from ..checking.core import Check, Exercise, StudentCodeError
from ..checking.diagnoses import register as diagnosis
from ..checking.registry import register
from ._common import malformed
from ._mutants import matching, set_cause
from .ex02_computational_graph import BACKWARD, LOCAL_RULES

F64 = torch.float64
NO_TANH = diagnosis("02.xor-missing-tanh", "the hidden layer has no tanh: h = W1 x + b1 instead of tanh(W1 x + b1)")
W1_COLUMNS = diagnosis("02.xor-weight-transposed", "W1 read by columns (W1[:, j]) instead of rows: W1 is (H, D)")
HIDDEN_SIZE = diagnosis("02.xor-wrong-hidden-size", "the number of hidden units H taken from the inputs (D)")
OUT_TANH = diagnosis("02.xor-tanh-on-output", "a tanh on the output unit too: y_hat = W2 h + b2 has no activation")
NO_BIAS = diagnosis("02.xor-missing-bias", "a bias (b1 or b2) is left out of the network")
PLAIN_NUMBER = diagnosis("02.xor-param-not-in-graph", "a parameter (e.g. b2) enters the network as a plain number "
                                                      "(float(...)) instead of its Value: its gradient stays 0")
NO_BACKWARD = diagnosis("02.xor-no-backward", "the grads are read without calling backward() on the loss")


def xor_reference(params, X, y):
    """Loss and grads of the D-H-1 tanh network with MSE loss, built from reference Values."""
    P = {k: np.vectorize(RefValue, otypes=[object])(np.asarray(v, dtype=float)) for k, v in params.items()}
    loss = RefValue(0.0)
    for x_n, y_n in zip(X, y):
        h = [(sum((w * float(x) for w, x in zip(row, x_n)), b)).tanh() for row, b in zip(P["W1"], P["b1"])]
        out = sum((w * hj for w, hj in zip(P["W2"][0], h)), P["b2"][0])
        loss = loss + (out - float(y_n)) ** 2
    loss = loss * (1.0 / len(X))
    loss.backward()
    return loss.data, {k: np.vectorize(lambda v: v.grad, otypes=[float])(v) for k, v in P.items()}


def xor_torch(params, X, y, act=torch.tanh, columns=False, units=None, out_act=None, drop=()):
    """Loss and grads in torch float64; `act`, `columns` (W1 used transposed), `units` (only the
    first `units` hidden units), `out_act` (an activation on the output) and `drop` (biases left
    out, e.g. ("b1",)) reproduce learners' slips."""
    t = {k: torch.tensor(np.asarray(v, dtype=float), dtype=F64, requires_grad=True) for k, v in params.items()}
    Xt, yt = torch.tensor(np.asarray(X, dtype=float)), torch.tensor(np.asarray(y, dtype=float))
    W1 = t["W1"].T if columns else t["W1"]
    H = W1.shape[0] if units is None else units
    b1, b2 = (0 * t[k] if k in drop else t[k] for k in ("b1", "b2"))
    out = act(Xt @ W1[:H].T + b1[:H]) @ t["W2"][:, :H].T + b2
    out = out if out_act is None else out_act(out)
    loss = ((out[:, 0] - yt) ** 2).mean()
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def _zeroed(result, key):
    """(loss, grads) with grads[key] set to 0: that parameter was not part of the graph."""
    loss, grads = result
    return loss, {k: np.zeros(np.shape(g)) if k == key else g for k, g in grads.items()}


def _mutants(params, X, y):
    """(code, (loss, grads) or a callable giving them, sentence) for known slips."""
    H, D = np.shape(params["W1"])
    out = [(NO_TANH, lambda: xor_torch(params, X, y, act=lambda z: z),
            "these are the numbers of a network without the tanh: h_j = tanh(W1[j] . x + b1[j]); call .tanh() on "
            "each hidden unit's Value."),
           (OUT_TANH, lambda: xor_torch(params, X, y, out_act=torch.tanh),
            "these are the numbers of a network with a tanh on the output too: only the hidden layer has one; "
            "y_hat = W2 . h + b2 is linear."),
           *[(NO_BIAS, (lambda b=b: xor_torch(params, X, y, drop=(b,))), f"{b} is missing from the network: "
              f"{'h_j = tanh(W1[j] . x + b1[j])' if b == 'b1' else 'y_hat = W2 . h + b2'}.") for b in ("b1", "b2")],
           (NO_BACKWARD, lambda: (xor_torch(params, X, y)[0], {k: np.zeros(np.shape(v)) for k, v in params.items()}),
            "every gradient is 0 although the loss is right: call backward() on the loss Value before reading "
            "the .grad of the parameter Values.")]
    out += [(PLAIN_NUMBER, (lambda k=k: _zeroed(xor_torch(params, X, y), k)),
             f"grads['{k}'] is 0 but every other gradient is right: {k} entered the network as a plain number "
             f"(e.g. float(params['{k}'][...])) instead of its Value, so the graph never records it and backward() "
             f"cannot reach it. Build the network from the Values (V['{k}'][...]), not from params.")
            for k in params]
    if H == D:
        out.append((W1_COLUMNS, lambda: xor_torch(params, X, y, columns=True),
                    "W1 was read by columns: W1 is (H, D) in torch's layout, so hidden unit j uses the ROW W1[j] "
                    "(W1[j][d] multiplies x[d])."))
    if H > D:
        out.append((HIDDEN_SIZE, lambda: xor_torch(params, X, y, units=D),
                    f"only the first {D} of the {H} hidden units were used: the number of hidden units is "
                    "len(params['b1']) (H), not the number of inputs D."))
    return out


def _name(results, got, params, X, y, part):
    """Name the slip whose numbers `got` reproduces (the loss, or all gradients in key order)."""
    flat = lambda loss, grads: ([loss] if part == "loss" else
                                np.concatenate([np.ravel(grads[k]) for k in params]))
    try:
        candidate = flat(float(got[0]), {k: np.asarray(got[1][k], dtype=float) for k in params})
    except (TypeError, ValueError, KeyError):
        return results
    mutants = [(code, (lambda v=value: flat(*(v() if callable(v) else v))), text) for code, value, text in
               _mutants(params, X, y)]
    found = matching(candidate, mutants)
    return set_cause(results, *found) if found else results


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def xor_case(rng, kind):
    """kind "xor": XOR with a 2-2-1 net; "wide": a 2-3-1 net on 5 points; "random": a 2-H-1 net, H in
    2..4, on 3 to 6 random points."""
    H, N = {"xor": (2, 4), "wide": (3, 5)}.get(kind) or (int(rng.integers(2, 5)), int(rng.integers(3, 7)))
    X, y = (XOR_X, XOR_Y) if kind == "xor" else (rng.normal(size=(N, 2)), rng.uniform(-1, 1, N))
    return {"W1": rng.normal(size=(H, 2)), "b1": 0.5 * rng.normal(size=H), "W2": rng.normal(size=(1, H)),
            "b2": 0.5 * rng.normal(size=1)}, X, y


FORM = ("return a pair (loss, grads): loss a float (loss.data, not the Value), grads a dict with the keys "
        "'W1', 'b1', 'W2', 'b2' holding numpy arrays of numbers (the .grad of each Value) shaped like params.")


def _xor_results(runner, params, X, y, parts=("loss", "grads")):
    try:
        got = runner.call("call", func="xor_loss_and_grads", args=[params, X, y])
    except StudentCodeError as exc:
        if "has type" in exc.message or "object array" in exc.message:  # Values came back, not numbers
            return [malformed("xor_loss_and_grads(...)", f"{FORM} ({exc.message.removeprefix('your code raised ')})")]
        raise
    (ref_loss, ref_grads), (t_loss, t_grads) = xor_reference(params, X, y), xor_torch(params, X, y)
    if not (isinstance(got, list) and len(got) == 2 and isinstance(got[1], dict)):
        return [malformed("xor_loss_and_grads(...)", FORM)]
    results = []
    if "loss" in parts:
        loss = check_gradient(got[0], "loss", reference=ref_loss, torch=t_loss, batch_size=len(X))
        results.append(_name(loss, got, params, X, y, "loss"))
    if "grads" in parts:
        grads = [check_gradient(got[1][k], f"grads['{k}']", reference=ref_grads[k], torch=t_grads[k],
                                batch_size=len(X)) if k in got[1] else
                 malformed(f"grads['{k}']", f"grads has no key '{k}': return one array per parameter, with the "
                                            "keys of params.") for k in params]
        results += _name(grads, got, params, X, y, "grads")
    return results


def _xor_check(kind, parts=("loss", "grads"), repeats=1):
    return lambda runner, rng: [r for _ in range(repeats)
                                for r in _xor_results(runner, *xor_case(rng, kind), parts=parts)]


XOR = Exercise("02.xor", "Exercise 2.3 · a 2-2-1 network on XOR", ("xor_loss_and_grads",),
               "the `xor_loss_and_grads` cell (Exercise 2.3)", requires=(LOCAL_RULES, BACKWARD), depends=(
                   "xor_loss_and_grads runs on your own Value class: fix exercise 2.1 / 2.2 first"), checks=[
    Check("the MSE loss on the four XOR points", 1, _xor_check("xor", ("loss",)), visible=True),
    Check("the gradients of W1, b1, W2, b2 on XOR", 1, _xor_check("xor", ("grads",)), visible=True),
    Check("loss and gradients of a 2-3-1 network (H != D) on five fixed points", 0.5, _xor_check("wide"),
          visible=True),
    Check("loss and gradients for random D-H-1 networks and data", 1.5, _xor_check("random", repeats=3)),
])

register(XOR)
