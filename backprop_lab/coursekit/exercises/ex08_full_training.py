"""Notebook 08 · full training: the digits CNN by hand, shift augmentation, accuracy and confusion.

8.1 compares the learner's `cnn_forward` / `cnn_backward` (conv-relu-pool-conv-relu-pool-linear)
with the `backprop_lab.functional` layers chained by hand, with `nn.models.CNN` holding the same
weights (on real digits), and with torch autograd: scores and every parameter gradient. The fixed and the
random batches have a blank image and b1[0] = 0, so that some first-layer pre-activations are exactly 0 and
relu'(0) = 0 is graded.
8.2 checks `shift_images` and `augment` exactly against `data.shift` / `train.shift_some` and a
torch pad-and-crop twin, and separately checks that `augment` is a valid augmentation at all.
8.3 checks `accuracy` and `confusion_matrix` exactly. Letters: N batch, C channels, H/W image size,
C1/C2 filters of the two convolutions, K classes.
"""
from __future__ import annotations

import numpy as np

from backprop_lab import functional as F
from backprop_lab.gradcheck import CheckResult

from ..checking.core import Check, CheckTimeout, Exercise, ForbiddenUse, NotAttempted, StudentCodeError
from ..checking.diagnoses import register as code
from ..checking.registry import register
from ._common import blank_last, compare, explain, module_grads, shape_of_another, torch_grads
from ._common import malformed as _malformed
from ._common import size as _size
from .ex08_augment import augment_exact, augment_valid, digits_batch, shift_check

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
CNN_KEYS = {"W1": "0.weight", "b1": "0.bias", "W2": "3.weight", "b2": "3.bias", "W3": "7.weight", "b3": "7.bias"}


# ----------------------------------------------------------------------------- 8.1 the CNN by hand


def _params(rng, C, C1, C2, K, H, W):
    """He-scaled weights; biases of either sign (positive b1 on digits: background pixels tie)."""
    D = C2 * (H // 4) * (W // 4)
    return {"W1": rng.standard_normal((C1, C, 3, 3)) * np.sqrt(2 / (9 * C)), "b1": 0.1 * rng.standard_normal(C1),
            "W2": rng.standard_normal((C2, C1, 3, 3)) * np.sqrt(2 / (9 * C1)), "b2": 0.1 * rng.standard_normal(C2),
            "W3": rng.standard_normal((K, D)) * np.sqrt(1 / D), "b3": 0.1 * rng.standard_normal(K)}


def _reference(params, x, dscores, flatten="C", masks=("step", "step"), relu=(True, True), bias3=True):
    """The network from the library's functional layers. The options give the results of classic bugs:
    `flatten="last"` (channels-last flatten), `masks` per ReLU on the way back ("step" = 1[c > 0], "none" =
    unmasked, "values" = times the ReLU's output, "ge" = 1[c >= 0], relu'(0) = 1), `relu` per ReLU in the
    forward pass, `bias3=False`."""
    p = params
    act = lambda c, on: F.relu_forward(c)[0] if on else c
    c1, k1 = F.conv2d_forward(x, p["W1"], p["b1"], 1, 1)
    p1, kp1 = F.maxpool2d_forward(act(c1, relu[0]), 2)
    c2, k2 = F.conv2d_forward(p1, p["W2"], p["b2"], 1, 1)
    p2, kp2 = F.maxpool2d_forward(act(c2, relu[1]), 2)
    order = p2 if flatten == "C" else p2.transpose(0, 2, 3, 1)
    flat = np.ascontiguousarray(order).reshape(len(x), -1)
    scores, kl = F.linear_forward(flat, p["W3"], p["b3"] if bias3 else np.zeros_like(p["b3"]))
    dflat, dW3, db3 = F.linear_backward(dscores, kl)
    dp2 = dflat.reshape(order.shape)
    dp2 = dp2 if flatten == "C" else dp2.transpose(0, 3, 1, 2)
    back = {"step": lambda d, c: d * (c > 0), "none": lambda d, c: d, "values": lambda d, c: d * np.maximum(c, 0),
            "ge": lambda d, c: d * (c >= 0)}
    dp1, dW2, db2 = F.conv2d_backward(back[masks[1]](F.maxpool2d_backward(dp2, kp2), c2), k2)
    _, dW1, db1 = F.conv2d_backward(back[masks[0]](F.maxpool2d_backward(dp1, kp1), c1), k1)
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


MASK = ("this matches a backward pass that lets the gradient through {} unmasked. On the way back multiply by "
        "(pre-activation > 0): dc = dr * (c > 0), at both ReLUs.")
AT_ZERO = ("this matches a ReLU mask written with >= 0: {} passes the gradient where its pre-activation is exactly 0 "
           "(the blank image with b1[0] = 0 makes c1 exactly 0 in channel 0). relu'(0) is 0, in torch and in the "
           "reference: multiply by (c > 0), not (c >= 0).")
CNN_BUGS = [  # (options of _reference, code, meaning, sentence)
    ({"flatten": "last"}, "08.cnn-flatten-order", "the pooled maps are flattened channels-last",
     "this matches a flatten in (N, H', W', C2) order. Flatten the pooled maps (N, C2, H', W') with .reshape(N, -1) "
     "as they are: torch.flatten(x, 1) keeps that order, and W3's columns follow it."),
    ({"masks": ("step", "none")}, "08.cnn-relu-not-masked", "the gradient passes a ReLU unmasked",
     MASK.format("the second ReLU")),
    ({"masks": ("none", "step")}, "08.cnn-relu-not-masked", "", MASK.format("the first ReLU")),
    ({"masks": ("none", "none")}, "08.cnn-relu-not-masked", "", MASK.format("both ReLUs")),
    ({"masks": ("step", "values")}, "08.cnn-relu-mask", "the gradient is multiplied by the ReLU's output instead "
     "of its derivative", "you multiplied by the second ReLU's OUTPUT, max(c2, 0); its derivative is the mask "
     "1[c2 > 0]."),
    ({"masks": ("values", "step")}, "08.cnn-relu-mask", "", "you multiplied by the first ReLU's OUTPUT, "
     "max(c1, 0); its derivative is the mask 1[c1 > 0]."),
    ({"masks": ("values", "values")}, "08.cnn-relu-mask", "", "you multiplied by the ReLUs' OUTPUTS, max(c, 0); "
     "their derivative is the mask 1[c > 0]."),
    ({"masks": ("ge", "step")}, "08.cnn-relu-grad-at-zero", "a ReLU passes the gradient where its pre-activation "
     "is exactly 0 (c >= 0 instead of c > 0): relu'(0) is 0", AT_ZERO.format("the first ReLU")),
    ({"masks": ("step", "ge")}, "08.cnn-relu-grad-at-zero", "", AT_ZERO.format("the second ReLU")),
    ({"masks": ("ge", "ge")}, "08.cnn-relu-grad-at-zero", "", AT_ZERO.format("each ReLU")),
    ({"relu": (False, True)}, "08.cnn-relu-missing", "a ReLU is missing from the forward pass",
     "the scores match a network without the first ReLU: apply max(c1, 0) before the first max-pool."),
    ({"relu": (True, False)}, "08.cnn-relu-missing", "", "the scores match a network without the second ReLU: "
     "apply max(c2, 0) before the second max-pool."),
    ({"bias3": False}, "08.cnn-linear-bias-missing", "the linear layer's bias b3 is not added to the scores",
     "the scores lack the linear layer's bias: scores = flat @ W3.T + b3."),
]
for _, bug_code, meaning, _ in CNN_BUGS:
    if meaning:
        code(bug_code, meaning)
MIXUP = code("08.cnn-layer-mixup", "a parameter's gradient has the shape of another parameter (layers mixed up)")


def _cnn(which, case):
    """Compare `which` ("scores" and parameter names) for the batch `case(rng)` describes."""
    def run(runner, rng):
        N, C, H, W, C1, C2, K, digits, *blank = case(rng)
        params = _params(rng, C, C1, C2, K, H, W)
        if digits:
            from backprop_lab.data import load_digits
            X = load_digits()[0]
            x = X[rng.choice(len(X), N, replace=False)]
            params["b1"] = np.abs(params["b1"]) + 0.05  # background = b1 > 0 everywhere: exact ties
        else:
            x = rng.standard_normal((N, C, H, W))
        if blank and blank[0]:  # c1 = 0 exactly in channel 0 of a blank image: where relu'(0) = 0 shows (in db1)
            x = blank_last(x, params)
            N = len(x)
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
        alts = [(_reference(params, x, dscores, **options), bug_code, sentence)
                for options, bug_code, _, sentence in CNN_BUGS]
        results = []
        for name in which:
            if name == "scores":
                candidate, r, t = got["out"], ref_scores, t_scores
                known = [(a[0], bug_code, sentence) for a, bug_code, sentence in alts]
            else:
                candidate, r, t = grads[name], ref[name], tor[name]
                known = [(a[1][name], bug_code, sentence) for a, bug_code, sentence in alts]
            res = explain(compare(candidate, name if name == "scores" else f"d{name}", r, t,
                                  batch_size=N if name != "scores" else None), candidate, r, known)
            other = None if name == "scores" or res.passed or res.code == "transposed" else shape_of_another(
                name, candidate, {k: np.shape(v) for k, v in params.items()})
            if other:
                res.code, res.diagnosis = MIXUP, (f"d{name} has the shape of {other}: it is {other}'s gradient. "
                                                  f"Check which cache and which upstream gradient go into each "
                                                  f"layer's backward.")
            results.append(res)
        return results
    return run


FIXED_CNN = lambda rng: (3, 1, 8, 8, 4, 6, 10, False, True)  # the last image blank and b1[0] = 0
ALL_CNN = ("scores",) + PARAMS

CNN = Exercise(
    key="08.cnn",
    title="Exercise 8.1 · the whole CNN, forward and backward",
    functions=("cnn_forward", "cnn_backward"),
    where="the cell under 'Exercise 8.1'",
    checks=[Check("scores on a fixed batch (N, C, H, W) = (3, 1, 8, 8), C1 = 4, C2 = 6, K = 10, its last image blank "
                  "and b1[0] = 0", 1,
                  _cnn(("scores",), FIXED_CNN), True),
            Check("dW3 and db3 (the linear layer) on the fixed batch", 1, _cnn(("W3", "b3"), FIXED_CNN), True),
            Check("dW2 and db2 (the second convolution) on the fixed batch", 1, _cnn(("W2", "b2"), FIXED_CNN), True),
            Check("dW1 and db1 (the first convolution) on the fixed batch (some pre-activations exactly 0)", 1,
                  _cnn(("W1", "b1"), FIXED_CNN), True),
            Check("scores and every gradient on a fixed odd, non-square batch (N, C, H, W) = (2, 1, 9, 12)", 0.5,
                  _cnn(ALL_CNN, lambda rng: (2, 1, 9, 12, 3, 4, 5, False)), True),
            Check("scores and every gradient on random batches and channel counts (a blank image, b1[0] = 0)", 1,
                  _cnn(ALL_CNN, lambda r: (_size(r, 1, 5), _size(r, 1, 3), 8, 8, _size(r, 2, 5), _size(r, 2, 6),
                                           _size(r, 2, 10), False, True))),
            Check("real digits with exact ties in the max-pools, against nn.models.CNN", 1,
                  _cnn(ALL_CNN, lambda r: (_size(r, 2, 6), 1, 8, 8, _size(r, 2, 6), _size(r, 2, 8), 10, True))),
            Check("odd and non-square images (pooling drops the last row or column)", 0.5,
                  _cnn(ALL_CNN, lambda r: (_size(r, 1, 3), 1, _size(r, 9, 11) | 1, _size(r, 8, 12), 3, 4, 5, False)))],
)

# ----------------------------------------------------------------------------- 8.2 augmentation

AUGMENT = Exercise(
    key="08.augment",
    title="Exercise 8.2 · shift augmentation",
    functions=("shift_images", "augment"),
    where="the cell under 'Exercise 8.2'",
    checks=[Check("shift_images on three fixed 4x4 images", 1, shift_check(True), True),
            Check("augment(x, default_rng(0)) on 12 digits reproduces the recipe and leaves x unchanged", 1,
                  augment_exact(lambda rng: (digits_batch(np.random.default_rng(8), 12), 0, 0.5, 1)), True),
            Check("shift_images on random batches and shifts, including one off the image", 1, shift_check(False)),
            Check("augment is a valid random shift (offsets, rate, input untouched)", 1, augment_valid),
            Check("augment reproduces the recipe for random seeds, p and max_shift", 1,
                  augment_exact(lambda rng: (digits_batch(rng, 40), int(rng.integers(2**31)),
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
        axis0 = (f"scores.argmax(axis=0) runs over the batch axis: it gives one index per CLASS, shape ({K},), not one "
                 f"prediction per example. Take the argmax over the classes of each row, scores.argmax(axis=1), shape "
                 f"({N},), and compare that with the labels.")
        try:
            got = runner.call("call", func="accuracy", args=[scores, labels])
        except (NotAttempted, CheckTimeout, ForbiddenUse):
            raise
        except StudentCodeError as exc:  # a (K,) vector against the (N,) labels: numpy names both shapes
            if N == K or "broadcast" not in exc.message or f"({K},)" not in exc.message:
                raise
            raise StudentCodeError(f"{exc.message} ({axis0})", exc.student_traceback,
                                   METRIC["accuracy-argmax-wrong-axis"]) from None
        res = compare(got, "accuracy(scores, labels)", np.mean(scores.argmax(axis=1) == labels), t)
        known = [(t * N, METRIC["accuracy-count"], "this is the NUMBER of correct predictions; divide by N for the "
                  "fraction."),
                 (100 * t, METRIC["accuracy-percent"], "this is a percentage; return the fraction in [0, 1].")]
        if N == K:  # then argmax(axis=0) has the labels' shape, and only its value shows it
            known.append((np.mean(scores.argmax(axis=0) == labels), METRIC["accuracy-argmax-wrong-axis"], axis0))
        return explain(res, got, t, known)
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
        name = f"confusion_matrix(y_true, y_pred, num_classes={C})"
        res = compare(got, name, confusion_matrix(y_true, y_pred, C), t)
        once = np.zeros((C, C))
        once[y_true, y_pred] += 1  # what numpy's buffered += gives: a repeated pair counts once
        res = explain(res, got, t, [
            (t.T, METRIC["confusion-transposed"], "rows and columns are swapped: row i counts the examples whose TRUE "
             "class is i, column j those PREDICTED as j (scikit-learn's layout)."),
            (once, METRIC["confusion-buffered-add"], "every (true, predicted) pair was counted at most once: "
             "cm[y_true, y_pred] += 1 is numpy's BUFFERED +=, which applies a repeated index pair only once. Use "
             "np.add.at(cm, (y_true, y_pred), 1), or a loop.")], tol=0)
        if not res.passed and np.shape(got) != (C, C):
            res.code, res.diagnosis = METRIC["confusion-size-from-data"], (
                f"the matrix must be (num_classes, num_classes) = ({C}, {C}) even when some classes never occur "
                f"in the data; got shape {np.shape(got)}. Size it from num_classes, not from the labels.")
        if res.passed and not np.issubdtype(np.asarray(got).dtype, np.integer):
            res = CheckResult(name, False, 0.0, against="an integer array", code=METRIC["confusion-not-integer"],
                              diagnosis=f"the counts are right but of dtype {np.asarray(got).dtype}; return an "
                                        "integer array (np.zeros(..., dtype=np.int64)): counts are whole numbers.")
        return res
    return run


METRICS = Exercise(
    key="08.metrics",
    title="Exercise 8.3 · accuracy and the confusion matrix",
    functions=("accuracy", "confusion_matrix"),
    where="the cell under 'Exercise 8.3'",
    checks=[Check("accuracy of fixed scores (N, K) = (8, 4)", 0.5, _accuracy(lambda r: (8, 4)), True),
            Check("confusion_matrix of 20 fixed labels, 4 classes", 0.5, _confusion(lambda r: (20, 4, 4)), True),
            Check("confusion_matrix of 12 fixed labels of classes 0..2, num_classes = 5", 0.5,
                  _confusion(lambda r: (12, 3, 5)), True),
            Check("accuracy of random scores", 0.5, _accuracy(lambda r: (_size(r, 5, 60), _size(r, 2, 10)))),
            Check("confusion_matrix of random labels", 0.5,
                  _confusion(lambda r: (_size(r, 60, 200), 10, 10))),
            Check("confusion_matrix when the last classes never occur", 0.5,
                  _confusion(lambda r: (_size(r, 5, 30), _size(r, 2, 4), _size(r, 5, 7))))],
)

METRIC = {k: code(f"08.{k}", meaning) for k, meaning in {
    "accuracy-count": "accuracy returns the number of correct predictions instead of the fraction",
    "accuracy-percent": "accuracy returns a percentage instead of a fraction",
    "accuracy-argmax-wrong-axis": "the argmax runs over the batch axis (axis 0), one index per class, instead of over "
                                  "each row's classes (axis 1)",
    "confusion-transposed": "the confusion matrix has predicted classes in rows and true classes in columns",
    "confusion-buffered-add": "cm[y_true, y_pred] += 1 counts each repeated (true, predicted) pair only once",
    "confusion-size-from-data": "the confusion matrix is sized from the labels present, not from num_classes",
    "confusion-not-integer": "the confusion matrix holds floats instead of integer counts",
}.items()}

register(CNN, AUGMENT, METRICS)
