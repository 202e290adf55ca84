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
from ..checking.registry import register
from ._common import compare
from .probes_05 import optimizer_steps, quadratic_grad

TOL = 1e-10  # torch and the reference agree to ~1e-14 over 25 steps (measured); bugs are >1e-6 off
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


# ----------------------------------------------------------------------------- known bugs, replayed


def _sgd(kind):
    def step(p, g, state, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        d = g if kind in ("no_wd", "wd_outside") else g + weight_decay * p
        v = state.get("momentum_buffer", np.zeros_like(p))
        if kind == "sutskever":
            v_new = momentum * v - lr * d
            return p + (momentum * v_new - lr * d if nesterov else v_new), {"momentum_buffer": v_new}
        v_new = momentum * v + d
        upd = d + momentum * v_new if nesterov and kind != "no_nesterov" else v_new
        upd = upd + weight_decay * p if kind == "wd_outside" else upd
        return p - lr * upd, {"momentum_buffer": v_new}
    return step


def _adagrad(kind):
    def step(p, g, state, lr, eps=1e-10, weight_decay=0.0):
        g = g if kind == "no_wd" else g + weight_decay * p
        s = state.get("sum", 0.0) + g * g
        denom = np.sqrt(s + eps) if kind == "eps_inside" else np.sqrt(s) + eps
        return p - lr * g / denom, {"sum": s}
    return step


def _rmsprop(kind):
    def step(p, g, state, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        g = g if kind == "no_wd" else g + weight_decay * p
        t = state.get("step", 0) + 1
        a = 1 - alpha if kind == "alpha_swapped" else alpha
        v = a * state.get("square_avg", 0.0) + (1 - a) * g * g
        v_used = v / (1 - alpha ** t) if kind == "bias" else v
        denom = np.sqrt(v_used + eps) if kind == "eps_inside" else np.sqrt(v_used) + eps
        return p - lr * g / denom, {"step": t, "square_avg": v}
    return step


def _adam(kind):
    def step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8):
        (b1, b2), t = betas, state.get("step", 0) + 1
        m = b1 * state.get("exp_avg", 0.0) + (1 - b1) * g
        v = b2 * state.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
        m_hat = m if kind in ("no_bias", "no_bias_m") else m / (1 - b1 ** t)
        v_hat = v if kind in ("no_bias", "no_bias_v") else v / (1 - b2 ** t)
        denom = np.sqrt(v_hat + eps) if kind == "eps_inside" else np.sqrt(v_hat) + eps
        denom = (np.sqrt(v) + eps) / np.sqrt(1 - b2 ** t) if kind == "eps_early" else denom
        return p - lr * m_hat / denom, {"step": t, "exp_avg": m, "exp_avg_sq": v}
    return step


# A plain Adam step (grader side only), for replaying AdamW bugs.
def _adam_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    t = state.get("step", 0) + 1
    m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    denom = np.sqrt(v / (1 - beta2 ** t)) + eps
    return p - lr * (m / (1 - beta1 ** t)) / denom, {"step": t, "exp_avg": m, "exp_avg_sq": v}


def _adamw(kind):
    def step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, decoupled=True):
        decoupled = {"l2": False, "always_decoupled": True}.get(kind, decoupled)
        wd = 0.0 if kind == "no_wd" else weight_decay
        if not decoupled:
            return _adam_step(p, g + wd * p, state, lr, betas, eps)
        shrink = 1 - (wd if kind == "no_lr" else lr * wd)
        if kind == "after":
            p_new, s = _adam_step(p, g, state, lr, betas, eps)
            return p_new * shrink, s
        return _adam_step(p * shrink, g, state, lr, betas, eps)
    return step


RESET = ("the state is not carried from one step to the next: return the updated dict as state_new "
         "(the caller passes it back in on the next call), and read the buffers from `state`.")
BUGS = {
    "sgd": [(_sgd("sutskever"), "this is the Sutskever form (v = μ·v − lr·g; p += v), or lr was put into "
             "the buffer. torch keeps lr out of it (buf = μ·buf + g; p −= lr·buf), so when lr changes, "
             "torch rescales the whole remembered velocity at once and the two forms part ways."),
            (_sgd("no_nesterov"), "this is plain momentum: with nesterov=True step along g + μ·buf, where buf "
             "is the buffer AFTER this step's update (g + μ·old_buf would just be the new buf again)."),
            (_sgd("no_wd"), "weight_decay was ignored: add weight_decay·p to g first."),
            (_sgd("wd_outside"), "weight decay must go into the buffer: torch adds weight_decay·p to g BEFORE "
             "the momentum update, not to the step afterwards.")],
    "adagrad": [(_adagrad("eps_inside"), "eps goes outside the square root: g / (sqrt(sum) + eps)."),
                (_adagrad("no_wd"), "weight_decay was ignored: add weight_decay·p to g first.")],
    "rmsprop": [(_rmsprop("bias"), "torch's RMSprop has no bias correction (that is Adam's): divide by "
                 "sqrt(square_avg) + eps as it is, so the first steps are large, about lr/sqrt(1 − α)."),
                (_rmsprop("alpha_swapped"), "alpha weighs the OLD average: "
                 "square_avg = α·square_avg + (1 − α)·g²."),
                (_rmsprop("eps_inside"), "eps goes outside the square root: g / (sqrt(square_avg) + eps)."),
                (_rmsprop("no_wd"), "weight_decay was ignored: add weight_decay·p to g first.")],
    "adam": [(_adam("no_bias"), "the bias correction is missing: m and v start at 0, so divide m by (1 − β1^t) "
              "and v by (1 − β2^t), with t = 1 on the first step. Without it the first step is "
              "(1 − β1)/sqrt(1 − β2) ≈ 3.2 times too long for the default betas."),
             (_adam("no_bias_m"), "m is not bias-corrected: m̂ = m / (1 − β1^t)."),
             (_adam("no_bias_v"), "v is not bias-corrected: v̂ = v / (1 − β2^t)."),
             (_adam("eps_inside"), "eps goes outside the square root: m̂ / (sqrt(v̂) + eps)."),
             (_adam("eps_early"), "eps is added after the bias correction: sqrt(v / (1 − β2^t)) + eps, "
              "not (sqrt(v) + eps) / sqrt(1 − β2^t).")],
    "adamw": [(_adamw("l2"), "this is Adam's L2 penalty (λ·p added to the gradient, so it is then divided by "
               "sqrt(v̂)). Decoupled decay shrinks the parameters directly, p·(1 − lr·λ), and gives Adam the "
               "plain gradient."),
              (_adamw("always_decoupled"), "decoupled=False means Adam's L2 penalty: add λ·p to the gradient "
               "and give that to the Adam step; do not shrink p directly."),
              (_adamw("no_lr"), "torch's AdamW scales the decay by lr: p·(1 − lr·λ), not p·(1 − λ)."),
              (_adamw("after"), "shrink the parameters the step starts from: "
               "p_new = p·(1 − lr·λ) − (Adam step), not (p − Adam step)·(1 − lr·λ)."),
              (_adamw("no_wd"), "weight_decay was ignored.")],
}
OK = {rule: make("ok") for rule, make in zip(STATE_KEYS, (_sgd, _adagrad, _rmsprop, _adam, _adamw))}  # correct rules


def _hint(rule, got, p0, A, b, lrs, hyper, state0):
    """The message of a known bug whose replay on the same problem reproduces the learner's p, or None."""
    import copy
    replay = lambda fn: [s["p"] for s in optimizer_steps({"f": fn}, "f", p0, A, b, lrs, hyper,
                                                         copy.deepcopy(state0))]
    same = lambda x, y: len(x) == len(y) and all(check_close(u, v, tol=TOL).passed for u, v in zip(x, y))
    ok = OK[rule]
    correct, mine = replay(ok), [s["p"] for s in got]
    for fn, message in BUGS[rule] + [(lambda p, g, s, lr, **h: ok(p, g, {}, lr, **h), RESET)]:
        bug = replay(fn)
        if not same(bug, correct) and same(mine, bug):
            return message
    return None


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


def _steps(rule, n_steps=25, change=0.1, state=False, visible=False, resume=False, **fixed):
    """Run the learner's rule for `n_steps` (lr times `change` from the middle step on) and compare
    p, and with `state` the buffers, after every step with the reference and torch.optim."""
    def run(runner, rng):
        p0, A, b = _problem(rng, visible)
        lr, hyper = _draw(rule, rng, visible, fixed)
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
                           if k in g["state"] else CheckResult(f"state['{k}']", False, np.inf, None, "torch"))
            results += res
            if not all(res):
                hint = _hint(rule, got, p0, A, b, lrs[:len(got)], hyper, state0)
                weak = _state_hint(rule, g, r, lrs[t - 1])  # fills the gaps a replayed bug leaves
                for x in (x for x in res if not x.passed):
                    use_weak = x.name.startswith("state") or not x.diagnosis
                    x.diagnosis = hint or (weak if use_weak else None) or x.diagnosis
                break
        return results
    return run


def _state_hint(rule, got, ref, lr):
    # hints from the state alone: torch's names, and lr inside the momentum buffer
    if any(k not in got["state"] for k in STATE_KEYS[rule]):
        return (f"your state has the keys {sorted(got['state'])}; use torch's names {list(STATE_KEYS[rule])}: "
                "the caller (and torch's optimizer.state[p]) hands the buffers back under those names.")
    buf, mine = ref["state"].get("momentum_buffer"), got["state"].get("momentum_buffer")
    if buf is not None and np.shape(mine) == np.shape(buf) and any(
            check_close(mine, s * lr * buf, tol=TOL).passed for s in (-1, 1)):
        return ("your buffer holds ±lr times torch's momentum_buffer (the Sutskever form): keep lr out of it, "
                "buf = μ·buf + g, and multiply by lr only in the step p −= lr·buf.")
    return None


def _both(**kw):
    return lambda runner, rng: [r for rule in ("adagrad", "rmsprop") for r in _steps(rule, **kw)(runner, rng)]


SGD_MOMENTUM = Exercise(
    key="05.sgd_momentum",
    title="Exercise 5.1 · SGD with momentum and Nesterov (torch's convention)",
    functions=("sgd_momentum_step",),
    where="the cell under 'Exercise 5.1'",
    checks=[
        Check("the first step on a fixed quadratic", 0.5, _steps("sgd", 1, visible=True), True),
        Check("25 steps on a fixed quadratic, lr cut to a tenth at step 13", 0.5, _steps("sgd", visible=True), True),
        Check("25 steps with a constant lr, random momentum and shapes", 0.5, _steps("sgd", change=None)),
        Check("lr changes mid-run: torch's form, not Sutskever's", 1, _steps("sgd", change=0.2)),
        Check("Nesterov momentum", 0.5, _steps("sgd", change=None, nesterov=True)),
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
        Check("Adagrad: 25 steps on a fixed quadratic (lr cut at step 13)", 0.5, _steps("adagrad", visible=True), True),
        Check("RMSprop: 25 steps on a fixed quadratic (lr cut at step 13)", 0.5, _steps("rmsprop", visible=True), True),
        Check("Adagrad: random shapes and lr, lr changed mid-run", 0.75, _steps("adagrad", change=0.3)),
        Check("RMSprop: random shapes, lr and alpha, lr changed mid-run", 0.75, _steps("rmsprop", change=0.3)),
        Check("both: weight decay enters the gradient", 0.5, _both(weight_decay=0.1)),
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
        Check("25 steps on a fixed quadratic, lr cut to a tenth at step 13", 0.5, _steps("adam", visible=True), True),
        Check("the first step with random betas and shapes", 0.5, _steps("adam", 1)),
        Check("25 steps with random betas, shapes and an lr change", 1, _steps("adam", change=0.2)),
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
    depends="adamw_step runs your own adam_step: if exercise 5.3 loses points, fix it first",
    checks=[
        Check("decoupled decay (AdamW), 10 steps on a fixed quadratic", 0.5, _steps("adamw", 10, visible=True), True),
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
            n = 10 if visible else 1 if edge else int(rng.integers(2, 60))
            name, kw = "cosine_lr", {"T_max": n}
        else:
            w = 5 if visible else 1 if edge else int(rng.integers(1, 15))
            n = 20 if visible else 2 if edge else w + int(rng.integers(1, 40))
            name, kw = "warmup_cosine_lr", {"warmup_steps": w, "total_steps": n,
                                            "start_factor": 0.01 if visible else float(rng.uniform(0.01, 0.5))}
        kw.update(lr_max=lr_max, lr_min=lr_min)
        got = runner.call("schedule_values", func=name, steps=list(range(n + 1)), kwargs=kw)
        ref, tor = _schedule_expected(kind, kw)
        if not all(isinstance(v, (int, float)) for v in got):
            bad = next(v for v in got if not isinstance(v, (int, float)))
            return CheckResult(f"{name}(t, ...)", False, np.inf, None, "torch", f"{name} returned {bad!r}: return "
                               "the learning rate as a number (a missing `return`?)")
        r = compare(got, f"{name}(t, ...) for t = 0..{n}", ref, tor, tol=TOL)
        if not r.passed:
            g = np.asarray(got, dtype=float)
            bad = int(np.argmax(np.abs(g - ref)))
            r.diagnosis = (f"first wrong value at t = {int(np.argmax(~np.isclose(g, ref, rtol=1e-9, atol=1e-12)))}"
                           f" (largest error at t = {bad}: got {g[bad]:.6g}, expected {ref[bad]:.6g}). ")
            if kind == "warmup" and check_close(g[: kw["warmup_steps"]], lr_max * np.arange(kw["warmup_steps"])
                                                / kw["warmup_steps"], tol=1e-9).passed:
                r.diagnosis += "The warmup starts at start_factor·lr_max, not at 0."
            elif kind == "warmup" and check_close(g[: kw["warmup_steps"] + 1], ref[: kw["warmup_steps"] + 1]).passed:
                r.diagnosis += ("The warmup is right; the cosine part starts at t = warmup_steps and lasts "
                                "total_steps − warmup_steps steps.")
        return r
    return run


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
              lambda runner, rng: [_schedule_check(k, edge=True)(runner, rng) for k in ("cosine", "warmup")]),
    ],
)

register(SGD_MOMENTUM, ADAPTIVE, ADAM, ADAMW, SCHEDULES)
