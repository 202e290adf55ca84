"""Notebook 09 · an autoencoder (bonus): the reconstruction loss through a sigmoid, and the backward
pass of an encoder-decoder MLP.

9.1 compares the learner's `sigmoid_mse_loss` with the library's sigmoid and mse_loss chained by hand
and with torch (``mse_loss(sigmoid(z), x)``); on logits of ±800 it runs through `probes_09.call_strict`,
so an overflow in np.exp (a naive sigmoid: right numbers after a RuntimeWarning) is an error, as in
notebook 03. 9.2 compares `autoencoder_forward` / `autoencoder_backward` (D -> Hd -> L -> Hd -> D, ReLU
after the first and third linear layers, logits out) with the library's functional layers, with an
`nn.Sequential` holding the same weights, and with torch autograd. The fixed and the random batches
have a blank image and b1[0] = 0, so that some encoder pre-activations are exactly 0 and relu'(0) = 0
is graded. Letters: N batch, D pixels, Hd hidden units, L code size.
"""
from __future__ import annotations

import numpy as np

from backprop_lab import functional as F

from ..checking.core import Check, CheckTimeout, Exercise, ForbiddenUse, NotAttempted, StudentCodeError
from ..checking.diagnoses import register as code
from ..checking.registry import register
from ._common import blank_last, compare, explain, module_grads, shape_of_another, torch_grads
from ._common import malformed as _malformed
from ._common import size as _size

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")
SEQ_KEYS = dict(zip(PARAMS, ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias", "5.weight", "5.bias"]))


# ----------------------------------------------------------------------------- 9.1 the loss


def _loss_reference(z, x):
    """sigmoid, then mse_loss, from the library: (loss, dlogits)."""
    s, cache = F.sigmoid_forward(z)
    loss, ds = F.mse_loss(s, x)
    return loss, F.sigmoid_backward(ds, cache)


LOSS_CODES = {k: code(f"09.{k}", meaning) for k, meaning in {
    "loss-missing-sigmoid-derivative": "dlogits stops at dL/d(sigmoid output): the factor s(1 − s) is missing",
    "loss-mean-over-batch-only": "the gradient divides by N instead of by all N·D pixels",
    "sigmoid-derivative-uses-logits": "the sigmoid's derivative is written with the logits, z(1 − z), instead of "
                                      "its output, s(1 − s)",
    "sigmoid-derivative-formula": "the sigmoid's derivative is not s(1 − s)",
    "loss-bce-gradient": "dlogits is binary cross-entropy's gradient (s − x)/(N·D), not the MSE's",
    "loss-sum-not-mean": "the loss is a sum over the pixels instead of a mean",
    "loss-without-sigmoid": "the loss compares the logits with the targets, without the sigmoid",
    "sigmoid-overflow": "np.exp overflows at large logits (a naive sigmoid): nan, or a RuntimeWarning that the "
                        "checker turns into an error",
    "sigmoid-of-minus-z": "the sigmoid gives sigmoid(-z) = 1 - s: the stable sigmoid's two branches are swapped "
                          "(or the sign of z is flipped)",
}.items()}


def _loss_known(z, x):
    """Known wrong (loss, dlogits) pairs: [(loss or None, dlogits or None, code, sentence)]."""
    s = F.sigmoid_forward(z)[0]
    size = z.size
    ds = 2 * (s - x) / size
    c = LOSS_CODES
    return [
        (None, ds, c["loss-missing-sigmoid-derivative"], "this is dL/d(reconstruction), the gradient with respect to "
         "the sigmoid's OUTPUT. The chain rule continues through the sigmoid: multiply by s * (1 - s)."),
        (None, ds * s * (1 - s) * z.shape[1], c["loss-mean-over-batch-only"], f"too large by a factor of D = "
         f"{z.shape[1]}: the loss is the mean over all N * D pixels (like torch's mse_loss), so divide by z.size, "
         "not by N."),
        (None, ds * z * (1 - z), c["sigmoid-derivative-uses-logits"], "the sigmoid's derivative is s * (1 - s) with "
         "s = sigmoid(z), its OUTPUT; you used the logits z in its place."),
        (None, ds * s * (1 + s), c["sigmoid-derivative-formula"], "the sigmoid's derivative is s * (1 - s) (a minus)."),
        (None, (s - x) / size, c["loss-bce-gradient"], "this is the gradient of binary cross-entropy on the logits, "
         "(s - x) / (N*D). For the MSE after a sigmoid it is 2 (s - x) / (N*D) * s (1 - s)."),
        (np.sum((s - x) ** 2), 2 * (s - x) * s * (1 - s), c["loss-sum-not-mean"], f"the loss is a SUM over the "
         f"{size} pixels; take the mean (divide the loss and its gradient by N * D = {size})."),
        (np.mean((z - x) ** 2), 2 * (z - x) / size * s * (1 - s), c["loss-without-sigmoid"], "the loss compares the "
         "LOGITS with the targets; compare sigmoid(logits) with them: mean((sigmoid(z) - x) ** 2)."),
        (np.mean((1 - s - x) ** 2), 2 * (1 - s - x) / size * s * (1 - s), c["sigmoid-of-minus-z"], "this matches a "
         "sigmoid that gives sigmoid(-z) = 1 - s: the two branches of the stable sigmoid are swapped (or z's sign is "
         "flipped). With e = np.exp(-np.abs(z)), the numerator is 1 where z >= 0 and e (= e^z) where z < 0: "
         "s = np.where(z >= 0, 1.0, e) / (1 + e)."),
    ]


STABLE = ("Compute the sigmoid from e = np.exp(-np.abs(z)), which is at most 1: s = 1 / (1 + e) where z >= 0 and "
          "e / (1 + e) where z < 0 (np.where evaluates BOTH branches, so neither may call np.exp on a large z).")
OVERFLOW = ("nan/inf where the logits are large: np.exp(z) overflows to inf beyond z = 709, and inf / inf is nan. "
            + STABLE)
RAISED = ("sigmoid_mse_loss is not numerically stable: {error} at logits up to ±{top:g} (the checker turns numpy's "
          "floating-point warnings into errors). np.exp(z) overflows to inf beyond |z| = 709: 1 / (1 + np.exp(-z)) "
          "still gives the right 0 at z = -800, but only after an overflow and a RuntimeWarning (and "
          "np.exp(z) / (1 + np.exp(z)) gives inf / inf = nan). " + STABLE)


def _loss(which, make):
    def run(runner, rng):
        z, x = make(rng)
        import torch.nn.functional as tF
        loss, dz = _loss_reference(z, x)
        t_loss, t = torch_grads(lambda z, x: tF.mse_loss(z.sigmoid(), x), {"z": z, "x": x}, ["z"])
        strict = np.abs(z).max() > 700  # a large-logit check: an overflow in np.exp is an error there
        try:
            got = runner.call("call_strict" if strict else "call", func="sigmoid_mse_loss", args=[z, x])
        except (NotAttempted, CheckTimeout, ForbiddenUse):
            raise
        except StudentCodeError as exc:
            if "FloatingPointError" not in exc.message:
                raise
            raise StudentCodeError(RAISED.format(error=exc.message.removeprefix("your code raised "),
                                                 top=np.abs(z).max()),
                                   exc.student_traceback, LOSS_CODES["sigmoid-overflow"]) from None
        if not (isinstance(got, list) and len(got) == 2):
            return _malformed("sigmoid_mse_loss(...)", "sigmoid_mse_loss must return a pair (loss, dlogits); "
                              f"got {type(got).__name__}.")
        known = _loss_known(z, x)
        results = []
        for name, mine, ref, tor, k in [("loss", got[0], loss, t_loss, 0), ("dlogits", got[1], dz, t["z"], 1)]:
            if name not in which:
                continue
            res = explain(compare(mine, name, ref, tor), mine, ref,
                          [(v[k], bug_code, sentence) for *v, bug_code, sentence in known if v[k] is not None])
            if not res.passed and np.abs(z).max() > 700 and not np.all(np.isfinite(np.asarray(mine, dtype=float))):
                res.code, res.diagnosis = LOSS_CODES["sigmoid-overflow"], OVERFLOW
            results.append(res)
        return results
    return run


def _pixels(shape):
    """Logits around 0 and targets in [0, 1], like digit pixels."""
    def make(rng):
        s = shape(rng)
        return 2.0 * rng.standard_normal(s), rng.uniform(0.0, 1.0, s)
    return make


def _extreme(rng, shape=None):
    """Half the logits moderate, half of size 50 to 800 (exp overflows beyond 709); targets 0 or 1."""
    s = shape or (_size(rng, 2, 5), _size(rng, 4, 8))
    huge = rng.choice([-1.0, 1.0], s) * rng.uniform(50, 800, s)
    z = np.where(rng.random(s) < 0.5, 2.0 * rng.standard_normal(s), huge)
    z.flat[:3] = [-800.0, 800.0, 0.5]
    return z, rng.integers(0, 2, s).astype(float)


LOSS = Exercise(
    key="09.loss",
    title="Exercise 9.1 · the reconstruction loss through a sigmoid",
    functions=("sigmoid_mse_loss",),
    where="the cell under 'Exercise 9.1'",
    checks=[Check("loss on fixed (N, D) = (3, 5) logits", 0.5, _loss(("loss",), _pixels(lambda r: (3, 5))), True),
            Check("dlogits on fixed (N, D) = (3, 5) logits", 1, _loss(("dlogits",), _pixels(lambda r: (3, 5))), True),
            Check("saturated outputs: fixed (N, D) = (2, 6) logits up to ±800", 0.5,
                  _loss(("loss", "dlogits"), lambda r: _extreme(r, (2, 6))), True),
            Check("loss and dlogits on random batches", 0.5,
                  _loss(("loss", "dlogits"), _pixels(lambda r: (_size(r, 1, 8), _size(r, 2, 64))))),
            Check("saturated outputs: logits up to ±800, targets 0 or 1", 0.5, _loss(("loss", "dlogits"), _extreme))],
)

# ----------------------------------------------------------------------------- 9.2 the autoencoder


def _params(rng, D, Hd, L):
    he = lambda fan_in, shape: rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    return {"W1": he(D, (Hd, D)), "b1": 0.1 * rng.standard_normal(Hd), "W2": he(Hd, (L, Hd)),
            "b2": 0.1 * rng.standard_normal(L), "W3": he(L, (Hd, L)), "b3": 0.1 * rng.standard_normal(Hd),
            "W4": he(Hd, (D, Hd)), "b4": 0.1 * rng.standard_normal(D)}


def _reference(p, x, dlogits, masks=("a1", "a3"), relu_code=False, mask_code=False, pre=False, no_bias="",
               bias_axis=0):
    """The network by hand: (logits, grads). The options give the results of classic bugs: `masks` (the
    pre-activations whose sign masks the encoder's and the decoder's ReLU; "" = unmasked, "a1=" = a1 >= 0,
    relu'(0) = 1), a ReLU on the code (`relu_code`) or only its mask on the way back (`mask_code`), dW from
    the pre-activations (`pre`), the bias `no_bias` left out of the forward pass, the bias gradients summed
    over `bias_axis` (1: over each example's features instead of over the batch)."""
    b = {k: np.zeros_like(v) if k == no_bias else v for k, v in p.items()}
    a1 = x @ p["W1"].T + b["b1"]
    h1 = np.maximum(a1, 0)
    code = h1 @ p["W2"].T + b["b2"]
    c = np.maximum(code, 0) if relu_code else code
    a3 = c @ p["W3"].T + b["b3"]
    h2 = np.maximum(a3, 0)
    logits = h2 @ p["W4"].T + b["b4"]
    mask = {"a1": a1 > 0, "a3": a3 > 0, "a1=": a1 >= 0, "a3=": a3 >= 0, "": 1.0}
    g = {"W4": dlogits.T @ (a3 if pre else h2), "b4": dlogits.sum(axis=bias_axis)}
    da3 = (dlogits @ p["W4"]) * mask[masks[1]]
    g["W3"], g["b3"] = da3.T @ c, da3.sum(axis=bias_axis)
    dcode = (da3 @ p["W3"]) * ((code > 0) if relu_code or mask_code else 1.0)
    g["W2"], g["b2"] = dcode.T @ (a1 if pre else h1), dcode.sum(axis=bias_axis)
    da1 = (dcode @ p["W2"]) * mask[masks[0]]
    g["W1"], g["b1"] = da1.T @ x, da1.sum(axis=bias_axis)
    return logits, g


MASK = ("this matches a backward pass that lets the gradient through {} unmasked. Multiply by (pre-activation > 0) "
        "on the way back, in the decoder AND in the encoder.")
AT_ZERO = ("this matches a ReLU mask written with >= 0: {} passes the gradient where its pre-activation is exactly 0 "
           "(the blank image with b1[0] = 0 makes a1 exactly 0). relu'(0) is 0, in torch and in the reference: "
           "multiply by (a > 0), not (a >= 0).")
BIAS_AXIS = ("d{name} is the upstream gradient summed over axis=1, over the features (for db4 the pixels) of each "
             "example: one number per example, shape {got}. The bias is added to every row, so its gradient sums "
             "over the batch, axis=0: one number per unit, shape {want}.")
AE_BUGS = [  # (options of _reference, code, meaning, sentence)
    ({"masks": ("a1", "")}, "09.ae-relu-not-masked", "the gradient passes a ReLU unmasked",
     MASK.format("the decoder's ReLU")),
    ({"masks": ("", "a3")}, "09.ae-relu-not-masked", "", MASK.format("the encoder's ReLU")),
    ({"masks": ("", "")}, "09.ae-relu-not-masked", "", MASK.format("both ReLUs")),
    ({"masks": ("a3", "a1")}, "09.ae-relu-masks-swapped", "each ReLU is masked with the other ReLU's "
     "pre-activation", "the two ReLU masks are swapped (both layers have Hd units, so the shapes fit): the decoder's "
     "gradient is masked by a3 > 0, the encoder's by a1 > 0."),
    ({"relu_code": True}, "09.ae-relu-on-code", "a ReLU is applied to the code",
     "the code layer has no activation: code = h1 @ W2.T + b2, which may be negative (any point of the plane)."),
    ({"mask_code": True}, "09.ae-mask-on-code", "the gradient is masked at the code, which has no ReLU",
     "the gradient crosses the code unmasked: the code layer has no ReLU, so dcode = da3 @ W3 as it is."),
    ({"masks": ("a1=", "a3")}, "09.ae-relu-grad-at-zero", "a ReLU passes the gradient where its pre-activation is "
     "exactly 0 (a >= 0 instead of a > 0): relu'(0) is 0", AT_ZERO.format("the encoder's ReLU")),
    ({"masks": ("a1", "a3=")}, "09.ae-relu-grad-at-zero", "", AT_ZERO.format("the decoder's ReLU")),
    ({"masks": ("a1=", "a3=")}, "09.ae-relu-grad-at-zero", "", AT_ZERO.format("each ReLU")),
    ({"pre": True}, "09.ae-dW-uses-pre-activation", "a weight gradient uses the layer input before the ReLU",
     "dW = dout.T @ (the layer's INPUT), and that input is the ReLU's output h, not its pre-activation a."),
] + [({"no_bias": k}, "09.ae-bias-missing", "a bias is left out of the forward pass",
      f"the logits match a network without {k}: every linear layer adds its bias, h @ W.T + b.") for k in PARAMS[1::2]]
for _, bug_code, meaning, _ in AE_BUGS:
    if meaning:
        code(bug_code, meaning)
BIAS_AXIS_CODE = code("09.ae-bias-grad-wrong-axis", "a bias gradient is summed over the features (axis 1) instead "
                      "of over the batch (axis 0)")
MIXUP = code("09.ae-layer-mixup", "a parameter's gradient has the shape of another parameter (layers mixed up)")


def _sequential_reference(p, x, dlogits):
    """`nn.Sequential(Linear, ReLU, Linear, Linear, ReLU, Linear)` holding the same weights."""
    from backprop_lab import nn
    D, Hd, L = p["W1"].shape[1], p["W1"].shape[0], p["W2"].shape[0]
    model = nn.Sequential(nn.Linear(D, Hd), nn.ReLU(), nn.Linear(Hd, L), nn.Linear(L, Hd), nn.ReLU(), nn.Linear(Hd, D))
    return module_grads(model, SEQ_KEYS, p, x, dlogits)


def _torch(p, x, dlogits):
    import torch.nn.functional as tF

    def net(x, W1, b1, W2, b2, W3, b3, W4, b4):
        code = tF.linear(tF.relu(tF.linear(x, W1, b1)), W2, b2)
        return tF.linear(tF.relu(tF.linear(code, W3, b3)), W4, b4)
    return torch_grads(net, {"x": x, **p}, list(PARAMS), dout=dlogits)


def _autoencoder(which, case):
    def run(runner, rng):
        N, D, Hd, L, digits, *blank = case(rng)
        p = _params(rng, D, Hd, L)
        if digits:
            from backprop_lab.data import load_digits
            X = load_digits(flatten=True)[0]
            x = X[rng.choice(len(X), N, replace=False)]
        else:
            x = rng.uniform(0.0, 1.0, (N, D))
        if blank and blank[0]:  # a1[-1, 0] = 0 exactly: where relu'(0) = 0 shows (in db1)
            x = blank_last(x, p)
            N = len(x)
        dlogits = rng.standard_normal((N, D))
        ref_logits, ref = (_sequential_reference if digits else _reference)(p, x, dlogits)
        t_logits, tor = _torch(p, x, dlogits)
        got = runner.call("forward_backward", forward="autoencoder_forward", backward="autoencoder_backward",
                          args=[p, x], kwargs={}, dout=dlogits)
        grads = got["grads"]
        if not (isinstance(grads, dict) and set(PARAMS) <= set(grads)):
            have = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            return _malformed("autoencoder_backward's result", "autoencoder_backward must return a dict with the "
                              f"keys {list(PARAMS)}; got {have}.")
        alts = [(_reference(p, x, dlogits, **options), bug_code, sentence)
                for options, bug_code, _, sentence in AE_BUGS]
        by_row = _reference(p, x, dlogits, bias_axis=1)[1]
        results = []
        for name in which:
            if name == "logits":
                known = [(a[0], bug_code, sentence) for a, bug_code, sentence in alts]
                results.append(explain(compare(got["out"], "logits", ref_logits, t_logits), got["out"], ref_logits,
                                       known))
                continue
            known = [(a[1][name], bug_code, sentence) for a, bug_code, sentence in alts]
            if name.startswith("b"):
                known.append((by_row[name], BIAS_AXIS_CODE, BIAS_AXIS.format(
                    name=name, got=by_row[name].shape, want=ref[name].shape)))
            res = explain(compare(grads[name], f"d{name}", ref[name], tor[name], batch_size=N), grads[name],
                          ref[name], known)
            other = None if res.passed or res.code in ("transposed", BIAS_AXIS_CODE) else shape_of_another(
                name, grads[name], {k: v.shape for k, v in p.items()})
            if other:
                res.code, res.diagnosis = MIXUP, (f"d{name} has the shape of {other}: it is {other}'s gradient. Check "
                                                  "which cached input and which upstream gradient each layer uses.")
            results.append(res)
        return results
    return run


FIXED = lambda rng: (4, 6, 5, 2, False, True)  # the last image blank and b1[0] = 0
DECODER, ENCODER = ("W4", "b4", "W3", "b3"), ("W2", "b2", "W1", "b1")

AUTOENCODER = Exercise(
    key="09.autoencoder",
    title="Exercise 9.2 · backprop through the encoder and the decoder",
    functions=("autoencoder_forward", "autoencoder_backward"),
    where="the cell under 'Exercise 9.2'",
    checks=[Check("logits on a fixed batch (N, D) = (4, 6), Hd = 5, L = 2, its last image blank and b1[0] = 0", 0.5,
                  _autoencoder(("logits",), FIXED), True),
            Check("decoder gradients dW4, db4, dW3, db3 on the fixed batch", 1, _autoencoder(DECODER, FIXED), True),
            Check("encoder gradients dW2, db2, dW1, db1 on the fixed batch (some pre-activations exactly 0)", 1,
                  _autoencoder(ENCODER, FIXED), True),
            Check("logits and every gradient on random sizes (a blank image, b1[0] = 0)", 1,
                  _autoencoder(("logits",) + PARAMS, lambda r: (_size(r, 1, 6), _size(r, 3, 9), _size(r, 2, 7),
                                                                _size(r, 1, 3), False, True))),
            Check("64-pixel digits, 64-32-2-32-64, against nn.Sequential", 0.5,
                  _autoencoder(("logits",) + PARAMS, lambda r: (_size(r, 3, 8), 64, 32, 2, True)))],
)

register(LOSS, AUTOENCODER)
