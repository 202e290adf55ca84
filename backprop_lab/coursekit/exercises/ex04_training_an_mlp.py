"""Notebook 04 · training an MLP: an L-layer ReLU MLP, torch's SGD step, a training step, L2, dropout.

Params are dicts {"W1": (H1, D), "b1": (H1,), ..., "WL": (C, H), "bL": (C,)} (torch's layout); expected
values come from the `backprop_lab` reference (functional, optim.SGD) AND torch (autograd, optim.SGD)."""
from __future__ import annotations

import numpy as np

from backprop_lab.arrays import to_numpy
from backprop_lab.gradcheck import CheckResult, check_close

from ..checking.core import Check, Exercise
from ..checking.registry import register
from ._common import compare, torch_grads


# ----------------------------------------------------------------------------- shared pieces
def _params(rng, sizes, integer=False):
    """Random params for layer widths `sizes` = (D, H1, ..., C): He-scaled, or small integers
    (then many pre-activations are exactly 0, ReLU's kink)."""
    p = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        if integer:
            p[f"W{i}"] = rng.integers(-1, 2, size=(fan_out, fan_in)).astype(float)
            p[f"b{i}"] = rng.integers(-1, 2, size=fan_out).astype(float)
        else:
            p[f"W{i}"] = rng.normal(size=(fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
            p[f"b{i}"] = rng.normal(scale=0.1, size=fan_out)
    return p


def _masks(rng, n, sizes, p_drop):
    return [(rng.random((n, h)) >= p_drop) / (1.0 - p_drop) for h in sizes[1:-1]]


def _ref_mlp(params, x, dout=None, masks=None):
    """(scores, grads) from backprop_lab.functional; grads is None without `dout`."""
    from backprop_lab.functional import linear_backward, linear_forward, relu_backward, relu_forward
    n_layers, lin, act, a = len(params) // 2, [], [], x
    for i in range(1, n_layers + 1):
        z, cache = linear_forward(a, params[f"W{i}"], params[f"b{i}"])
        lin.append(cache)
        if i < n_layers:
            a, cache = relu_forward(z)
            act.append(cache)
            a = a if masks is None else a * masks[i - 1]
    if dout is None:
        return z, None
    grads, dz = {}, dout
    for i in range(n_layers, 0, -1):
        da, grads[f"W{i}"], grads[f"b{i}"] = linear_backward(dz, lin[i - 1])
        if i > 1:
            dz = relu_backward(da if masks is None else da * masks[i - 2], act[i - 2])
    return z, grads


def _torch_scores(t, x, masks):
    import torch
    n_layers, a = len(t) // 2, torch.tensor(x)
    for i in range(1, n_layers + 1):
        z = a @ t[f"W{i}"].T + t[f"b{i}"]
        if i < n_layers:
            a = torch.relu(z) * (1.0 if masks is None else torch.tensor(masks[i - 1]))
    return z


def _twins(params, lr, mu, wd):
    """The params as Parameters under backprop_lab's SGD and as tensors under torch's SGD."""
    import torch

    from backprop_lab.nn import Parameter
    from backprop_lab.optim import SGD
    ours = {k: Parameter(v) for k, v in params.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    return (ours, SGD(list(ours.values()), lr=lr, momentum=mu, weight_decay=wd),
            theirs, torch.optim.SGD(list(theirs.values()), lr=lr, momentum=mu, weight_decay=wd))


def _snapshot(ps, opt):
    """Copies of the params (Parameters or tensors) and momentum buffers: later steps update them in place."""
    copy = lambda x: np.array(to_numpy(getattr(x, "data", x)))
    return {"params": {k: copy(p) for k, p in ps.items()},
            "velocity": {k: copy(opt.state[p]["momentum_buffer"]) if "momentum_buffer" in opt.state[p] else None
                         for k, p in ps.items()}}


def _dict_results(got, ref, tor, what, batch_size=None, keys=None):
    """Compare the dict `got` with the dicts `ref` and `tor` key by key; several wrong entries
    give one message (the first) that names the others."""
    has = sorted(got) if isinstance(got, dict) else f"a {type(got).__name__}, not a dict"
    out = []
    for k in (list(ref) if keys is None else keys):
        if isinstance(got, dict) and k in got:
            out.append(compare(got[k], f"{what}['{k}']", ref[k], tor[k], batch_size=batch_size))
        else:
            out.append(CheckResult(f"{what}['{k}']", False, np.inf, diagnosis=f"{what} has no key '{k}' "
                                   f"(it has {has}): give one entry per parameter, with its key"))
    failed = [r for r in out if not r.passed]
    if len(failed) > 1:
        failed[0].name += " (also wrong: " + ", ".join(r.name[len(what):].strip("[]'") for r in failed[1:]) + ")"
        out = [r for r in out if r.passed or r is failed[0]]
    return out


def _hint(results, hint):
    """Make `hint` (a recognized bug) the diagnosis of every failed result."""
    for r in results:
        r.diagnosis = hint if hint and not r.passed else r.diagnosis


def _same(a, b):  # dict a holds b's entries (to within the exact tolerance)
    return isinstance(a, dict) and all(k in a and check_close(a[k], v).passed for k, v in b.items())


# ----------------------------------------------------------------------------- 4.1 MLP forward/backward
def _mlp_case(rng, visible, depth, n, integer, p_drop):
    if visible:
        sizes, n = (4, 5, 3), 6
    else:
        sizes = (int(rng.integers(1, 8)), *(int(h) for h in rng.integers(1, 10, size=depth - 1)),
                 int(rng.integers(2, 6)))
        n = int(rng.integers(2, 17)) if n is None else n
    params = _params(rng, sizes, integer)
    x = rng.integers(-1, 2, size=(n, sizes[0])).astype(float) if integer else rng.normal(size=(n, sizes[0]))
    if integer:  # at least one pre-activation exactly 0, in a unit that matters downstream
        x[0], params["b1"][0], params["W2"][:, 0] = 0.0, 0.0, 1.0
    return params, x, rng.normal(size=(n, sizes[-1])), _masks(rng, n, sizes, p_drop) if p_drop else None


def _mlp_check(part, visible=False, depths=(2,), ns=(None,), integer=False, p_drop=0.0):
    """part: "scores", "W" (weight grads), "b" (bias grads), "grads" (all grads) or "all"."""
    def run(runner, rng):
        results = []
        for depth in depths:
            for n in ns:
                params, x, dout, masks = _mlp_case(rng, visible, depth, n, integer, p_drop)
                got = runner.call("forward_backward", forward="mlp_forward", backward="mlp_backward",
                                  args=[params, x], kwargs={} if masks is None else {"masks": masks}, dout=dout)
                (ro, rg), (to, tg) = _ref_mlp(params, x, dout, masks), torch_grads(
                    lambda x=x, masks=masks, **t: _torch_scores(t, x, masks), params, list(params), dout)
                if part in ("scores", "all"):
                    results.append(compare(got["out"], "scores", ro, to, batch_size=len(x)))
                keys = [k for k in rg if part in ("all", "grads") or k.startswith(part)]
                if keys:
                    res = _dict_results(got["grads"], rg, tg, "mlp_backward(...)", len(x), keys)
                    if integer:  # name the `z >= 0` bug
                        z = x @ params["W1"].T + params["b1"]
                        dz = (dout @ params["W2"]) * (z >= 0)
                        if _same(got["grads"], {"W1": dz.T @ x}) or _same(got["grads"], {"b1": dz.sum(axis=0)}):
                            _hint(res, "your ReLU passes the gradient where the pre-activation is exactly 0; "
                                       "torch (and the reference) use relu'(0) = 0: mask with z > 0, not z >= 0.")
                    results += res
                if not all(results):  # one failing case says enough
                    return results
        return results
    return run


MLP = Exercise(key="04.mlp", title="Exercise 4.1 · forward and backward of an MLP",
               functions=("mlp_forward", "mlp_backward"), where="the cell under 'Exercise 4.1'", checks=[
        Check("scores of a 4-5-3 MLP on a fixed batch", 0.5, _mlp_check("scores", True), True),
        Check("gradients of a 4-5-3 MLP on a fixed batch", 0.5, _mlp_check("grads", True), True),
        Check("scores on random shapes (N = 1 included)", 0.5, _mlp_check("scores", ns=(1, None))),
        Check("weight gradients dW on random shapes (N = 1 included)", 1, _mlp_check("W", ns=(1, None))),
        Check("bias gradients db on random shapes (a sum over N)", 0.5, _mlp_check("b", ns=(None, None))),
        Check("deeper MLPs (3 and 4 linear layers): scores and all gradients", 1, _mlp_check("all", depths=(3, 4))),
        Check("dropout masks on the hidden layers, forward and backward", 0.5,
              _mlp_check("all", depths=(2, 3), p_drop=0.4)),
        Check("ReLU at exactly zero passes no gradient (like torch)", 0.5, _mlp_check("all", integer=True)),
])

# ----------------------------------------------------------------------------- 4.2 SGD step
def _sgd_expected(params, steps, mu, wd):
    """backprop_lab.optim.SGD's and torch.optim.SGD's snapshots after every step."""
    import torch
    (ours, opt, theirs, topt), ref, tor = _twins(params, steps[0]["lr"], mu, wd), [], []
    for step in steps:
        for k in params:
            ours[k].grad = np.array(step["grads"][k], copy=True)
            theirs[k].grad = torch.tensor(step["grads"][k])
        opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = step["lr"]
        opt.step()
        topt.step()
        ref.append(_snapshot(ours, opt))
        tor.append(_snapshot(theirs, topt))
    return ref, tor


def _sutskever(params, steps, mu, wd):
    """The other momentum convention, v = mu v - lr g; p += v (the same until lr changes)."""
    p, v = {k: a.copy() for k, a in params.items()}, {k: np.zeros_like(a) for k, a in params.items()}
    for step in steps:
        for k in p:
            v[k] = mu * v[k] - step["lr"] * (step["grads"][k] + wd * p[k])
            p[k] = p[k] + v[k]
    return p


def _sgd_check(visible=False, n_steps=3, momentum=None, wd=0.0, lr_change=False, velocity=False):
    def run(runner, rng):
        params = _params(rng, (3, 4, 2) if visible else tuple(int(s) for s in rng.integers(1, 7, size=3)))
        mu = momentum if momentum is not None else float(rng.uniform(0.5, 0.95))
        lrs = [0.1 if visible else float(rng.choice([0.01, 0.03, 0.1]))] * n_steps  # constant lr
        if lr_change:  # a schedule that cuts the lr mid-run
            lrs = [0.1] * (n_steps // 2) + [0.01] * (n_steps - n_steps // 2)
        steps = [{"grads": {k: rng.normal(size=v.shape) for k, v in params.items()}, "lr": lr} for lr in lrs]
        got = runner.call("sgd_steps", func="sgd_step", params=params, steps=steps, momentum=mu, weight_decay=wd,
                          velocity={k: np.zeros_like(v) for k, v in params.items()})
        field, results = ("velocity" if velocity else "params"), []
        for t, (g, r, o) in enumerate(zip(got, *_sgd_expected(params, steps, mu, wd)), start=1):
            res = _dict_results(g[field], r[field], o[field], f"{field} after step {t}")
            results += res
            if not all(res):
                _hint(res, _sgd_bug(g, params, steps[:t], mu, wd, r))
                break
        return results
    return run


def _sgd_bug(got, params, steps, mu, wd, ref):
    p, v, lr, buf = got["params"], got["velocity"], steps[-1]["lr"], ref["velocity"]
    if _same(p, params):
        return ("params did not change: update them in place (params[k] -= ...), the caller keeps "
                "using the same dict; returning new arrays is not enough.")
    if (not _same(p, ref["params"]) and _same(p, _sutskever(params, steps, mu, wd))) or (
            mu and _same(v, {k: -lr * b for k, b in buf.items()})):
        return ("this is the Sutskever form (v = mu v - lr g; p += v). torch keeps v = mu v + g and "
                "applies p -= lr v, so a change of lr rescales the whole velocity at once.")
    if mu and _same(v, {k: lr * b for k, b in buf.items()}):
        return ("your velocity is lr times torch's momentum_buffer: keep lr out of it "
                "(v = mu v + g) and multiply by lr only in the update p -= lr v.")
    if wd and _same(p, _sgd_expected(params, steps, mu, 0.0)[0][-1]["params"]):
        return "weight_decay was ignored: add weight_decay * p to the gradient before the momentum update."
    return None


SGD_STEP = Exercise(key="04.sgd", title="Exercise 4.2 · an SGD step with momentum (torch's convention)",
                    functions=("sgd_step",), where="the cell under 'Exercise 4.2'", checks=[
        Check("one plain step (momentum 0) on fixed values", 0.5, _sgd_check(True, 1, momentum=0.0), True),
        Check("three momentum steps (mu = 0.9) on fixed values", 0.5, _sgd_check(True, 3, momentum=0.9), True),
        Check("five steps with a random momentum and shapes", 1, _sgd_check(n_steps=5)),
        Check("the learning rate drops mid-run (torch's convention, not Sutskever's)", 1,
              _sgd_check(n_steps=6, lr_change=True)),
        Check("weight decay is added to the gradient before the momentum update", 1, _sgd_check(n_steps=4, wd=0.05)),
        Check("velocity equals torch's momentum_buffer after every step", 1,
              _sgd_check(n_steps=4, wd=0.01, velocity=True)),
])

# ----------------------------------------------------------------------------- 4.3 one training step
def _ref_loss(params, b):
    from backprop_lab.functional import softmax_cross_entropy
    return softmax_cross_entropy(_ref_mlp(params, b["x"], None, b.get("masks"))[0], b["y"])


def _train_expected(params, batches, lr, mu, wd):
    """[{"loss", "params"}] after every batch, from the reference and from torch."""
    import torch
    (ours, opt, theirs, topt), ref, tor = _twins(params, lr, mu, wd), [], []
    for b in batches:
        current = {k: p.data for k, p in ours.items()}
        loss, dscores = _ref_loss(current, b)
        for k, g in _ref_mlp(current, b["x"], dscores, b.get("masks"))[1].items():
            ours[k].grad = g
        opt.step()
        ref.append({"loss": loss, "params": _snapshot(ours, opt)["params"]})
        tloss = torch.nn.functional.cross_entropy(_torch_scores(theirs, b["x"], b.get("masks")), torch.tensor(b["y"]))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        tor.append({"loss": tloss.item(), "params": _snapshot(theirs, topt)["params"]})
    return ref, tor


def _train_check(visible=False, n_steps=4, wd=0.0, p_drop=0.0, ns=(None,)):
    def run(runner, rng):
        results = []
        for n in ns:
            sizes = (5, 6, 3) if visible else tuple(int(s) for s in rng.integers(2, 9, size=4))
            params = _params(rng, sizes)
            lr, mu = (0.1, 0.9) if visible else (float(rng.choice([0.05, 0.1, 0.3])), float(rng.uniform(0.5, 0.9)))
            batches = []
            for m in [8 if visible else (int(rng.integers(2, 12)) if n is None else n) for _ in range(n_steps)]:
                batches.append({"x": rng.normal(size=(m, sizes[0])), "y": rng.integers(0, sizes[-1], size=m)})
                if p_drop:
                    batches[-1]["masks"] = _masks(rng, m, sizes, p_drop)
            got = runner.call("train_steps", func="train_step", params=params, batches=batches, lr=lr,
                              momentum=mu, weight_decay=wd, velocity={k: np.zeros_like(v) for k, v in params.items()})
            ref, tor = _train_expected(params, batches, lr, mu, wd)
            for t, (g, r, o) in enumerate(zip(got, ref, tor), start=1):
                res = [compare(g["loss"], f"loss returned by step {t}", r["loss"], o["loss"])]
                res += _dict_results(g["params"], r["params"], o["params"], f"params after step {t}")
                if not all(res):
                    _hint(res, _train_bug(got[:t], params, batches[:t], lr, mu, wd, ref))
                    return results + res
                results += res
        return results
    return run


def _train_bug(got, params, batches, lr, mu, wd, ref):
    losses = np.array([g["loss"] for g in got], dtype=float)  # a None becomes nan: no hint fits
    close = lambda expected: check_close(losses, np.array(expected)).passed
    if close([_ref_loss(r["params"], b)[0] for r, b in zip(ref, batches)]):
        return ("you returned the loss AFTER the update; return the loss of the forward pass that produced "
                "the gradients.")
    if _same(got[-1]["params"], params):
        return "params did not change: call sgd_step(params, grads, velocity, lr, momentum, weight_decay)."
    if wd and _same(got[-1]["params"], _train_expected(params, batches, lr, mu, 0.0)[0][-1]["params"]):
        return "weight_decay did not reach sgd_step: pass it on."
    if "masks" in batches[0] and close([r["loss"] for r in _train_expected(
            params, [{"x": b["x"], "y": b["y"]} for b in batches], lr, mu, wd)[0]]):
        return "the dropout masks did not reach mlp_forward: pass masks=masks."
    return None


TRAIN_STEP = Exercise(key="04.train_step", title="Exercise 4.3 · one training step",
                      functions=("train_step",), where="the cell under 'Exercise 4.3'",
                      depends="train_step runs your own mlp_forward, mlp_backward and sgd_step: "
                              "if exercise 4.1 or 4.2 loses points, fix that first", checks=[
        Check("one step on a fixed batch: returned loss and updated params", 1, _train_check(True, 1), True),
        Check("four momentum steps on random batches", 1, _train_check(n_steps=4)),
        Check("weight_decay reaches the update", 1, _train_check(n_steps=3, wd=0.05)),
        Check("dropout masks reach the forward pass; a batch of N = 1", 1,
              _train_check(n_steps=3, p_drop=0.5, ns=(None, 1))),
])

# ----------------------------------------------------------------------------- 4.4 L2 penalty
def _l2_check(part, visible=False):
    def run(runner, rng):
        if visible:
            params, wd = {"W1": np.array([[1.0, -2.0], [0.5, 3.0]]), "b1": np.array([1.0, -1.0])}, 0.1
        else:
            params = _params(rng, tuple(int(s) for s in rng.integers(1, 7, size=int(rng.integers(2, 5)))))
            wd = float(rng.choice([1e-4, 1e-3, 0.01, 0.5]))
        got = runner.call("call", func="l2_penalty", args=[params, wd])
        from backprop_lab.functional import l2_penalty
        penalty, grads = l2_penalty(list(params.values()), wd)
        tval, tg = torch_grads(lambda **t: wd / 2 * sum((v * v).sum() for v in t.values()), params, list(params))
        if not (isinstance(got, list) and len(got) == 2):
            return CheckResult("l2_penalty(...)", False, np.inf, diagnosis="return a pair (penalty, grads)")
        results = []
        if part in ("value", "all"):
            results.append(compare(got[0], "penalty", penalty, tval))
            if np.ndim(got[0]) == 0 and check_close(got[0], 2 * penalty).passed:
                _hint(results, "the penalty is twice the expected value: it is (weight_decay / 2) * sum(w**2), "
                               "so that its gradient is exactly weight_decay * w (torch's weight_decay).")
        if part in ("grads", "all"):
            results += _dict_results(got[1], dict(zip(params, grads)), tg, "grads")
        return results
    return run


L2 = Exercise(key="04.l2_penalty", title="Exercise 4.4 · the L2 penalty",
              functions=("l2_penalty",), where="the cell under 'Exercise 4.4'", checks=[
        Check("penalty and gradients on fixed weights", 0.5, _l2_check("all", True), True),
        Check("penalty on random dicts of arrays", 0.75, _l2_check("value")),
        Check("gradients on random dicts of arrays", 0.75, _l2_check("grads")),
])

# ----------------------------------------------------------------------------- 4.5 dropout mask
def _dropout_check(visible=False, p=None, with_torch=False):
    def run(runner, rng):
        shape = (4, 5) if visible else (int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        p_drop = 0.5 if visible else (float(rng.uniform(0.1, 0.8)) if p is None else p)
        seed = int(rng.integers(2**31))
        u = np.random.default_rng(seed).random(shape)  # the uniforms the reference draws from this seed
        got = runner.call("call", func="dropout_mask", args=[u, p_drop])
        from backprop_lab.functional import dropout_forward
        mask = dropout_forward(np.ones(shape), p_drop, True, np.random.default_rng(seed))[1]
        results = [check_close(got, np.ones(shape) if mask is None else mask, name=f"dropout_mask(u, p={p_drop:.3g})")]
        if np.shape(got) == shape and check_close(got, (u >= p_drop).astype(float)).passed:
            _hint(results, "the kept units are not scaled: inverted dropout divides them by (1 - p), so the "
                           "expected activation is unchanged and evaluation needs no rescaling.")
        elif p_drop and np.shape(got) == shape and any(check_close(got, (u < p_drop) / q).passed
                                                       for q in (p_drop, 1 - p_drop)):
            _hint(results, "p is the probability of DROPPING a unit (torch's convention): keep it where u >= p.")
        if with_torch:  # torch's dropout has the same convention: compare the masks' statistics
            import torch
            mine = np.asarray(runner.call("call", func="dropout_mask", args=[
                np.random.default_rng(seed + 1).random(20000), p_drop]), float)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                theirs = torch.nn.functional.dropout(torch.ones(20000, dtype=torch.float64), p_drop, True).numpy()
            results.append(check_close(mine.mean(), theirs.mean(), "mean of the mask (about 1)", "torch", tol=0.08))
            results.append(check_close(mine.max(), theirs.max(), "value of a kept unit, 1/(1-p)", "torch"))
        return results
    return run


DROPOUT = Exercise(key="04.dropout", title="Exercise 4.5 · an inverted-dropout mask",
                   functions=("dropout_mask",), where="the cell under 'Exercise 4.5'", checks=[
        Check("mask for fixed uniforms, p = 0.5", 0.5, _dropout_check(True), True),
        Check("random p and shapes, compared with the reference and torch's dropout", 1,
              _dropout_check(with_torch=True)),
        Check("p = 0 keeps every unit (a mask of ones)", 0.5, _dropout_check(p=0.0)),
])

register(MLP, SGD_STEP, TRAIN_STEP, L2, DROPOUT)
