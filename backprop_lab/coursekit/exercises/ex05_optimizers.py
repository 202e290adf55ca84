"""Notebook 05 · optimizers: update rules ``step(p, g, state, lr, **hyper) -> (p_new, state_new)``
with torch's state names, and two learning-rate schedules.

Every rule runs for several steps on a quadratic whose gradient comes from the learner's own
parameters (`probes_05.optimizer_steps`), and is compared step by step with `torch.optim` AND the
`backprop_lab.optim` reference on the same quadratic. When a step differs, known bugs (Sutskever
momentum, no bias correction, L2 instead of decoupled decay, ...) are replayed on the same problem;
a replay that reproduces the learner's trajectory names the bug.
"""
from __future__ import annotations

import numpy as np

from backprop_lab.gradcheck import CheckResult, check_close

from ..checking.core import Check, Exercise
from ..checking.diagnoses import register as code
from ..checking.registry import register
from ._common import compare, malformed
from .ex05_replays import IN_PLACE, TOL, replay_hint, state_hint
from .probes_05 import quadratic_grad

STATE_KEYS = {"sgd": ("momentum_buffer",), "adagrad": ("sum",), "rmsprop": ("square_avg",),
              "adam": ("step", "exp_avg", "exp_avg_sq"), "adamw": ("step", "exp_avg", "exp_avg_sq")}

def _problem(rng, visible, cond=30.0):
    """(p0, A, b): a quadratic 0.5 p·A p - b·p with eigenvalues in [1, cond], random rotation."""
    if visible:
        A = np.array([[2.0, 0.5, 0.0], [0.5, 4.0, 1.0], [0.0, 1.0, 10.0]])
        return np.array([1.5, -1.0, 0.5]), A, np.array([1.0, 0.0, -2.0])
    shape = (int(rng.integers(1, 9)),) if rng.random() < 0.5 else tuple(int(s) for s in rng.integers(1, 4, size=2))
    n = int(np.prod(shape))
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = (Q * np.exp(rng.uniform(0, np.log(cond), size=n))) @ Q.T
    return rng.normal(size=shape), (A + A.T) / 2, rng.normal(size=n)


def _expected(rule, p0, A, b, lrs, hyper, state0=None):
    """Trajectories [{"p", "state"}] of the reference and of torch.optim on the same quadratic."""
    import torch

    from backprop_lab import optim
    from backprop_lab.nn import Parameter
    name = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam",
            "adamw": "AdamW" if hyper.get("decoupled") else "Adam"}[rule]
    h = {k: tuple(v) if k == "betas" else v for k, v in hyper.items() if k != "decoupled"}
    ours, theirs = Parameter(np.array(p0, dtype=np.float64)), torch.tensor(p0, requires_grad=True)
    opt, topt = getattr(optim, name)([ours], lr=lrs[0], **h), getattr(torch.optim, name)([theirs], lr=lrs[0], **h)
    if state0:  # resume: the same buffers in both (torch keeps `step` as a tensor)
        opt.state[ours] = {k: v if k == "step" else np.array(v) for k, v in state0.items()}
        topt.state[theirs] = {k: torch.tensor(float(v) if k == "step" else v) for k, v in state0.items()}
    ref, tor = [], []
    for lr in lrs:
        opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = lr
        ours.grad = quadratic_grad(A, b, ours.data)
        theirs.grad = torch.tensor(quadratic_grad(A, b, theirs.detach().numpy()))
        opt.step()
        topt.step()
        ref.append({"p": ours.data.copy(), "state": {k: np.array(v) for k, v in opt.state[ours].items()}})
        tor.append({"p": theirs.detach().numpy().copy(),
                    "state": {k: np.array(float(v)) if k == "step" else v.numpy().copy()
                              for k, v in topt.state[theirs].items()}})
    return ref, tor


FUNCS = {**{rule: f"{rule}_step" for rule in STATE_KEYS}, "sgd": "sgd_momentum_step"}


def _draw(rule, rng, visible, fixed):
    """(lr, hyperparameters) of `rule`: fixed values when visible, random ones when hidden."""
    u = lambda lo, hi, default: default if visible else float(rng.uniform(lo, hi))
    if rule == "sgd":
        lr, hyper = u(0.005, 0.03, 0.05), {"momentum": u(0.5, 0.95, 0.9), "nesterov": False, "weight_decay": 0.0}
    elif rule == "adagrad":
        lr, hyper = u(0.01, 0.3, 0.1), {"eps": 1e-10, "weight_decay": 0.0}
    elif rule == "rmsprop":
        lr, hyper = u(0.002, 0.03, 0.01), {"alpha": u(0.8, 0.999, 0.99), "eps": 1e-8, "weight_decay": 0.0}
    else:
        lr, hyper = u(0.01, 0.1, 0.1), {"betas": [u(0.5, 0.95, 0.9), u(0.9, 0.9999, 0.999)], "eps": 1e-8}
        if rule == "adamw":
            hyper.update(weight_decay=u(0.25, 1.0, 0.1), decoupled=True)
    return lr, {**hyper, **fixed}


def _steps(rule, n_steps=25, change=0.1, state=False, visible=False, resume=False, inplace=False, omit=(), **fixed):
    """Run the learner's rule for `n_steps` (lr times `change` from the middle step on) and compare
    p, and with `state` the buffers, after every step with the reference and torch.optim; with
    `inplace`, also that no call changed p or the arrays of state in place. The hyperparameters named
    in `omit` are not passed: the learner's defaults meet torch's."""
    def run(runner, rng):
        p0, A, b = _problem(rng, visible)
        lr, hyper = _draw(rule, rng, visible, fixed)
        hyper = {k: v for k, v in hyper.items() if k not in omit}
        half = n_steps // 2
        lrs = [lr] * n_steps if change is None else [lr] * max(half, 1) + [lr * change] * (n_steps - max(half, 1))
        state0 = {"step": 40, "exp_avg": 0.3 * rng.normal(size=p0.shape),  # resume a run at step 40
                  "exp_avg_sq": rng.uniform(0.1, 2.0, size=p0.shape)} if resume else None
        got = runner.call("optimizer_steps", func=FUNCS[rule], p=p0, A=A, b=b, lrs=lrs, hyper=hyper,
                          state=state0)
        ref, tor = _expected(rule, p0, A, b, lrs, hyper, state0)
        results = []
        for t, (g, r, o) in enumerate(zip(got, ref, tor), start=1):
            when = f"step {t} (lr {lrs[t - 1]:.3g}{', changed' if t > 1 and lrs[t - 1] != lrs[t - 2] else ''})"
            res = [compare(g["p"], f"p after {when}", r["p"], o["p"], tol=TOL)]
            for k in STATE_KEYS[rule] if state else ():
                res.append(compare(g["state"][k], f"state['{k}'] after {when}", r["state"][k], o["state"][k], tol=TOL)
                           if k in g["state"] else CheckResult(f"state['{k}'] after {when}", False, np.inf, None,
                                                               "torch", f"state has no key '{k}'."))
            results += res
            if not all(res):
                _name(rule, res, runner, got, (p0, A, b, lrs[:len(got)], hyper, state0), g, r, lrs[t - 1])
                break
        if inplace:
            results.append(_unchanged(rule, got))
        return results
    return run


def _name(rule, failed, runner, got, problem, step, ref, lr):
    """Give the failed results of one step the code and sentence of the cause, when one is known."""
    found = _broken_adam(runner, problem) if rule == "adamw" else None
    found = found or replay_hint(rule, got, *problem)
    weak = state_hint(STATE_KEYS[rule], step, ref, lr)  # fills the gaps a replayed bug leaves
    for x in (x for x in failed if not x.passed):
        use = found or (weak if x.name.startswith("state") or not x.diagnosis else None)
        if use:
            x.code, x.diagnosis = use


BROKEN_ADAM = code("05.adamw-uses-broken-adam", "adamw_step calls an adam_step that is itself wrong")


def _broken_adam(runner, problem):
    """(code, sentence) when the learner's own adam_step, which adamw_step calls, is wrong on this problem."""
    p0, A, b, lrs, hyper, state0 = problem
    plain_hyper = {k: hyper[k] for k in ("betas", "eps")}
    try:
        got = runner.call("optimizer_steps", func="adam_step", p=p0, A=A, b=b, lrs=lrs, hyper=plain_hyper)
    except Exception:  # adam_step raises: its own check says why
        got = None
    ref, _ = _expected("adam", p0, A, b, lrs, plain_hyper)
    if got is not None and len(got) == len(ref) and all(
            check_close(g["p"], r["p"], tol=TOL).passed for g, r in zip(got, ref)):
        return None
    return BROKEN_ADAM, ("adamw_step runs your own adam_step, and adam_step alone already differs from torch's "
                         "Adam on this problem: fix Exercise 5.3 first (its check names the cause).")


def _unchanged(rule, got):
    """One result: no call of the rule changed its arguments in place."""
    changed = sorted({name for s in got for name in s.get("changed", [])})
    name = f"{FUNCS[rule]} leaves p and the arrays of state unchanged"
    if not changed:
        return CheckResult(name, True, 0.0, against="the arguments before the call")
    return CheckResult(name, False, np.inf, against="the arguments before the call", code=IN_PLACE, diagnosis=(
        f"{FUNCS[rule]} changed {', '.join(changed)} in place (an `-=`, `+=` or `*=` on an argument). Return new "
        "arrays instead (p_new = p - ..., buf = momentum * buf + d): the caller may still need the old values, "
        "and torch's optimizer.state[p] is only replaced by the values you return."))


def _both(**kw):
    return lambda runner, rng: [r for rule in ("adagrad", "rmsprop") for r in _steps(rule, **kw)(runner, rng)]


SGD_MOMENTUM = Exercise(
    key="05.sgd_momentum",
    title="Exercise 5.1 · SGD with momentum and Nesterov (torch's convention)",
    functions=("sgd_momentum_step",),
    where="the cell under 'Exercise 5.1'",
    checks=[
        Check("the first step on a fixed quadratic", 0.5, _steps("sgd", 1, visible=True), True),
        Check("25 steps on a fixed quadratic, lr cut to a tenth at step 13: p, the buffer, nothing changed in place",
              0.5, _steps("sgd", state=True, visible=True, inplace=True), True),
        Check("Nesterov with weight decay 0.1, 10 fixed steps with an lr cut", 0.5,
              _steps("sgd", 10, visible=True, nesterov=True, weight_decay=0.1), True),
        Check("25 steps with a constant lr, random momentum and shapes", 0.5, _steps("sgd", change=None)),
        Check("lr changes mid-run: torch's form, not Sutskever's", 0.5, _steps("sgd", change=0.2)),
        Check("Nesterov momentum with weight decay, random values", 0.5,
              _steps("sgd", change=None, nesterov=True, weight_decay=0.05)),
        Check("weight decay enters the gradient before the momentum update", 0.5,
              _steps("sgd", change=None, weight_decay=0.05)),
        Check("state['momentum_buffer'] equals torch's after every step", 0.5, _steps("sgd", 10, None, True)),
    ],
)

ADAPTIVE = Exercise(
    key="05.adaptive",
    title="Exercise 5.2 · Adagrad and RMSprop",
    functions=("adagrad_step", "rmsprop_step"),
    where="the cell under 'Exercise 5.2'",
    checks=[
        Check("Adagrad: 25 steps on a fixed quadratic (lr cut at step 13), its state, nothing changed in place, "
              "the default eps", 0.5, _steps("adagrad", state=True, visible=True, inplace=True, omit=("eps",)), True),
        Check("RMSprop: 25 steps on a fixed quadratic (lr cut at step 13), its state, nothing changed in place, "
              "the default alpha and eps", 0.5,
              _steps("rmsprop", state=True, visible=True, inplace=True, omit=("alpha", "eps")), True),
        Check("both: weight decay 0.1 and eps = 0.1, 10 fixed steps", 0.5,
              _both(n_steps=10, visible=True, weight_decay=0.1, eps=0.1), True),
        Check("Adagrad: random shapes and lr, lr changed mid-run", 0.5, _steps("adagrad", change=0.3)),
        Check("RMSprop: random shapes, lr and alpha, lr changed mid-run", 0.5, _steps("rmsprop", change=0.3)),
        Check("both: weight decay enters the gradient (default alpha and eps)", 0.5,
              _both(weight_decay=0.1, omit=("alpha", "eps"))),
        Check("both: eps sits outside the square root (eps = 0.1)", 0.5, _both(eps=0.1)),
        Check("state['sum'] and state['square_avg'] equal torch's after every step", 0.5,
              _both(n_steps=10, change=None, state=True)),
    ],
)

ADAM = Exercise(
    key="05.adam",
    title="Exercise 5.3 · Adam",
    functions=("adam_step",),
    where="the cell under 'Exercise 5.3'",
    checks=[
        Check("the first step: every coordinate moves by about lr (bias correction at t = 1)", 0.5,
              _steps("adam", 1, visible=True), True),
        Check("25 steps on a fixed quadratic, lr cut to a tenth at step 13: p, the state, nothing changed in place, "
              "the default betas and eps", 0.5,
              _steps("adam", state=True, visible=True, inplace=True, omit=("betas", "eps")), True),
        Check("eps = 0.1, resuming from a fixed state at step 40 (t comes from state['step'])", 0.5,
              _steps("adam", 10, visible=True, resume=True, eps=0.1), True),
        Check("the first step with random betas and shapes", 0.5, _steps("adam", 1)),
        Check("25 steps with random betas, shapes and an lr change", 0.5, _steps("adam", change=0.2)),
        Check("eps is added to sqrt(v̂) (eps = 0.1)", 0.5, _steps("adam", 10, eps=0.1)),
        Check("state: step, exp_avg and exp_avg_sq equal torch's", 0.5, _steps("adam", 10, None, True)),
        Check("resuming from a given state at step 40 (t comes from state['step'])", 0.5,
              _steps("adam", 10, None, resume=True)),
    ],
)

ADAMW = Exercise(
    key="05.adamw",
    title="Exercise 5.4 · weight decay in Adam: L2 vs decoupled (AdamW)",
    functions=("adamw_step",),
    where="the cell under 'Exercise 5.4'",
    checks=[
        Check("decoupled decay (AdamW), 10 steps on a fixed quadratic, nothing changed in place", 0.5,
              _steps("adamw", 10, visible=True, inplace=True), True),
        Check("L2 decay (decoupled=False, torch's Adam), 10 steps on a fixed quadratic", 0.5,
              _steps("adamw", 10, visible=True, decoupled=False), True),
        Check("decoupled decay: random weight decay, betas, shapes, lr changed mid-run", 1,
              _steps("adamw", change=0.2)),
        Check("decoupled decay: the first step", 0.5, _steps("adamw", 1)),
        Check("L2 decay: random weight decay, betas, shapes, lr changed mid-run", 0.5,
              _steps("adamw", change=0.2, decoupled=False)),
    ],
)

# ----------------------------------------------------------------------------- 5.5 schedules


def _schedule_expected(kind, kw):
    """lr at epochs 0..n from torch.optim.lr_scheduler and from backprop_lab.optim.lr_scheduler."""
    import torch

    from backprop_lab import optim
    from backprop_lab.nn import Parameter
    out = []
    for lib, params in ((optim, [Parameter(np.zeros(1))]), (torch.optim, [torch.zeros(1, requires_grad=True)])):
        opt, sch = lib.SGD(params, lr=kw["lr_max"]), lib.lr_scheduler
        if kind == "cosine":
            n, s = kw["T_max"], sch.CosineAnnealingLR(opt, T_max=kw["T_max"], eta_min=kw["lr_min"])
        else:
            n, w = kw["total_steps"], kw["warmup_steps"]
            s = sch.SequentialLR(opt, [sch.LinearLR(opt, kw["start_factor"], 1.0, total_iters=w),
                                       sch.CosineAnnealingLR(opt, T_max=n - w, eta_min=kw["lr_min"])], milestones=[w])
        values = [opt.param_groups[0]["lr"]]
        for _ in range(n):
            opt.step()  # (torch warns when a scheduler steps before its optimizer)
            s.step()
            values.append(opt.param_groups[0]["lr"])
        out.append(np.array(values))
    return out


def _schedule_check(kind, visible=False, edge=False):
    def run(runner, rng):
        lr_max = 0.1 if visible else float(rng.uniform(0.01, 1.0))
        lr_min = 0.001 if visible else float(rng.choice([0.0, rng.uniform(0, 0.5) * lr_max]))
        if kind == "cosine":
            n = 1 if edge else 10 if visible else int(rng.integers(2, 60))
            name, kw = "cosine_lr", {"T_max": n}
        else:
            w = 1 if edge else 5 if visible else int(rng.integers(1, 15))
            n = 2 if edge else 20 if visible else w + int(rng.integers(1, 40))
            name, kw = "warmup_cosine_lr", {"warmup_steps": w, "total_steps": n,
                                            "start_factor": 0.01 if visible else float(rng.uniform(0.01, 0.5))}
        kw.update(lr_max=lr_max, lr_min=lr_min)
        got = runner.call("schedule_values", func=name, steps=list(range(n + 1)), kwargs=kw)
        ref, tor = _schedule_expected(kind, kw)
        if not all(isinstance(v, (int, float)) for v in got):
            bad = next(v for v in got if not isinstance(v, (int, float)))
            return malformed(f"{name}(t, ...)", f"{name} returned {bad!r}: return the learning rate as a number "
                             "(a missing `return`?)")
        r = compare(got, f"{name}(t, ...) for t = 0..{n}", ref, tor, tol=TOL)
        if not r.passed:
            g = np.asarray(got, dtype=float)
            bad = int(np.argmax(np.abs(g - ref)))
            where = (f"first wrong value at t = {int(np.argmax(~np.isclose(g, ref, rtol=1e-9, atol=1e-12)))}"
                     f" (largest error at t = {bad}: got {g[bad]:.6g}, expected {ref[bad]:.6g}). ")
            found = _schedule_hint(kind, g, ref, kw)
            r.diagnosis = where + (found[1] if found else "")
            r.code = found[0] if found else r.code
        return r
    return run


COSINE = {"05.cosine-formula": code("05.cosine-formula", "the cosine schedule is not the half cosine "
                                    "lr_min + (lr_max − lr_min)·(1 + cos(πt/T))/2"),
          "05.cosine-lr-min": code("05.cosine-lr-min", "the cosine schedule ignores lr_min")}
WARMUP = {"05.warmup-start": code("05.warmup-start", "the warmup starts at 0 instead of start_factor·lr_max"),
          "05.warmup-ramp": code("05.warmup-ramp", "the warmup ramps at the wrong rate (it must reach lr_max at "
                                 "t = warmup_steps)"),
          "05.warmup-cosine-phase": code("05.warmup-cosine-phase", "after the warmup, the cosine part does not "
                                         "start at t = warmup_steps or does not last total_steps − warmup_steps")}


def _schedule_hint(kind, g, ref, kw):
    """(code, sentence) for a wrong schedule, from the shape of its values; None when nothing fits."""
    same = lambda a, b: len(a) == len(b) and check_close(a, b, tol=1e-9).passed
    if kind == "cosine":
        t, lo, hi, n = np.arange(len(g)), kw["lr_min"], kw["lr_max"], kw["T_max"]
        if same(g, lo + (hi - lo) * np.cos(np.pi * t / n)):
            return "05.cosine-formula", ("cos(πt/T) runs from 1 down to −1; the schedule needs a factor that runs "
                                         "from 1 to 0: (1 + cos(πt/T)) / 2.")
        if lo != 0 and same(g, hi * (1 + np.cos(np.pi * t / n)) / 2):
            return "05.cosine-lr-min", "the schedule ends at 0: glide to lr_min, lr_min + (lr_max − lr_min)·(...)."
        return None
    w = kw["warmup_steps"]
    if same(g[:w], kw["lr_max"] * np.arange(w) / w):
        return "05.warmup-start", "The warmup starts at start_factor·lr_max, not at 0."
    if same(g[:w], ref[:w]):
        return "05.warmup-cosine-phase", ("The warmup (t < warmup_steps) is right. From t = warmup_steps on, lr "
                                          "is cosine_lr(t − warmup_steps, total_steps − warmup_steps, lr_max, "
                                          "lr_min): lr_max at t = warmup_steps, lr_min at t = total_steps. (If "
                                          "cosine_lr's own check fails, fix that first.)")
    if same(g[:1], ref[:1]):
        return "05.warmup-ramp", ("The warmup starts right but ramps at the wrong rate: lr_max·(s + (1 − s)·t / "
                                  "warmup_steps) reaches lr_max exactly at t = warmup_steps.")
    return None


SCHEDULES = Exercise(
    key="05.schedules",
    title="Exercise 5.5 · cosine annealing and warmup",
    functions=("cosine_lr", "warmup_cosine_lr"),
    where="the cell under 'Exercise 5.5'",
    checks=[
        Check("cosine_lr, T_max = 10 from 0.1 to 0.001", 0.5, _schedule_check("cosine", True), True),
        Check("warmup_cosine_lr, 5 warmup steps of 20", 0.5, _schedule_check("warmup", True), True),
        Check("cosine_lr: random T_max and lrs, against CosineAnnealingLR", 0.75, _schedule_check("cosine")),
        Check("warmup_cosine_lr: random lengths, against SequentialLR(LinearLR, CosineAnnealingLR)", 0.75,
              _schedule_check("warmup")),
        Check("edge cases: T_max = 1, one warmup step", 0.5,
              lambda runner, rng: [_schedule_check(k, True, edge=True)(runner, rng) for k in ("cosine", "warmup")],
              True),
    ],
)

register(SGD_MOMENTUM, ADAPTIVE, ADAM, ADAMW, SCHEDULES)
