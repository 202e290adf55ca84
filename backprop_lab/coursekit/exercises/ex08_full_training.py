"""Notebook 08 · full training: the digits CNN by hand, shift augmentation, accuracy and confusion.

8.1 compares the learner's `cnn_forward` / `cnn_backward` (conv-relu-pool-conv-relu-pool-linear)
with the `backprop_lab.functional` layers chained by hand, with `nn.models.CNN` holding the same
weights (on real digits), and with torch autograd: scores and every parameter gradient.
8.2 checks `shift_images` and `augment` exactly against `data.shift` / `train.shift_some` and a
torch pad-and-crop twin, and separately checks that `augment` is a valid augmentation at all.
8.3 checks `accuracy` and `confusion_matrix` exactly. Letters: N batch, C channels, H/W image size,
C1/C2 filters of the two convolutions, K classes.
"""
from __future__ import annotations

import numpy as np

from backprop_lab import functional as F
from backprop_lab.gradcheck import CheckResult

from ..checking.core import Check, Exercise
from ..checking.registry import register
from ._common import close as _close
from ._common import compare, module_grads, torch_grads
from ._common import malformed as _malformed
from ._common import size as _size

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
CNN_KEYS = {"W1": "0.weight", "b1": "0.bias", "W2": "3.weight", "b2": "3.bias", "W3": "7.weight", "b3": "7.bias"}


# ----------------------------------------------------------------------------- 8.1 the CNN by hand


def _params(rng, C, C1, C2, K, H, W):
    """He-scaled weights; biases of either sign (positive b1 on digits: background pixels tie)."""
    D = C2 * (H // 4) * (W // 4)
    return {"W1": rng.standard_normal((C1, C, 3, 3)) * np.sqrt(2 / (9 * C)), "b1": 0.1 * rng.standard_normal(C1),
            "W2": rng.standard_normal((C2, C1, 3, 3)) * np.sqrt(2 / (9 * C1)), "b2": 0.1 * rng.standard_normal(C2),
            "W3": rng.standard_normal((K, D)) * np.sqrt(1 / D), "b3": 0.1 * rng.standard_normal(K)}


def _reference(params, x, dscores, flatten="C", mask=True):
    """The network from the library's functional layers; `flatten="last"` and `mask=False` give the
    results of two classic bugs (channels-last flatten, gradient passed through the ReLUs unmasked)."""
    p = params
    c1, k1 = F.conv2d_forward(x, p["W1"], p["b1"], 1, 1)
    p1, kp1 = F.maxpool2d_forward(F.relu_forward(c1)[0], 2)
    c2, k2 = F.conv2d_forward(p1, p["W2"], p["b2"], 1, 1)
    p2, kp2 = F.maxpool2d_forward(F.relu_forward(c2)[0], 2)
    order = p2 if flatten == "C" else p2.transpose(0, 2, 3, 1)
    flat = np.ascontiguousarray(order).reshape(len(x), -1)
    scores, kl = F.linear_forward(flat, p["W3"], p["b3"])
    dflat, dW3, db3 = F.linear_backward(dscores, kl)
    dp2 = dflat.reshape(order.shape)
    dp2 = dp2 if flatten == "C" else dp2.transpose(0, 3, 1, 2)
    relu = (lambda d, c: d * (c > 0)) if mask else (lambda d, c: d)
    dp1, dW2, db2 = F.conv2d_backward(relu(F.maxpool2d_backward(dp2, kp2), c2), k2)
    _, dW1, db1 = F.conv2d_backward(relu(F.maxpool2d_backward(dp1, kp1), c1), k1)
    return scores, dict(W1=dW1, b1=db1, W2=dW2, b2=db2, W3=dW3, b3=db3)


def _model_reference(params, x, dscores):
    """`nn.models.CNN` (square images) holding the same weights: forward, backward, param.grad."""
    from backprop_lab.nn.models import CNN
    N, C, H, _ = x.shape
    model = CNN(C, H, len(params["b3"]), channels=(len(params["b1"]), len(params["b2"])))
    return module_grads(model, CNN_KEYS, params, x, dscores)


def _torch(params, x, dscores):
    import torch.nn.functional as tF

    def net(x, W1, b1, W2, b2, W3, b3):
        h = tF.max_pool2d(tF.relu(tF.conv2d(x, W1, b1, padding=1)), 2)
        h = tF.max_pool2d(tF.relu(tF.conv2d(h, W2, b2, padding=1)), 2)
        return tF.linear(h.flatten(1), W3, b3)
    return torch_grads(net, {"x": x, **params}, list(PARAMS), dout=dscores)


CNN_HINTS = {
    "flatten": "this matches a flatten in (N, H', W', C2) order. Flatten the pooled maps (N, C2, H', W') "
               "with .reshape(N, -1) as they are: torch.flatten(x, 1) keeps that order, and W3's columns follow it.",
    "mask": "this matches a backward pass that lets the gradient through the ReLUs unmasked. On the way back "
            "multiply by (pre-activation > 0): dc = dr * (c > 0), at both ReLUs.",
}


def _cnn(which, case):
    """Compare `which` ("scores" and parameter names) for the batch `case(rng)` describes."""
    def run(runner, rng):
        N, C, H, W, C1, C2, K, digits = case(rng)
        params = _params(rng, C, C1, C2, K, H, W)
        if digits:
            from backprop_lab.data import load_digits
            X = load_digits()[0]
            x = X[rng.choice(len(X), N, replace=False)]
            params["b1"] = np.abs(params["b1"]) + 0.05  # background = b1 > 0 everywhere: exact ties
        else:
            x = rng.standard_normal((N, C, H, W))
        dscores = rng.standard_normal((N, K))
        ref_scores, ref = (_model_reference if digits else _reference)(params, x, dscores)
        t_scores, tor = _torch(params, x, dscores)
        got = runner.call("forward_backward", forward="cnn_forward", backward="cnn_backward",
                          args=[params, x], kwargs={}, dout=dscores)
        grads = got["grads"]
        if not (isinstance(grads, dict) and set(PARAMS) <= set(grads)):
            have = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            return _malformed("cnn_backward's result", f"cnn_backward must return a dict with the keys {list(PARAMS)} "
                              f"(one gradient per parameter); got {have}.")
        alts = {"flatten": _reference(params, x, dscores, flatten="last"),
                "mask": _reference(params, x, dscores, mask=False)}
        results = []
        for name in which:
            if name == "scores":
                candidate, r, t, alt = got["out"], ref_scores, t_scores, {k: a[0] for k, a in alts.items()}
            else:
                candidate, r, t, alt = grads[name], ref[name], tor[name], {k: a[1][name] for k, a in alts.items()}
            res = compare(candidate, name if name == "scores" else f"d{name}", r, t,
                          batch_size=N if name != "scores" else None)
            if not res.passed:
                for bug, value in alt.items():
                    if _close(candidate, value) and not _close(value, r):
                        res.diagnosis = CNN_HINTS[bug]
                        break
            results.append(res)
        return results
    return run


FIXED_CNN = lambda rng: (3, 1, 8, 8, 4, 6, 10, False)
ALL_CNN = ("scores",) + PARAMS

CNN = Exercise(
    key="08.cnn",
    title="Exercise 8.1 · the whole CNN, forward and backward",
    functions=("cnn_forward", "cnn_backward"),
    where="the cell under 'Exercise 8.1'",
    checks=[Check("scores on a fixed batch (N, C, H, W) = (3, 1, 8, 8), C1 = 4, C2 = 6, K = 10", 1,
                  _cnn(("scores",), FIXED_CNN), True),
            Check("dW3 and db3 (the linear layer) on the fixed batch", 1, _cnn(("W3", "b3"), FIXED_CNN), True),
            Check("dW2 and db2 (the second convolution) on the fixed batch", 1, _cnn(("W2", "b2"), FIXED_CNN), True),
            Check("dW1 and db1 (the first convolution) on the fixed batch", 1, _cnn(("W1", "b1"), FIXED_CNN), True),
            Check("scores and every gradient on random batches and channel counts", 1,
                  _cnn(ALL_CNN, lambda r: (_size(r, 1, 5), _size(r, 1, 3), 8, 8, _size(r, 2, 5), _size(r, 2, 6),
                                           _size(r, 2, 10), False))),
            Check("real digits with exact ties in the max-pools, against nn.models.CNN", 1,
                  _cnn(ALL_CNN, lambda r: (_size(r, 2, 6), 1, 8, 8, _size(r, 2, 6), _size(r, 2, 8), 10, True))),
            Check("odd and non-square images (pooling drops the last row or column)", 1,
                  _cnn(ALL_CNN, lambda r: (_size(r, 1, 3), 1, _size(r, 9, 11) | 1, _size(r, 8, 12), 3, 4, 5, False)))],
)

# ----------------------------------------------------------------------------- 8.2 augmentation


def _torch_shift(x, shifts):
    """Pad-and-crop twin of `data.shift`, per image: out[n, :, i, j] = x[n, :, i - dy, j - dx]."""
    import torch
    import torch.nn.functional as tF
    H, W = x.shape[2:]
    m = int(np.max(np.abs(shifts), initial=0))
    xp = tF.pad(torch.tensor(x), (m, m, m, m))
    return np.stack([xp[n, :, m - dy:m - dy + H, m - dx:m - dx + W].numpy() for n, (dy, dx) in enumerate(shifts)])


def _shift_reference(x, shifts):
    from backprop_lab.data import shift
    return np.stack([shift(x[n:n + 1], int(dy), int(dx))[0] for n, (dy, dx) in enumerate(shifts)])


def _shift_hint(res, got, x, shifts):
    if res.passed or np.shape(got) != x.shape:
        return res
    if _close(got, _shift_reference(x, -shifts), 0):
        res.diagnosis = ("the images moved the wrong way: a positive dy moves the image DOWN and a positive dx "
                         "to the RIGHT, out[n, :, i, j] = x[n, :, i - dy, j - dx].")
    elif _close(got, np.stack([np.roll(x[n], tuple(s), axis=(1, 2)) for n, s in enumerate(shifts)]), 0):
        res.diagnosis = ("the pixels that leave one side come back on the other (np.roll). A shift fills the "
                         "uncovered rows and columns with zeros: pad with zeros, then crop.")
    return res


def _shift(fixed):
    def run(runner, rng):
        if fixed:
            x = np.arange(1.0, 3 * 16 + 1).reshape(3, 1, 4, 4)
            shifts = np.array([[1, 0], [0, -1], [-1, 2]])
        else:
            N, C = _size(rng, 2, 6), _size(rng, 1, 3)
            x = rng.uniform(0.1, 1.0, (N, C, _size(rng, 4, 8), _size(rng, 4, 8)))
            shifts = rng.integers(-3, 4, size=(N, 2))
            shifts[0] = (x.shape[2], -1)  # a shift by the whole height leaves nothing
        got = runner.call("call", func="shift_images", args=[x, shifts])
        return _shift_hint(compare(got, "shift_images(x, shifts)", _shift_reference(x, shifts), _torch_shift(x, shifts),
                                   tol=0.0), got, x, shifts)
    return run


def _recipe(x, seed, p, max_shift):
    """What the recipe gives: `train.shift_some`, and the shifts it drew (for the torch twin)."""
    from backprop_lab.train import shift_some
    rng = np.random.default_rng(seed)
    chosen = rng.random(len(x)) < p
    shifts = np.zeros((len(x), 2), dtype=np.int64)
    shifts[chosen] = rng.integers(-max_shift, max_shift + 1, size=(int(chosen.sum()), 2))
    return shift_some(x, np.random.default_rng(seed), max_shift, p), shifts


def _identify(got, x, max_shift):
    """The (dy, dx) with |dy|, |dx| <= max_shift that turns each x[n] into got[n]; None where none does."""
    from backprop_lab.data import shift
    found = [None] * len(x)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            same = np.all(np.asarray(got) == shift(x, dy, dx), axis=tuple(range(1, x.ndim)))
            for n in np.flatnonzero(same):
                found[n] = found[n] or (dy, dx)
    return found


RECIPE_HINT = ("every image is a valid shift, but not the ones the recipe draws. Draw in this order from the rng "
               "you are given: chosen = rng.random(N) < p, then ONE call rng.integers(-max_shift, max_shift + 1, "
               "size=(chosen.sum(), 2)) for the chosen images, in order. The same draws as train.shift_some make "
               "runs reproducible from the seed.")


def _augment_exact(case):
    def run(runner, rng):
        x, seed, p, max_shift = case(rng)
        expected, shifts = _recipe(x, seed, p, max_shift)
        got = runner.call("augment_with_seed", func="augment", x=x, seed=seed, kwargs={"p": p, "max_shift": max_shift})
        res = compare(got["out"], f"augment(x, rng, p={p}, max_shift={max_shift})", expected,
                      _torch_shift(x, shifts), tol=0.0)
        if not res.passed and np.shape(got["out"]) == x.shape and None not in _identify(got["out"], x, max_shift):
            res.diagnosis = RECIPE_HINT
        return res
    return run


def _augment_valid(runner, rng):
    """Properties any correct augmentation has, whatever order it draws in."""
    N, p, m = 500, 0.5, 2
    x = rng.uniform(0.1, 1.0, (N, 1, 6, 6))
    got = runner.call("augment_with_seed", func="augment", x=x, seed=int(rng.integers(2**31)),
                      kwargs={"p": p, "max_shift": m})
    out = np.asarray(got["out"], dtype=float) if np.shape(got["out"]) == x.shape else None
    name, problem = f"augment on {N} images, p = {p}, max_shift = {m}", None
    found = None if out is None else _identify(out, x, m)
    if out is None:
        problem = f"augment must return the images' shape {x.shape}, got {np.shape(got['out'])}."
    elif not np.array_equal(got["x_after"], x):
        problem = "augment changed its input x in place; return a new array (np.zeros_like / copies)."
    elif None in found:
        problem = (f"{found.count(None)} of the {N} images are not a zero-filled shift of their input by at most "
                   f"max_shift = {m} pixels (or the input itself).")
    else:
        unchanged = sum(f == (0, 0) for f in found) / N
        expect = (1 - p) + p / (2 * m + 1) ** 2
        dys, dxs = {f[0] for f in found}, {f[1] for f in found}
        if not {-m, m} <= dys or not {-m, m} <= dxs:
            problem = (f"no image was shifted by +{m} (or -{m}) along some axis: rng.integers(low, high) "
                       "excludes high, so use rng.integers(-max_shift, max_shift + 1).")
        elif abs(unchanged - expect) > 0.12:
            problem = (f"{unchanged:.0%} of the images came back unchanged; with p = {p} about {expect:.0%} should "
                       f"(the 1 - p not chosen, plus the chosen ones that drew the offset (0, 0)).")
    return CheckResult(name, problem is None, 0.0 if problem is None else np.inf,
                       against="the properties of a random shift", diagnosis=problem)


def _digits_batch(rng, n):
    from backprop_lab.data import load_digits
    X = load_digits()[0]
    return X[rng.choice(len(X), n, replace=False)]


AUGMENT = Exercise(
    key="08.augment",
    title="Exercise 8.2 · shift augmentation",
    functions=("shift_images", "augment"),
    where="the cell under 'Exercise 8.2'",
    checks=[Check("shift_images on three fixed 4x4 images", 1, _shift(True), True),
            Check("augment(x, default_rng(0)) on 12 digits reproduces the recipe", 1,
                  _augment_exact(lambda rng: (_digits_batch(np.random.default_rng(8), 12), 0, 0.5, 1)), True),
            Check("shift_images on random batches and shifts, including one off the image", 1, _shift(False)),
            Check("augment is a valid random shift (offsets, rate, input untouched)", 1, _augment_valid),
            Check("augment reproduces the recipe for random seeds, p and max_shift", 1,
                  _augment_exact(lambda rng: (_digits_batch(rng, 40), int(rng.integers(2**31)),
                                              float(rng.choice([0.3, 0.7, 1.0])), _size(rng, 1, 2))))],
)

# ----------------------------------------------------------------------------- 8.3 metrics


def _accuracy(case):
    def run(runner, rng):
        N, K = case(rng)
        scores, labels = rng.standard_normal((N, K)), rng.integers(0, K, N)
        labels[: N // 2] = scores[: N // 2].argmax(axis=1)  # about half right: not 0, not 1
        import torch
        t = float((torch.tensor(scores).argmax(1) == torch.tensor(labels)).double().mean())
        got = runner.call("call", func="accuracy", args=[scores, labels])
        res = compare(got, "accuracy(scores, labels)", np.mean(scores.argmax(axis=1) == labels), t)
        if not res.passed and isinstance(got, (int, float)) and np.isfinite(got):
            if np.isclose(got, t * N):
                res.diagnosis = "this is the NUMBER of correct predictions; divide by N for the fraction."
            elif np.isclose(got, 100 * t):
                res.diagnosis = "this is a percentage; return the fraction in [0, 1]."
        return res
    return run


def _confusion(case):
    def run(runner, rng):
        N, K, C = case(rng)  # labels in 0..K-1, num_classes C >= K
        y_true, y_pred = rng.integers(0, K, N), rng.integers(0, K, N)
        y_pred[: N // 2] = y_true[: N // 2]
        pairs = np.zeros((K, K), dtype=int)
        np.add.at(pairs, (y_true, y_pred), 1)
        if np.array_equal(pairs, pairs.T):  # a symmetric matrix would hide swapped rows and columns
            y_true, y_pred = np.append(y_true, 0), np.append(y_pred, K - 1)
        import torch

        from backprop_lab.plots import confusion_matrix
        t = torch.bincount(torch.tensor(y_true * C + y_pred), minlength=C * C).reshape(C, C).numpy()
        got = runner.call("call", func="confusion_matrix", args=[y_true, y_pred, C])
        res = compare(got, f"confusion_matrix(y_true, y_pred, num_classes={C})", confusion_matrix(y_true, y_pred, C), t)
        if not res.passed and np.shape(got) == (C, C) and _close(np.transpose(got), t, 0):
            res.diagnosis = ("rows and columns are swapped: row i counts the examples whose TRUE class is i, "
                             "column j those PREDICTED as j (scikit-learn's layout).")
        elif not res.passed and np.shape(got) != (C, C):
            res.diagnosis = (f"the matrix must be (num_classes, num_classes) = ({C}, {C}) even when some classes "
                             f"never occur; got shape {np.shape(got)}.")
        return res
    return run


METRICS = Exercise(
    key="08.metrics",
    title="Exercise 8.3 · accuracy and the confusion matrix",
    functions=("accuracy", "confusion_matrix"),
    where="the cell under 'Exercise 8.3'",
    checks=[Check("accuracy of fixed scores (N, K) = (8, 4)", 0.5, _accuracy(lambda r: (8, 4)), True),
            Check("confusion_matrix of 20 fixed labels, 4 classes", 0.5, _confusion(lambda r: (20, 4, 4)), True),
            Check("accuracy of random scores", 0.5, _accuracy(lambda r: (_size(r, 5, 60), _size(r, 2, 10)))),
            Check("confusion_matrix of random labels", 0.5,
                  _confusion(lambda r: (_size(r, 60, 200), 10, 10))),
            Check("confusion_matrix when the last classes never occur", 1,
                  _confusion(lambda r: (_size(r, 5, 30), _size(r, 2, 4), _size(r, 5, 7))))],
)

register(CNN, AUGMENT, METRICS)
