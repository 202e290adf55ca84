"""Notebook 04 · training an MLP: an L-layer ReLU MLP, torch's SGD step, a training step, L2, dropout.

Params are dicts {"W1": (H1, D), "b1": (H1,), ..., "WL": (C, H), "bL": (C,)} (torch's layout); expected
values come from the `backprop_lab` reference (functional, optim.SGD) AND torch (autograd, optim.SGD)."""
from __future__ import annotations

import numpy as np

from backprop_lab.gradcheck import CheckResult, check_close

from ..checking.core import Check, Exercise, ForbiddenUse, NotAttempted, StudentCodeError
from ..checking.registry import register
from ._common import compare, malformed, torch_grads
from ._mutants import match_dict, matching, set_cause
from .ex04_expected import (
    dropout_masks,
    random_params,
    ref_loss,
    ref_mlp,
    sgd_expected,
    torch_scores,
    train_expected,
)
from .ex04_slips import (
    ARGS_SWAPPED,
    CHANGES_GRADS,
    DROP_OWN_RANDOM,
    LOSS_AFTER,
    MASKS_NOT_PASSED,
    MLP_SHAPES,
    MU_NOT_PASSED,
    NO_UPDATE,
    NOT_IN_PLACE,
    SGD_SLIPS,
    WD_NOT_PASSED,
    dropout_mutants,
    first_layer_skipped,
    l2_mutants,
    mlp_mutants,
    sgd_run,
)


# ----------------------------------------------------------------------------- shared pieces
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


def _hint(results, found):
    """Give every failed result the (code, sentence) of a recognized bug; nothing when `found` is None."""
    if found:
        set_cause(results, *found)


def _same(a, b):  # dict a holds b's entries (to within the exact tolerance)
    return isinstance(a, dict) and all(k in a and check_close(a[k], v).passed for k, v in b.items())


# ----------------------------------------------------------------------------- 4.1 MLP forward/backward
def _mlp_case(rng, visible, depth, n, integer, p_drop):
    if visible:
        sizes, n = (4, 5, 4, 3)[:depth] + (3,), 6
    else:
        sizes = (int(rng.integers(1, 8)), *(int(h) for h in rng.integers(1, 10, size=depth - 1)),
                 int(rng.integers(2, 6)))
        n = int(rng.integers(2, 17)) if n is None else n
    params = random_params(rng, sizes, integer)
    x = rng.integers(-1, 2, size=(n, sizes[0])).astype(float) if integer else rng.normal(size=(n, sizes[0]))
    if integer:  # at least one pre-activation exactly 0, in a unit that matters downstream
        x[0], params["b1"][0], params["W2"][:, 0] = 0.0, 0.0, 1.0
    return params, x, rng.normal(size=(n, sizes[-1])), dropout_masks(rng, n, sizes, p_drop) if p_drop else None


def _mlp_check(part, visible=False, depths=(2,), ns=(None,), integer=False, p_drop=0.0):
    """part: "scores", "W" (weight grads), "b" (bias grads), "grads" (all grads) or "all"."""
    def run(runner, rng):
        results = []
        for depth in depths:
            for n in ns:
                params, x, dout, masks = _mlp_case(rng, visible, depth, n, integer, p_drop)
                slips = mlp_mutants(params, x, dout, masks)
                kwargs = {} if masks is None else {"masks": masks}
                try:
                    got = runner.call("forward_backward", forward="mlp_forward", backward="mlp_backward",
                                      args=[params, x], kwargs=kwargs, dout=dout)
                except StudentCodeError as exc:  # a backward that fails: do the scores name the slip?
                    _name_failure(exc, runner, params, x, kwargs, slips)
                    raise
                (ro, rg), (to, tg) = ref_mlp(params, x, dout, masks), torch_grads(
                    lambda x=x, masks=masks, **t: torch_scores(t, x, masks), params, list(params), dout)
                if part in ("scores", "all"):
                    r = compare(got["out"], "scores", ro, to, batch_size=len(x))
                    _hint([r], matching(got["out"], [(c, (lambda v=v: (v() if callable(v) else v)[0]), t)
                                                     for c, v, t in slips]))
                    results.append(r)
                keys = [k for k in rg if part in ("all", "grads") or k.startswith(part)]
                if keys:
                    res = _dict_results(got["grads"], rg, tg, "mlp_backward(...)", len(x), keys)
                    _hint(res, match_dict(got["grads"], keys, [(c, (lambda v=v: v()[1]), t) for c, v, t in slips
                                                                if callable(v)]) or first_layer_skipped(got["grads"],
                                                                                                        rg, keys))
                    results += res
                if not all(results):  # one failing case says enough
                    return results
        return results
    return run


def _name_failure(exc, runner, params, x, kwargs, slips):
    """When mlp_backward raised but mlp_forward's scores reproduce a known slip, put its code and
    sentence on `exc` (a StudentCodeError about to be re-raised)."""
    if exc.code or isinstance(exc, (NotAttempted, ForbiddenUse)):
        return
    if "matmul" in exc.message or "broadcast" in exc.message:
        exc.code, exc.message = MLP_SHAPES, (
            f"{exc.message}\nShapes, for layer l: its input a (N, H_(l-1)), W (H_l, H_(l-1)), b (H_l,): "
            "z = a @ W.T + b is (N, H_l); with dz (N, H_l): dW = dz.T @ a is (H_l, H_(l-1)), "
            "db = dz.sum(axis=0) is (H_l,), da = dz @ W is (N, H_(l-1)).")
    try:
        scores = runner.call("forward_scores", forward="mlp_forward", args=[params, x], kwargs=kwargs)
    except StudentCodeError:
        return
    if matching(scores, [("", ref_mlp(params, x, None, kwargs.get("masks"))[0], "")]):
        return  # the scores are right: the slip is in the backward pass, the traceback shows where
    found = matching(scores, [(c, (lambda v=v: (v() if callable(v) else v)[0]), t) for c, v, t in slips])
    if found:
        exc.code, exc.message = found[0], f"{exc.message}\n{found[1]}"


MLP = Exercise(key="04.mlp", title="Exercise 4.1 · forward and backward of an MLP",
               functions=("mlp_forward", "mlp_backward"), where="the cell under 'Exercise 4.1'", checks=[
        Check("scores of a 4-5-3 MLP on a fixed batch", 0.5, _mlp_check("scores", True), True),
        Check("gradients of a 4-5-3 MLP on a fixed batch", 0.5, _mlp_check("grads", True), True),
        Check("a 4-5-4-3 MLP with dropout masks on a fixed batch: scores and all gradients", 0.5,
              _mlp_check("all", True, depths=(3,), p_drop=0.4), True),
        Check("ReLU at exactly zero on a fixed batch passes no gradient (like torch)", 0.25,
              _mlp_check("all", True, integer=True), True),
        Check("scores on random shapes (N = 1 included)", 0.5, _mlp_check("scores", ns=(1, None))),
        Check("weight gradients dW on random shapes (N = 1 included)", 0.75, _mlp_check("W", ns=(1, None))),
        Check("bias gradients db on random shapes (a sum over N)", 0.5, _mlp_check("b", ns=(None, None))),
        Check("deeper MLPs (3 and 4 linear layers): scores and all gradients", 0.75,
              _mlp_check("all", depths=(3, 4))),
        Check("dropout masks on the hidden layers, forward and backward", 0.5,
              _mlp_check("all", depths=(2, 3), p_drop=0.4)),
        Check("ReLU at exactly zero passes no gradient (like torch)", 0.25, _mlp_check("all", integer=True)),
])

# ----------------------------------------------------------------------------- 4.2 SGD step
def _sgd_check(visible=False, n_steps=3, momentum=None, wd=0.0, lr_change=False, velocity=False, grads=False):
    """`n_steps` of the learner's sgd_step on the same dicts; compares params (or the velocity, or the
    grads afterwards: they must not change) after every step with backprop_lab's SGD and torch's."""
    def run(runner, rng):
        params = random_params(rng, (3, 4, 2) if visible else tuple(int(s) for s in rng.integers(1, 7, size=3)))
        mu = momentum if momentum is not None else float(rng.uniform(0.5, 0.95))
        lrs = [0.1 if visible else float(rng.choice([0.01, 0.03, 0.1]))] * n_steps  # constant lr
        if lr_change:  # a schedule that cuts the lr mid-run
            lrs = [0.1] * (n_steps // 2) + [0.01] * (n_steps - n_steps // 2)
        steps = [{"grads": {k: rng.normal(size=v.shape) for k, v in params.items()}, "lr": lr} for lr in lrs]
        got = runner.call("sgd_steps", func="sgd_step", params=params, steps=steps, momentum=mu, weight_decay=wd,
                          velocity={k: np.zeros_like(v) for k, v in params.items()})
        if grads:
            return _grads_unchanged(got, steps)
        field, results = ("velocity" if velocity else "params"), []
        for t, (g, r, o) in enumerate(zip(got, *sgd_expected(params, steps, mu, wd)), start=1):
            res = _dict_results(g[field], r[field], o[field], f"{field} after step {t}")
            results += res
            if not all(res):
                _hint(res, _sgd_bug(g, field, params, steps[:t], mu, wd))
                break
        return results
    return run


def _grads_unchanged(got, steps):
    """grads after each step equal the grads given (sgd_step may read them, not change them)."""
    for t, (g, step) in enumerate(zip(got, steps), start=1):
        res = _dict_results(g["grads"], step["grads"], step["grads"], f"grads after step {t}")
        if not all(res):
            _hint(res, (CHANGES_GRADS, "sgd_step changed the caller's grads: `g = grads[k]; g += ...` adds into "
                                       "the caller's array. Make a new array (g = grads[k] + weight_decay * "
                                       "params[k]); torch's step never changes p.grad either."))
            return res
    return [CheckResult("grads after every step", True, 0.0, against="the grads given")]


def _sgd_bug(got, field, params, steps, mu, wd):
    """(code, sentence) of the slip whose numbers `got` reproduces after the last of `steps`."""
    if _same(got["params"], params):  # the velocity then goes wrong too (weight decay reads params)
        return NOT_IN_PLACE, ("params did not change: update them in place (params[k] -= ...), the caller keeps "
                              "using the same dict; returning new arrays or rebinding params is not enough.")
    keys = list(params)
    return match_dict(got[field], keys, [(code, (lambda kind=kind: sgd_run(params, steps, mu, wd, kind)[-1][field]),
                                           text) for kind, code, text in SGD_SLIPS])


SGD_STEP = Exercise(key="04.sgd", title="Exercise 4.2 · an SGD step with momentum (torch's convention)",
                    functions=("sgd_step",), where="the cell under 'Exercise 4.2'", checks=[
        Check("one plain step (momentum 0) on fixed values", 0.5, _sgd_check(True, 1, momentum=0.0), True),
        Check("three momentum steps (mu = 0.9) on fixed values", 0.5, _sgd_check(True, 3, momentum=0.9), True),
        Check("weight_decay = 0.1 on fixed values (added to the gradient before the momentum update)", 0.5,
              _sgd_check(True, 3, momentum=0.9, wd=0.1), True),
        Check("the learning rate drops from 0.1 to 0.01 after two of four fixed steps", 0.5,
              _sgd_check(True, 4, momentum=0.9, lr_change=True), True),
        Check("velocity equals torch's momentum_buffer on fixed values", 0.5,
              _sgd_check(True, 3, momentum=0.9, wd=0.1, velocity=True), True),
        Check("grads are left unchanged (fixed values)", 0.25, _sgd_check(True, 2, momentum=0.9, wd=0.1, grads=True),
              True),
        Check("five steps with a random momentum and shapes", 0.5, _sgd_check(n_steps=5)),
        Check("the learning rate drops mid-run (torch's convention, not Sutskever's)", 0.5,
              _sgd_check(n_steps=6, lr_change=True)),
        Check("weight decay is added to the gradient before the momentum update", 0.5, _sgd_check(n_steps=4, wd=0.05)),
        Check("velocity equals torch's momentum_buffer after every step", 0.5,
              _sgd_check(n_steps=4, wd=0.01, velocity=True)),
        Check("grads are left unchanged (random values)", 0.25, _sgd_check(n_steps=3, wd=0.05, grads=True)),
])

# ----------------------------------------------------------------------------- 4.3 one training step
def _train_check(visible=False, n_steps=4, wd=0.0, p_drop=0.0, ns=(None,)):
    def run(runner, rng):
        results = []
        for n in ns:
            sizes = (5, 6, 3) if visible else tuple(int(s) for s in rng.integers(2, 9, size=4))
            params = random_params(rng, sizes)
            lr, mu = (0.1, 0.9) if visible else (float(rng.choice([0.05, 0.1, 0.3])), float(rng.uniform(0.5, 0.9)))
            batches = []
            for m in [8 if visible else (int(rng.integers(2, 12)) if n is None else n) for _ in range(n_steps)]:
                batches.append({"x": rng.normal(size=(m, sizes[0])), "y": rng.integers(0, sizes[-1], size=m)})
                if p_drop:
                    batches[-1]["masks"] = dropout_masks(rng, m, sizes, p_drop)
            got = runner.call("train_steps", func="train_step", params=params, batches=batches, lr=lr,
                              momentum=mu, weight_decay=wd, velocity={k: np.zeros_like(v) for k, v in params.items()})
            ref, tor = train_expected(params, batches, lr, mu, wd)
            for t, (g, r, o) in enumerate(zip(got, ref, tor), start=1):
                if not isinstance(g["loss"], (int, float)):
                    return results + [malformed(f"the loss returned by step {t}", "train_step must return the loss "
                                                "as one float (loss, not (loss, ...)); got "
                                                f"{type(g['loss']).__name__}")]
                res = [compare(g["loss"], f"loss returned by step {t}", r["loss"], o["loss"])]
                res += _dict_results(g["params"], r["params"], o["params"], f"params after step {t}")
                if not all(res):
                    _hint(res, _train_bug(got[:t], params, batches[:t], lr, mu, wd, ref))
                    return results + res
                results += res
        return results
    return run


def _train_bug(got, params, batches, lr, mu, wd, ref):
    """(code, sentence) of the slip whose losses and params `got` reproduces, or None."""
    losses = np.array([g["loss"] for g in got], dtype=float)
    close = lambda expected: check_close(losses, np.array(expected)).passed
    if close([ref_loss(r["params"], b)[0] for r, b in zip(ref, batches)]):
        return LOSS_AFTER, ("you returned the loss AFTER the update; return the loss of the forward pass that "
                            "produced the gradients.")
    if _same(got[-1]["params"], params):
        return NO_UPDATE, "params did not change: call sgd_step(params, grads, velocity, lr, momentum, weight_decay)."
    unmasked = [{"x": b["x"], "y": b["y"]} for b in batches]
    slips = [(wd, (batches, mu, 0.0), WD_NOT_PASSED, "weight_decay did not reach sgd_step: pass it on."),
             (mu, (batches, 0.0, wd), MU_NOT_PASSED, "momentum did not reach sgd_step: pass momentum (and "
                                                     "weight_decay) on, sgd_step(params, grads, velocity, lr, "
                                                     "momentum, weight_decay)."),
             (mu, (batches, 0.0, 0.0), MU_NOT_PASSED, "momentum (and weight_decay) did not reach sgd_step: "
                                                      "sgd_step(params, grads, velocity, lr, momentum, weight_decay)."),
             (mu != wd, (batches, wd, mu), ARGS_SWAPPED, "momentum and weight_decay reached sgd_step swapped: its "
                                                         "order is (params, grads, velocity, lr, momentum, "
                                                         "weight_decay); pass them by name to be safe."),
             ("masks" in batches[0], (unmasked, mu, wd), MASKS_NOT_PASSED, "the dropout masks did not reach "
                                                                           "mlp_forward: pass masks=masks.")]
    for applies, (bs, m, w), code, text in slips:
        if applies:
            mutant = train_expected(params, bs, lr, m, w)[0]
            if close([r["loss"] for r in mutant]) and _same(got[-1]["params"], mutant[-1]["params"]):
                return code, text
    return None


TRAIN_STEP = Exercise(key="04.train_step", title="Exercise 4.3 · one training step",
                      functions=("train_step",), where="the cell under 'Exercise 4.3'", requires=(MLP, SGD_STEP),
                      depends="train_step runs your own mlp_forward, mlp_backward and sgd_step: fix exercise "
                              "4.1 / 4.2 first", checks=[
        Check("one step on a fixed batch: returned loss and updated params", 0.5, _train_check(True, 1), True),
        Check("three momentum steps on fixed batches", 0.25, _train_check(True, 3), True),
        Check("weight_decay = 0.05 reaches the update (fixed batches)", 0.25, _train_check(True, 2, wd=0.05), True),
        Check("dropout masks reach the forward pass (fixed batches)", 0.25, _train_check(True, 2, p_drop=0.5), True),
        Check("four momentum steps on random batches", 1, _train_check(n_steps=4)),
        Check("weight_decay reaches the update", 0.75, _train_check(n_steps=3, wd=0.05)),
        Check("dropout masks reach the forward pass; a batch of N = 1", 1,
              _train_check(n_steps=3, p_drop=0.5, ns=(None, 1))),
])

# ----------------------------------------------------------------------------- 4.4 L2 penalty
def _l2_check(part, visible=False):
    def run(runner, rng):
        if visible:
            params, wd = {"W1": np.array([[1.0, -2.0], [0.5, 3.0]]), "b1": np.array([1.0, -1.0])}, 0.1
        else:
            params = random_params(rng, tuple(int(s) for s in rng.integers(1, 7, size=int(rng.integers(2, 5)))))
            wd = float(rng.choice([1e-4, 1e-3, 0.01, 0.5]))
        got = runner.call("call", func="l2_penalty", args=[params, wd])
        from backprop_lab.functional import l2_penalty
        penalty, grads = l2_penalty(list(params.values()), wd)
        tval, tg = torch_grads(lambda **t: wd / 2 * sum((v * v).sum() for v in t.values()), params, list(params))
        if not (isinstance(got, list) and len(got) == 2):
            return malformed("l2_penalty(...)", "return a pair (penalty, grads): the penalty a float, grads a dict "
                                                "with the keys of params.")
        results, slips = [], l2_mutants(params, wd)
        if part in ("value", "all"):
            r = compare(got[0], "penalty", penalty, tval)
            _hint([r], matching(got[0], slips["penalty"]))
            results.append(r)
        if part in ("grads", "all"):
            res = _dict_results(got[1], dict(zip(params, grads)), tg, "grads")
            _hint(res, match_dict(got[1], list(params), slips["grads"]))
            results += res
        return results
    return run


L2 = Exercise(key="04.l2_penalty", title="Exercise 4.4 · the L2 penalty",
              functions=("l2_penalty",), where="the cell under 'Exercise 4.4'", checks=[
        Check("penalty and gradients on fixed weights", 0.5, _l2_check("all", True), True),
        Check("penalty on random dicts of arrays", 0.75, _l2_check("value")),
        Check("gradients on random dicts of arrays", 0.75, _l2_check("grads")),
])

# ----------------------------------------------------------------------------- 4.5 dropout mask
DROP_CODES = {code for code, _, _ in dropout_mutants(np.zeros(1), 0.5)}


def _dropout_check(visible=False, p=None, with_torch=False, at_p=False):
    """at_p: some uniforms are exactly p (the rule keeps a unit where u >= p, so those are kept)."""
    def run(runner, rng):
        shape = (4, 5) if visible else (int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        p_drop = p if p is not None else (0.5 if visible else float(rng.uniform(0.1, 0.8)))
        seed = int(rng.integers(2**31))
        u = np.random.default_rng(seed).random(shape)  # the uniforms dropout_forward draws from this seed
        if at_p:  # a few units (at least one) sit exactly on the boundary u == p
            u.flat[rng.choice(u.size, size=max(1, u.size // 4), replace=False)] = p_drop
        got = runner.call("call", func="dropout_mask", args=[u, p_drop])
        from backprop_lab.functional import dropout_mask

        results = [check_close(got, dropout_mask(u, p_drop), name=f"dropout_mask(u, p={p_drop:.3g})")]
        _hint(results, matching(got, dropout_mutants(u, p_drop)))
        values = np.unique(np.asarray(got, dtype=float)) if np.shape(got) == shape else None
        if (not results[0].passed and results[0].code not in DROP_CODES and values is not None and 0 < p_drop
                and set(np.round(values, 12)) <= {0.0, round(1 / (1 - p_drop), 12)}):
            _hint(results, (DROP_OWN_RANDOM, "the values are right (0 and 1 / (1 - p)) but not where u says: build the "
                                             "mask from the u given (keep where u >= p), do not draw new random "
                                             "numbers; then the mask is reproducible."))
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
        Check("mask for fixed uniforms, p = 0.5", 0.25, _dropout_check(True), True),
        Check("mask for fixed uniforms, p = 0.2", 0.25, _dropout_check(True, p=0.2), True),
        Check("a unit with u exactly equal to p is kept (u >= p), fixed uniforms, p = 0.25", 0.25,
              _dropout_check(True, p=0.25, at_p=True), True),
        Check("p = 0 keeps every unit (a mask of ones), fixed uniforms", 0.25, _dropout_check(True, p=0.0), True),
        Check("random p and shapes, compared with the reference and torch's dropout", 0.5,
              _dropout_check(with_torch=True)),
        Check("units with u exactly equal to p are kept (u >= p), random shapes and p", 0.25,
              _dropout_check(at_p=True)),
        Check("p = 0 keeps every unit (a mask of ones)", 0.25, _dropout_check(p=0.0)),
])

register(MLP, SGD_STEP, TRAIN_STEP, L2, DROPOUT)
