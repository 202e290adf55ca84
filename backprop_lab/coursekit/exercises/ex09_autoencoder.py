"""Notebook 09 · an autoencoder (bonus): the reconstruction loss through a sigmoid, and the backward
pass of an encoder-decoder MLP.

9.1 compares the learner's `sigmoid_mse_loss` with the library's sigmoid and mse_loss chained by hand
and with torch (``mse_loss(sigmoid(z), x)``). 9.2 compares `autoencoder_forward` / `autoencoder_backward`
(D -> Hd -> L -> Hd -> D, ReLU after the first and third linear layers, logits out) with the library's
functional layers, with an `nn.Sequential` holding the same weights, and with torch autograd.
Letters: N batch, D pixels, Hd hidden units, L code size.
"""
from __future__ import annotations

import numpy as np

from backprop_lab import functional as F

from ..checking.core import Check, Exercise
from ..checking.registry import register
from ._common import close as _close
from ._common import compare, module_grads, torch_grads
from ._common import malformed as _malformed
from ._common import size as _size

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")
SEQ_KEYS = dict(zip(PARAMS, ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias", "5.weight", "5.bias"]))


# ----------------------------------------------------------------------------- 9.1 the loss


def _loss_reference(z, x, chain=True):
    """sigmoid, then mse_loss, from the library; `chain=False` leaves out sigmoid' (a classic bug)."""
    s, cache = F.sigmoid_forward(z)
    loss, ds = F.mse_loss(s, x)
    return loss, (F.sigmoid_backward(ds, cache) if chain else ds)


def _loss(which, make):
    def run(runner, rng):
        z, x = make(rng)
        import torch.nn.functional as tF
        loss, dz = _loss_reference(z, x)
        t_loss, t = torch_grads(lambda z, x: tF.mse_loss(z.sigmoid(), x), {"z": z, "x": x}, ["z"])
        got = runner.call("call", func="sigmoid_mse_loss", args=[z, x])
        if not (isinstance(got, list) and len(got) == 2):
            return _malformed("sigmoid_mse_loss(...)", "sigmoid_mse_loss must return a pair (loss, dlogits); "
                              f"got {type(got).__name__}.")
        results = []
        for name in which:
            if name == "loss":
                results.append(compare(got[0], "loss", loss, t_loss))
                continue
            res = compare(got[1], "dlogits", dz, t["z"])
            if not res.passed and _close(got[1], _loss_reference(z, x, chain=False)[1]):
                res.diagnosis = ("this is dL/d(reconstruction), the gradient with respect to the sigmoid's OUTPUT. "
                                 "The chain rule continues through the sigmoid: multiply by s * (1 - s).")
            elif not res.passed and _close(got[1], dz * z.shape[1]):
                res.diagnosis = (f"too large by a factor of D = {z.shape[1]}: the loss is the mean over all N * D "
                                 "pixels (like torch's mse_loss), so divide by z.size, not by N.")
            results.append(res)
        return results
    return run


def _pixels(shape):
    """Logits around 0 and targets in [0, 1], like digit pixels."""
    def make(rng):
        s = shape(rng)
        return 2.0 * rng.standard_normal(s), rng.uniform(0.0, 1.0, s)
    return make


def _extreme(rng):
    """Half the logits moderate, half of size 50 to 800 (exp overflows beyond 709); targets 0 or 1."""
    s = (_size(rng, 2, 5), _size(rng, 4, 8))
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
            Check("loss and dlogits on random batches", 1,
                  _loss(("loss", "dlogits"), _pixels(lambda r: (_size(r, 1, 8), _size(r, 2, 64))))),
            Check("saturated outputs: logits up to ±800, targets 0 or 1", 0.5, _loss(("loss", "dlogits"), _extreme))],
)

# ----------------------------------------------------------------------------- 9.2 the autoencoder


def _params(rng, D, Hd, L):
    he = lambda fan_in, shape: rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    return {"W1": he(D, (Hd, D)), "b1": 0.1 * rng.standard_normal(Hd), "W2": he(Hd, (L, Hd)),
            "b2": 0.1 * rng.standard_normal(L), "W3": he(L, (Hd, L)), "b3": 0.1 * rng.standard_normal(Hd),
            "W4": he(Hd, (D, Hd)), "b4": 0.1 * rng.standard_normal(D)}


def _reference(p, x, dlogits, mask=True):
    """The library's linear and relu layers, chained; `mask=False`: gradients pass the ReLUs unmasked."""
    a1, k1 = F.linear_forward(x, p["W1"], p["b1"])
    code, k2 = F.linear_forward(np.maximum(a1, 0), p["W2"], p["b2"])
    a3, k3 = F.linear_forward(code, p["W3"], p["b3"])
    logits, k4 = F.linear_forward(np.maximum(a3, 0), p["W4"], p["b4"])
    g = {}
    dh2, g["W4"], g["b4"] = F.linear_backward(dlogits, k4)
    dcode, g["W3"], g["b3"] = F.linear_backward(dh2 * (a3 > 0) if mask else dh2, k3)
    dh1, g["W2"], g["b2"] = F.linear_backward(dcode, k2)
    _, g["W1"], g["b1"] = F.linear_backward(dh1 * (a1 > 0) if mask else dh1, k1)
    return logits, g


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


MASK_HINT = ("this matches a backward pass that lets the gradient through the ReLUs unmasked. Multiply by "
             "(pre-activation > 0) on the way back, in the decoder AND in the encoder.")


def _autoencoder(which, case):
    def run(runner, rng):
        N, D, Hd, L, digits = case(rng)
        p = _params(rng, D, Hd, L)
        if digits:
            from backprop_lab.data import load_digits
            X = load_digits(flatten=True)[0]
            x = X[rng.choice(len(X), N, replace=False)]
        else:
            x = rng.uniform(0.0, 1.0, (N, D))
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
        unmasked = _reference(p, x, dlogits, mask=False)[1]
        results = []
        for name in which:
            if name == "logits":
                results.append(compare(got["out"], "logits", ref_logits, t_logits))
                continue
            res = compare(grads[name], f"d{name}", ref[name], tor[name], batch_size=N)
            if not res.passed and _close(grads[name], unmasked[name]) and not _close(unmasked[name], ref[name]):
                res.diagnosis = MASK_HINT
            results.append(res)
        return results
    return run


FIXED = lambda rng: (4, 6, 5, 2, False)
DECODER, ENCODER = ("W4", "b4", "W3", "b3"), ("W2", "b2", "W1", "b1")

AUTOENCODER = Exercise(
    key="09.autoencoder",
    title="Exercise 9.2 · backprop through the encoder and the decoder",
    functions=("autoencoder_forward", "autoencoder_backward"),
    where="the cell under 'Exercise 9.2'",
    checks=[Check("logits on a fixed batch (N, D) = (4, 6), Hd = 5, L = 2", 0.5,
                  _autoencoder(("logits",), FIXED), True),
            Check("decoder gradients dW4, db4, dW3, db3 on the fixed batch", 1, _autoencoder(DECODER, FIXED), True),
            Check("encoder gradients dW2, db2, dW1, db1 on the fixed batch", 1, _autoencoder(ENCODER, FIXED), True),
            Check("logits and every gradient on random sizes", 1,
                  _autoencoder(("logits",) + PARAMS, lambda r: (_size(r, 1, 6), _size(r, 3, 9), _size(r, 2, 7),
                                                                _size(r, 1, 3), False))),
            Check("64-pixel digits, 64-32-2-32-64, against nn.Sequential", 0.5,
                  _autoencoder(("logits",) + PARAMS, lambda r: (_size(r, 3, 8), 64, 32, 2, True)))],
)

register(LOSS, AUTOENCODER)
