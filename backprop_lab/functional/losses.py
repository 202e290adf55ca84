"""Losses and weight penalties. Each returns `(loss, grad)`: the loss as a Python float and its
gradient with respect to the prediction (or the weights), ready to start a backward pass.

Reductions are means, like torch's defaults (`reduction="mean"`), so the gradients carry the
1 / N (or 1 / number-of-elements) factor.
"""
from __future__ import annotations

import numpy as np

from .shapes import check_float, check_same_shape, check_shape


def mse_loss(pred: np.ndarray, target: np.ndarray):
    """Mean squared error, mean over every element (torch's `mse_loss`).

    Args:
        pred: predictions, any shape (*).
        target: same shape as pred.

    Returns:
        loss: float, mean((pred - target)**2).
        dpred: shape (*), 2 * (pred - target) / pred.size.
    """
    check_float("mse_loss", "pred", pred)
    check_same_shape("mse_loss", "target", target, "pred", pred)
    diff = pred - target
    return float(np.mean(diff * diff)), diff * (2 / diff.size)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    """Softmax followed by the negative log-likelihood of the true class, averaged over the batch
    (torch's `cross_entropy` with class-index targets).

    Args:
        logits: unnormalized scores, shape (N, C).
        labels: integer class indices in [0, C), shape (N,).

    Returns:
        loss: float, mean_n(-log softmax(logits[n])[labels[n]]).
        dlogits: shape (N, C), (softmax(logits) - onehot(labels)) / N.
    """
    op = "softmax_cross_entropy"
    check_float(op, "logits", logits)
    N, C = check_shape(op, "logits", logits, "N, C", hint="One row of class scores per sample.")
    labels = np.asarray(labels)
    check_shape(op, "labels", labels, "N,", (N,), match=("logits", "N, C", logits.shape),
                hint="Pass class indices (not one-hot rows).")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: labels must be integer class indices; got dtype {labels.dtype}. "
                        f"Use labels.astype(np.int64).")
    if N and (labels.min() < 0 or labels.max() >= C):
        bad = labels[(labels < 0) | (labels >= C)]
        raise ValueError(f"{op}: labels must lie in [0, C) = [0, {C}) for logits of shape (N, C) = {logits.shape}; "
                         f"got {bad[:5].tolist()}. Check the number of classes of the last layer.")
    # Log-sum-exp trick: subtracting the row maximum changes nothing mathematically but makes every
    # exponent <= 0, so exp never overflows (logits of +1000 are fine) and each row sums to >= 1
    # (its log is finite).
    shifted = logits - logits.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):  # exp(-2000) = 0 is the right answer
        exp = np.exp(shifted)
    total = exp.sum(axis=1)
    rows = np.arange(N)
    loss = float(np.mean(np.log(total) - shifted[rows, labels]))  # -log softmax at the true class
    dlogits = exp / total[:, None]  # softmax
    dlogits[rows, labels] -= 1
    dlogits /= N
    return loss, dlogits


def binary_cross_entropy_with_logits(logits: np.ndarray, targets: np.ndarray):
    """Sigmoid + binary cross-entropy in one stable step, mean over every element (torch's
    `binary_cross_entropy_with_logits`).

    Per element, -[t log s(x) + (1 - t) log(1 - s(x))] simplifies to
    max(x, 0) - x * t + log(1 + exp(-|x|)), which never overflows (logits of +-1000 are fine).

    Args:
        logits: shape (*).
        targets: probabilities in [0, 1] (usually 0/1 labels as floats), same shape.

    Returns:
        loss: float.
        dlogits: shape (*), (sigmoid(logits) - targets) / logits.size.
    """
    check_float("binary_cross_entropy_with_logits", "logits", logits)
    check_same_shape("binary_cross_entropy_with_logits", "targets", targets, "logits", logits)
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(logits))  # in (0, 1]
        per_element = np.maximum(logits, 0) - logits * targets + np.log1p(e)
        sigmoid = np.where(logits >= 0, 1, e) / (1 + e)
    return float(np.mean(per_element)), (sigmoid - targets) / logits.size


def l1_penalty(weights, weight_decay: float):
    """L1 penalty weight_decay * sum_i sum |w_i| over a list of weight arrays.

    Args:
        weights: iterable of arrays, any shapes.
        weight_decay: the coefficient (no factor 1/2 for L1).

    Returns:
        penalty: float.
        grads: list of arrays, weight_decay * sign(w) (sign(0) = 0, like torch's abs backward).
    """
    weights = list(weights)
    penalty = weight_decay * sum(float(np.abs(w).sum()) for w in weights)
    return penalty, [weight_decay * np.sign(w) for w in weights]


def l2_penalty(weights, weight_decay: float):
    """L2 penalty (weight_decay / 2) * sum_i sum w_i**2 over a list of weight arrays.

    Convention: with the factor 1/2 the gradient is exactly weight_decay * w, which is what torch's
    optimizers add to the gradient for `weight_decay=...`. So adding this penalty to the loss and
    using `SGD(weight_decay=0)` matches `SGD(weight_decay=weight_decay)` without the penalty.

    Args:
        weights: iterable of arrays, any shapes.
        weight_decay: the coefficient.

    Returns:
        penalty: float.
        grads: list of arrays, weight_decay * w.
    """
    weights = list(weights)
    penalty = weight_decay / 2 * sum(float(np.vdot(w, w)) for w in weights)
    return penalty, [weight_decay * w for w in weights]
