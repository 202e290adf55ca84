"""Plots for the course: learning curves, gradient flow, activations, decision boundaries, errors.

Every function draws into the Axes it is given (or a new figure) and returns what it drew on;
none calls ``plt.show()``, so they work the same in a notebook, a script or a headless test.

    from backprop_lab import plots
    plots.plot_history({"numpy": hist, "torch": torch_hist})   # overlaid learning curves
    plots.plot_gradient_flow(model)                              # after a backward pass
    plots.plot_confusion_matrix(y_test, train.predict(model, X_test))
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from .arrays import to_numpy

__all__ = [
    "plot_history", "plot_gradient_flow", "plot_activation_histograms", "plot_decision_boundary",
    "confusion_matrix", "plot_confusion_matrix", "show_misclassified",
]

# Several histories on one plot: the same data would hide each other, so later ones get markers.
_MARKERS = ("", "x", "+", ".", "1", "2")


# ---- learning curves ----------------------------------------------------------------------
def _histories(history, labels) -> list[tuple[str | None, dict]]:
    """Normalize the ways of passing histories to [(label, dict of lists)]."""
    if isinstance(history, Mapping) and "train_loss" not in history:
        items = list(history.items())  # {"numpy": h1, "torch": h2}
    else:
        many = isinstance(history, (list, tuple))
        items = [(None, h) for h in (history if many else [history])]
    if labels is not None:
        if len(labels) != len(items):
            raise ValueError(f"got {len(labels)} labels for {len(items)} histories")
        items = [(lab, h) for lab, (_, h) in zip(labels, items)]
    out = []
    for label, h in items:
        d = h.as_dict() if hasattr(h, "as_dict") else dict(h)
        out.append((label if label is not None else d.get("label"), d))
    return out


def plot_history(history, ax=None, labels=None):
    """Loss and accuracy per epoch, train (solid) vs validation (dashed).

    Args:
        history: a `train.History` (or its `as_dict()`), a list of them, or a dict
            ``{label: history}`` to overlay several runs (e.g. numpy vs torch).
        ax: None (new figure with two panels), a pair of Axes (loss, accuracy), or one Axes
            (loss only).
        labels: legend names for a list of histories (default: each history's `label`).

    Returns:
        The Axes drawn on: an array (loss, accuracy), or the single Axes that was given.
    """
    runs = _histories(history, labels)
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    else:
        axes = np.atleast_1d(ax)
    panels = [("loss", "train_loss", "val_loss"), ("accuracy", "train_acc", "val_acc")]
    for i, (label, d) in enumerate(runs):
        color = f"C{i}"
        marker = _MARKERS[i % len(_MARKERS)]
        width = 2.0 if i == 0 else 1.2
        name = f"{label} " if label else ""
        for a, (_, train_key, val_key) in zip(axes, panels):
            for key, style, part in ((train_key, "-", "train"), (val_key, "--", "val")):
                values = d.get(key) or []
                if len(values):
                    epochs = np.arange(1, len(values) + 1)
                    a.plot(epochs, values, style, color=color, marker=marker, lw=width,
                           label=f"{name}{part}")
    for a, (title, _, _) in zip(axes, panels):
        a.set_xlabel("epoch")
        a.set_ylabel(title)
        a.set_title(title)
        a.grid(alpha=0.3)
        if a.lines:
            a.legend(fontsize="small")
    if len(axes) > 1 and axes[0].lines:
        losses = [v for line in axes[0].lines for v in line.get_ydata()]
        if min(losses) > 0 and max(losses) / min(losses) > 20:
            axes[0].set_yscale("log")  # losses span decades: a linear axis flattens the tail
    return axes if (ax is None or np.ndim(ax) > 0) else axes[0]


# ---- gradient flow ------------------------------------------------------------------------
_STATS = {
    "norm": lambda g: float(np.linalg.norm(g)),
    "std": lambda g: float(np.std(g)),
    "mean_abs": lambda g: float(np.mean(np.abs(g))),
    "max_abs": lambda g: float(np.max(np.abs(g))),
}


def _named_grads(grads) -> list[tuple[str, np.ndarray]]:
    if hasattr(grads, "named_parameters"):  # a backprop_lab or torch module
        return [(n, to_numpy(p.grad)) for n, p in grads.named_parameters() if p.grad is not None]
    items = grads.items() if isinstance(grads, Mapping) else grads
    return [(n, to_numpy(g)) for n, g in items]


def plot_gradient_flow(grads, ax=None, stats=("norm", "std"), include_bias: bool = False,
                       label: str | None = None):
    """Per-layer gradient statistics on a log scale: does the gradient reach the first layers?

    Vanishing gradients show as a line falling toward the input (left); exploding ones as a
    line rising toward it. Call it after a backward pass.

    Args:
        grads: a model (`backprop_lab.nn` or torch; uses each ``param.grad``), a dict
            ``{name: grad array}``, or a list of (name, grad) pairs, in layer order.
        ax: Axes to draw on (new figure if None). Several calls on one Axes overlay runs.
        stats: any of "norm" (L2 norm), "std", "mean_abs", "max_abs"; one line each.
        include_bias: also plot parameters whose name ends in "bias" (off: biases start at
            zero and their gradients follow the weights').
        label: prefix for the legend, e.g. "sigmoid + Xavier".

    Returns:
        The Axes.
    """
    named = _named_grads(grads)
    if not include_bias:
        named = [(n, g) for n, g in named if not n.endswith("bias")]
    if not named:
        raise ValueError("no gradients to plot: run a backward pass first (or include_bias=True)")
    stats = (stats,) if isinstance(stats, str) else tuple(stats)
    unknown = [s for s in stats if s not in _STATS]
    if unknown:
        raise ValueError(f"unknown stats {unknown}; choose from {sorted(_STATS)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(named) + 2), 3.8), layout="constrained")
    x = np.arange(len(named))
    start = len(ax.lines)  # keep colours distinct when overlaying several calls
    tiny = np.finfo(np.float64).tiny  # an exactly-zero gradient still gets a point on a log axis
    for i, stat in enumerate(stats):
        values = np.array([_STATS[stat](g) if g.size else 0.0 for _, g in named])
        ax.plot(x, np.maximum(values, tiny), marker="o", color=f"C{start + i}",
                label=f"{label}: {stat}" if label else stat)
    ax.set_yscale("log")
    ax.set_xticks(x, [n for n, _ in named], rotation=45, ha="right", fontsize="small")
    ax.set_xlabel("parameter (input side on the left)")
    ax.set_ylabel("gradient")
    ax.set_title("gradient flow")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return ax


# ---- activations ---------------------------------------------------------------------------
def plot_activation_histograms(activations, bins: int = 50, range=None, ncols: int = 4,
                               fig=None, log: bool = False):
    """One histogram per layer of the values its activations took (Glorot & Bengio's figure):
    saturation shows as mass piled at the ends (sigmoid near 0/1, tanh near +-1), collapse as a
    spike at 0.

    Args:
        activations: ``{layer name: array}`` in layer order (any shapes; all values are used).
        bins: bins per histogram.
        range: (low, high) shared by every histogram, e.g. (-1, 1) for tanh; default each
            layer's own range.
        ncols: panels per row.
        fig: a Figure to draw in (new one if None).
        log: log-scaled counts.

    Returns:
        The Figure; its first ``len(activations)`` axes hold the histograms, titled with the
        layer name, mean and std.
    """
    if not activations:
        raise ValueError("activations is empty")
    items = [(name, to_numpy(a).ravel()) for name, a in activations.items()]
    ncols = min(ncols, len(items))
    nrows = -(-len(items) // ncols)
    if fig is None:
        fig = plt.figure(figsize=(3.0 * ncols, 2.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for a, (name, values) in zip(axes, items):
        a.hist(values, bins=bins, range=range, color="C0", log=log)
        a.set_title(f"{name}\nmean {values.mean():.2g}, std {values.std():.2g}", fontsize="small")
        a.tick_params(labelsize="x-small")
    for a in axes[len(items):]:
        a.set_visible(False)
    return fig


# ---- decision boundaries ------------------------------------------------------------------
def _labels_from(pred) -> np.ndarray:
    pred = to_numpy(pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        return pred.argmax(axis=1)  # scores
    if pred.ndim == 2:
        return (pred[:, 0] > 0).astype(np.int64)  # one logit
    return np.rint(pred).astype(np.int64)  # labels


def plot_decision_boundary(predict_fn, X, y, ax=None, resolution: int = 200, margin: float = 0.25,
                           alpha: float = 0.3):
    """Colour the plane by the class `predict_fn` assigns, with the data points on top.

    Args:
        predict_fn: maps points (M, 2) to class labels (M,) or scores (M, C) (argmax taken),
            e.g. ``lambda P: train.predict(model, P)``.
        X: 2-D points (N, 2); y: their labels (N,).
        ax: Axes (new figure if None).
        resolution: grid points along each axis (resolution**2 predictions).
        margin: padding around the data, as a fraction of its extent.

    Returns:
        The Axes (a filled contour of the regions, then one scatter of the points).
    """
    X, y = to_numpy(X), to_numpy(y).astype(np.int64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points of shape (N, 2), got {X.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-9)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.column_stack([xx.ravel(), yy.ravel()]).astype(X.dtype)
    zz = _labels_from(predict_fn(grid)).reshape(xx.shape)
    n_classes = int(max(zz.max(), y.max())) + 1
    cmap = ListedColormap([f"C{k % 10}" for k in np.arange(n_classes)])
    # One level per class (boundaries at k + 1/2): regions take exactly their class colour.
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(xx, yy, zz, levels=levels, cmap=cmap, alpha=alpha)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5,
               s=18, edgecolors="k", linewidths=0.4)
    acc = float(np.mean(_labels_from(predict_fn(X)) == y))
    ax.set_title(f"decision regions (accuracy on these points {acc:.1%})")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal", adjustable="box")
    return ax


# ---- errors --------------------------------------------------------------------------------
def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts (C, C): row = true class, column = predicted class (scikit-learn's layout)."""
    y_true, y_pred = to_numpy(y_true).astype(np.int64), to_numpy(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}")
    C = num_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    cm = np.zeros((C, C), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def plot_confusion_matrix(y_true, y_pred, ax=None, classes=None, cmap="Blues"):
    """The confusion matrix as an image with every count written in its cell.

    Args:
        y_true, y_pred: class labels (N,).
        ax: Axes (new figure if None).
        classes: names of the classes, in label order (default 0..C-1).

    Returns:
        The Axes; the diagonal holds the correct predictions.
    """
    cm = confusion_matrix(y_true, y_pred, len(classes) if classes is not None else None)
    C = len(cm)
    names = [str(c) for c in (classes if classes is not None else range(C))]
    if ax is None:
        side = max(4.0, 0.45 * C + 1.5)
        _, ax = plt.subplots(figsize=(side, side), layout="constrained")
    ax.imshow(cm, cmap=cmap, vmin=0)
    threshold = cm.max() / 2
    for i in range(C):
        for j in range(C):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize="small",
                    color="white" if cm[i, j] > threshold else ("black" if cm[i, j] else "0.6"))
    ax.set_xticks(range(C), names)
    ax.set_yticks(range(C), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"confusion matrix (accuracy {acc:.1%})")
    return ax


def show_misclassified(X, y_true, y_pred, n: int = 16, ncols: int = 8, fig=None):
    """The first `n` misclassified images, each titled "true -> predicted".

    Args:
        X: images (N, 1, H, W), (N, H, W) or flattened square ones (N, H*W), e.g. the digits.
        y_true, y_pred: labels (N,).
        n: at most this many images.
        ncols: images per row.
        fig: a Figure to draw in (new one if None).

    Returns:
        The Figure; one visible Axes per shown image (none, and a note, if nothing is wrong).
    """
    X, y_true, y_pred = to_numpy(X), to_numpy(y_true), to_numpy(y_pred)
    if X.ndim == 2:
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise ValueError(f"cannot view rows of {X.shape[1]} values as square images")
        X = X.reshape(len(X), side, side)
    elif X.ndim == 4:
        if X.shape[1] != 1:
            raise ValueError(f"expected one channel, got images of shape {X.shape[1:]}")
        X = X[:, 0]
    wrong = np.flatnonzero(y_true != y_pred)[:n]
    if fig is None:
        cols = max(1, min(ncols, len(wrong)))
        rows = max(1, -(-len(wrong) // cols))
        fig = plt.figure(figsize=(1.3 * cols, 1.5 * rows + 0.4), layout="constrained")
    if len(wrong) == 0:
        fig.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    cols = min(ncols, len(wrong))
    axes = fig.subplots(-(-len(wrong) // cols), cols, squeeze=False).ravel()
    for a, idx in zip(axes, wrong):
        a.imshow(X[idx], cmap="gray_r", interpolation="nearest")
        a.set_title(f"{y_true[idx]} \u2192 {y_pred[idx]}", fontsize="small", color="C3")
        a.set_axis_off()
    for a in axes[len(wrong):]:
        a.set_visible(False)
    fig.suptitle(f"misclassified: true \u2192 predicted ({np.sum(y_true != y_pred)} in all)",
                 fontsize="medium")
    return fig
