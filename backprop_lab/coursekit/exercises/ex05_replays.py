"""Notebook 05's known optimizer bugs, replayed: when a learner's trajectory differs from torch's, each
known wrong rule below runs on the same quadratic; the one that reproduces the learner's parameters
names the bug (a diagnosis code and one sentence).

Every replay is ``step(p, g, state, lr, **hyper) -> (p_new, state_new)``, like the learner's rule, and
runs through the same probe (`probes_05.optimizer_steps`), so the gradients follow its own path.
"""
from __future__ import annotations

import copy

import numpy as np

from backprop_lab.gradcheck import check_close

from ..checking.diagnoses import register as code
from .probes_05 import optimizer_steps

TOL = 1e-10  # torch and the reference agree to ~1e-14 over 25 steps (measured); bugs are >1e-6 off


def _sgd(kind):
    def step(p, g, state, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        d = g if kind in ("no_wd", "wd_outside") else g + weight_decay * p
        v = state.get("momentum_buffer", np.zeros_like(p))
        if kind == "sutskever":
            v_new = momentum * v - lr * d
            return p + (momentum * v_new - lr * d if nesterov else v_new), {"momentum_buffer": v_new}
        v_new = momentum * v + ((1 - momentum) * d if kind == "ema" else d)
        upd = v_new
        if nesterov and kind != "no_nesterov":
            upd = (g if kind == "nesterov_raw" else d) + momentum * v_new
        upd = upd + weight_decay * p if kind == "wd_outside" else upd
        return p - lr * upd, {"momentum_buffer": v_new}
    return step


def _adagrad(kind):
    def step(p, g, state, lr, eps=1e-10, weight_decay=0.0):
        g = g if kind == "no_wd" else g + weight_decay * p
        s = (0.0 if kind == "no_sum" else state.get("sum", 0.0)) + g * g
        denom = np.sqrt(s + eps) if kind == "eps_inside" else np.sqrt(s) + eps
        return p - lr * g / denom, {"sum": s}
    return step


def _rmsprop(kind):
    def step(p, g, state, lr, alpha=0.9 if kind == "alpha_default" else 0.99, eps=1e-8, weight_decay=0.0):
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
        (b1, b2) = betas
        t = 1 if kind == "t_fixed" else state.get("_t" if kind == "t_restart" else "step", 0) + 1
        m = b1 * state.get("exp_avg", 0.0) + (1 - b1) * g
        v = b2 * state.get("exp_avg_sq", 0.0) + (1 - (b1 if kind == "betas_mixed" else b2)) * g * g
        m_hat = m if kind in ("no_bias", "no_bias_m") else m / (1 - b1 ** t)
        v_hat = v if kind in ("no_bias", "no_bias_v") else v / (1 - (b1 if kind == "v_corrected_b1" else b2) ** t)
        denom = np.sqrt(v_hat + eps) if kind == "eps_inside" else np.sqrt(v_hat) + eps
        denom = (np.sqrt(v) + eps) / np.sqrt(1 - b2 ** t) if kind == "eps_early" else denom
        if kind == "stores_hat":
            m, v = m_hat, v_hat
        return p - lr * m_hat / denom, {"step": t, "exp_avg": m, "exp_avg_sq": v, "_t": t}
    return step


_adam_step = _adam("ok")  # a plain Adam step (grader side only), for replaying AdamW bugs


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
        return _adam_step(p * shrink, g + wd * p if kind == "twice" else g, state, lr, betas, eps)
    return step


SUTSKEVER = code("05.sgd-sutskever", "momentum in the Sutskever form (lr inside the velocity): differs from torch "
                 "as soon as the learning rate changes")
NO_WD = code("05.weight-decay-ignored", "the weight_decay argument is ignored")
EPS_INSIDE = code("05.eps-inside-sqrt", "eps is added inside the square root instead of after it")
RESET = (code("05.state-not-carried", "the state is not read back or not returned: every step starts afresh"),
         "the state is not carried from one step to the next: read the buffers from `state` under the names you "
         "return them with, and return the updated dict as state_new (the caller passes it back in next time).")
ASCENT = (code("05.gradient-ascent", "the step goes up the gradient (p + lr·...) instead of down"),
          "the parameters move UP the gradient: a descent step subtracts, p_new = p − lr·(...).")
BUGS = {
    "sgd": [(_sgd("sutskever"), SUTSKEVER, "this is the Sutskever form (v = μ·v − lr·g; p += v), or lr was put "
             "into the buffer. torch keeps lr out of it (buf = μ·buf + g; p −= lr·buf), so when lr changes, "
             "torch rescales the whole remembered velocity at once and the two forms part ways."),
            (_sgd("no_nesterov"), code("05.sgd-nesterov", "nesterov=True is ignored or uses the old buffer"),
             "this is plain momentum: with nesterov=True step along d + μ·buf, where buf is the buffer AFTER "
             "this step's update (d + μ·old_buf would just be the new buf again)."),
            (_sgd("nesterov_raw"), code("05.sgd-nesterov-raw-gradient", "the Nesterov step adds the raw gradient "
                                        "g instead of d = g + weight_decay·p"),
             "with weight decay, the Nesterov step is d + μ·buf with d = g + weight_decay·p, the same d that went "
             "into the buffer; you added the raw gradient g."),
            (_sgd("no_wd"), NO_WD, "weight_decay was ignored: use d = g + weight_decay·p in place of g."),
            (_sgd("wd_outside"), code("05.sgd-weight-decay-outside", "weight decay is added to the step instead "
                                      "of to the gradient before the momentum buffer"),
             "weight decay must go into the buffer: torch adds weight_decay·p to g BEFORE the momentum update, "
             "not to the step afterwards."),
            (_sgd("ema"), code("05.sgd-ema-buffer", "the momentum buffer is an average, (1 − μ)·g, not a sum"),
             "your buffer is an exponential average, buf = μ·buf + (1 − μ)·g (torch's `dampening`); torch's "
             "default sums: buf = μ·buf + g, so a constant gradient builds up a step 1/(1 − μ) times larger.")],
    "adagrad": [(_adagrad("eps_inside"), EPS_INSIDE, "eps goes outside the square root: d / (sqrt(sum) + eps)."),
                (_adagrad("no_sum"), code("05.adagrad-sum-not-accumulated", "Adagrad's sum of squares holds only "
                                          "this step's d² (sum = d², not sum += d²)"),
                 "Adagrad's sum of squares is not accumulated: state['sum'] holds only this step's d², so every "
                 "step is about lr·sign(d). Add d² to the previous sum, sum = state['sum'] + d·d (read it under "
                 "the key 'sum', the one you return)."),
                (_adagrad("no_wd"), NO_WD, "weight_decay was ignored: use d = g + weight_decay·p in place of g.")],
    "rmsprop": [(_rmsprop("bias"), code("05.rmsprop-bias-correction", "RMSprop with Adam's bias correction "
                                        "(torch's RMSprop has none)"),
                 "torch's RMSprop has no bias correction (that is Adam's): divide by sqrt(square_avg) + eps as "
                 "it is, so the first steps are large, about lr/sqrt(1 − α)."),
                (_rmsprop("alpha_swapped"), code("05.rmsprop-alpha-swapped", "alpha weighs the new squared "
                                                 "gradient instead of the old average"),
                 "alpha weighs the OLD average: square_avg = α·square_avg + (1 − α)·d²."),
                (_rmsprop("alpha_default"), code("05.rmsprop-alpha-default", "RMSprop's default alpha is not "
                                                 "torch's 0.99"),
                 "with alpha left at its default, your steps match alpha = 0.9: torch's RMSprop (and the "
                 "signature in the notebook) default to alpha = 0.99."),
                (_rmsprop("eps_inside"), EPS_INSIDE, "eps goes outside the square root: d / (sqrt(square_avg) + eps)."),
                (_rmsprop("no_wd"), NO_WD, "weight_decay was ignored: use d = g + weight_decay·p in place of g.")],
    "adam": [(_adam(kind), code("05.adam-bias-correction", "Adam without the bias correction of m, v or both"), msg)
             for kind, msg in [
                 ("no_bias", "the bias correction is missing: m and v start at 0, so divide m by (1 − β1^t) and v "
                  "by (1 − β2^t), with t = 1 on the first step. Without it the first step is "
                  "(1 − β1)/sqrt(1 − β2) ≈ 3.2 times too long for the default betas."),
                 ("no_bias_m", "m is not bias-corrected: m̂ = m / (1 − β1^t)."),
                 ("no_bias_v", "v is not bias-corrected: v̂ = v / (1 − β2^t).")]]
            + [(_adam("eps_inside"), EPS_INSIDE, "eps goes outside the square root: m̂ / (sqrt(v̂) + eps)."),
               (_adam("eps_early"), code("05.adam-eps-before-correction", "eps is added before the bias "
                                         "correction of v"),
                "eps is added after the bias correction: sqrt(v / (1 − β2^t)) + eps, not "
                "(sqrt(v) + eps) / sqrt(1 − β2^t)."),
               (_adam("t_fixed"), code("05.adam-step-count", "the step count t does not come from "
                                       "state['step'] + 1"),
                "t stays 1: take it from the state, t = state.get('step', 0) + 1, and return it as state['step'], "
                "so that the bias correction fades as the steps go on."),
               (_adam("t_restart"), "05.adam-step-count",
                "t restarts at 1 when you resume from a saved state: take it from the state, "
                "t = state.get('step', 0) + 1, and return it as state['step'], the only count torch keeps."),
               (_adam("v_corrected_b1"), code("05.adam-v-correction-beta1", "v's bias correction uses β1 "
                                              "instead of β2"),
                "v is bias-corrected with β1: v̂ = v / (1 − β2^t), with β2, the beta of v's own average."),
               (_adam("stores_hat"), code("05.adam-state-bias-corrected", "the state keeps the bias-corrected m̂, "
                                          "v̂ instead of the raw averages m, v"),
                "the state holds m̂ and v̂: store the raw averages m and v as exp_avg and exp_avg_sq (the bias "
                "correction is applied afresh at every step, to the raw values, and never stored)."),
               (_adam("betas_mixed"), code("05.adam-betas-mixed", "beta1 and beta2 are mixed up"),
                "v is an average with β2: v = β2·v + (1 − β2)·g² (you used β1 in one of its two factors).")],
    "adamw": [(_adamw("l2"), code("05.adamw-l2-instead-of-decoupled", "AdamW written as Adam with an L2 penalty"),
               "this is Adam's L2 penalty (λ·p added to the gradient, so it is then divided by sqrt(v̂)). "
               "Decoupled decay shrinks the parameters directly, p·(1 − lr·λ), and gives Adam the plain gradient."),
              (_adamw("always_decoupled"), code("05.adamw-l2-ignored", "decoupled=False still decays decoupled"),
               "decoupled=False means Adam's L2 penalty: add λ·p to the gradient and give that to the Adam step; "
               "do not shrink p directly."),
              (_adamw("no_lr"), code("05.adamw-decay-without-lr", "the decoupled decay is not scaled by lr"),
               "torch's AdamW scales the decay by lr: p·(1 − lr·λ), not p·(1 − λ)."),
              (_adamw("after"), code("05.adamw-decay-after-step", "the parameters are shrunk after the Adam step"),
               "shrink the parameters the step starts from: p_new = p·(1 − lr·λ) − (Adam step), "
               "not (p − Adam step)·(1 − lr·λ)."),
              (_adamw("twice"), code("05.adamw-decay-twice", "weight decay is applied both ways at once"),
               "the decay is applied twice: decoupled (p·(1 − lr·λ)) AND as an L2 term λ·p in the gradient. "
               "With decoupled=True give adam_step the plain gradient g."),
              (_adamw("no_wd"), NO_WD, "weight_decay was ignored.")],
}
OK = {"sgd": _sgd("ok"), "adagrad": _adagrad("ok"), "rmsprop": _rmsprop("ok"), "adam": _adam("ok"),
      "adamw": _adamw("ok")}


def replay_hint(rule, got, p0, A, b, lrs, hyper, state0):
    """(code, sentence) of a known bug whose replay on the same problem reproduces the learner's p, or None."""
    replay = lambda fn: [s["p"] for s in optimizer_steps({"f": fn}, "f", p0, A, b, lrs, hyper,
                                                         copy.deepcopy(state0))]
    same = lambda x, y: len(x) == len(y) and all(check_close(u, v, tol=TOL).passed for u, v in zip(x, y))
    ok = OK[rule]
    correct, mine = replay(ok), [s["p"] for s in got]
    ascent = lambda p, g, s, lr, **h: ok(p, g, s, -lr, **h)
    reset = lambda p, g, s, lr, **h: ok(p, g, {}, lr, **h)
    for fn, bug_code, message in BUGS[rule] + [(ascent, *ASCENT), (reset, *RESET)]:
        bug = replay(fn)
        if not same(bug, correct) and same(mine, bug):
            return bug_code, message
    return None


STATE_NAMES = code("05.state-names", "the state's keys are not torch's names")
IN_PLACE = code("05.changes-arguments", "p or an array of state is changed in place")


def state_hint(keys, got, ref, lr):
    """(code, sentence) from the state alone: torch's names, and lr inside the momentum buffer; or None."""
    if any(k not in got["state"] for k in keys):
        return STATE_NAMES, (f"your state has the keys {sorted(got['state'])}; use torch's names {list(keys)}: the "
                             "caller (and torch's optimizer.state[p]) hands the buffers back under those names.")
    buf, mine = ref["state"].get("momentum_buffer"), got["state"].get("momentum_buffer")
    if buf is not None and np.shape(mine) == np.shape(buf) and any(
            check_close(mine, s * lr * buf, tol=TOL).passed for s in (-1, 1)):
        return SUTSKEVER, ("your buffer holds ±lr times torch's momentum_buffer (the Sutskever form): keep lr out "
                           "of it, buf = μ·buf + g, and multiply by lr only in the step p −= lr·buf.")
    return None
