"""Each plot runs headless (Agg), draws the expected artists and never calls plt.show()."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.contour import ContourSet
from matplotlib.image import AxesImage

from backprop_lab import functional as F
from backprop_lab import nn, plots
from backprop_lab.torch_ref import to_torch
from backprop_lab.train import History


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    def show(*args, **kwargs):
        raise AssertionError("library plots must not call plt.show()")

    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


def history(label=None, val=True, n=5, seed=0):
    rng = np.random.default_rng(seed)
    h = History(label=label)
    h.train_loss = list(np.linspace(2, 0.2, n) + 0.01 * rng.random(n))
    h.train_acc = list(np.linspace(0.3, 0.95, n))
    if val:
        h.val_loss = list(np.linspace(2.1, 0.3, n))
        h.val_acc = list(np.linspace(0.3, 0.9, n))
    h.lr = [0.1] * n
    h.epoch_time = [0.01] * n
    return h


def labels_of(ax):
    return [line.get_label() for line in ax.lines]


# ---- plot_history --------------------------------------------------------------------------
def test_plot_history_train_and_val_curves():
    axes = plots.plot_history(history())
    assert len(axes) == 2
    loss_ax, acc_ax = axes
    assert labels_of(loss_ax) == ["train", "val"] and labels_of(acc_ax) == ["train", "val"]
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3, 4, 5])
    assert loss_ax.lines[1].get_linestyle() == "--"
    assert loss_ax.get_legend() is not None


def test_plot_history_overlays_several_runs():
    axes = plots.plot_history({"numpy": history(), "torch": history(seed=1)})
    assert labels_of(axes[0]) == ["numpy train", "numpy val", "torch train", "torch val"]
    assert len(axes[1].lines) == 4
    # a list uses each history's own label, or the labels given
    axes = plots.plot_history([history("a"), history("b", val=False)])
    assert labels_of(axes[0]) == ["a train", "a val", "b train"]
    axes = plots.plot_history([history(), history()], labels=["x", "y"])
    assert labels_of(axes[1])[::2] == ["x train", "y train"]


def test_plot_history_into_given_axes_and_from_dict():
    fig, ax = plt.subplots()
    out = plots.plot_history(history().as_dict(), ax=ax)
    assert out is ax and labels_of(ax) == ["train", "val"]
    fig, (a, b) = plt.subplots(1, 2)
    plots.plot_history(history(val=False), ax=(a, b))
    assert len(a.lines) == 1 and len(b.lines) == 1


# ---- gradient flow ---------------------------------------------------------------------------
def deep_mlp_after_backward(activation="sigmoid"):
    rng = np.random.default_rng(0)
    model = nn.MLP(16, [32] * 5, 4, activation=activation, init="xavier", seed=0)
    x, y = rng.standard_normal((64, 16)), rng.integers(0, 4, 64)
    _, dout = F.softmax_cross_entropy(model(x), y)
    model.backward(dout)
    return model


def test_plot_gradient_flow_from_model():
    model = deep_mlp_after_backward()
    ax = plots.plot_gradient_flow(model)
    assert ax.get_yscale() == "log"
    assert labels_of(ax) == ["norm", "std"]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == [f"{i}.weight" for i in range(0, 12, 2)]  # 6 Linear layers, biases left out
    std = ax.lines[1].get_ydata()
    expected = [np.std(p.grad) for n, p in model.named_parameters() if n.endswith("weight")]
    np.testing.assert_allclose(std, expected)
    assert std[0] < 1e-2 * std[-1]  # sigmoid: the gradient vanishes toward the input


def test_plot_gradient_flow_dicts_torch_and_overlays():
    model = deep_mlp_after_backward("tanh")
    grads = {n: p.grad for n, p in model.named_parameters()}
    fig, ax = plt.subplots()
    plots.plot_gradient_flow(grads, ax=ax, stats="mean_abs", include_bias=True, label="tanh")
    assert len(ax.get_xticks()) == 12 and labels_of(ax) == ["tanh: mean_abs"]
    twin = to_torch(model)
    twin(torch.ones(2, 16, dtype=torch.float64)).sum().backward()
    plots.plot_gradient_flow(twin, ax=ax, stats=("max_abs",), label="torch")
    assert len(ax.lines) == 2 and ax.lines[0].get_color() != ax.lines[1].get_color()
    with pytest.raises(ValueError, match="unknown stats"):
        plots.plot_gradient_flow(grads, stats="median")


# ---- activations -------------------------------------------------------------------------------
def test_plot_activation_histograms_one_panel_per_layer():
    rng = np.random.default_rng(0)
    acts = {f"layer {i}": np.tanh(rng.standard_normal((32, 8)) * i) for i in range(1, 6)}
    fig = plots.plot_activation_histograms(acts, bins=20, range=(-1, 1), ncols=3)
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == 5 and len(fig.axes) == 6
    assert all(len(a.patches) == 20 for a in visible)
    assert visible[2].get_title().startswith("layer 3")
    assert sum(p.get_height() for p in visible[0].patches) == 32 * 8


# ---- decision boundary ---------------------------------------------------------------------------
def test_plot_decision_boundary_regions_and_points():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    calls = []

    def predict(P):  # scores (M, 2): argmax is taken
        calls.append(len(P))
        s = P[:, 0] + P[:, 1]
        return np.column_stack([-s, s])

    ax = plots.plot_decision_boundary(predict, X, y, resolution=50)
    assert calls[0] == 50 * 50
    assert sum(isinstance(c, ContourSet) for c in ax.collections) == 1
    scatters = [c for c in ax.collections if isinstance(c, PathCollection) and not isinstance(c, ContourSet)]
    assert len(scatters) == 1 and len(scatters[0].get_offsets()) == 40
    assert "100.0%" in ax.get_title()


def test_plot_decision_boundary_labels_and_bad_shape():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    ax = plots.plot_decision_boundary(lambda P: (P[:, 0] > 1).astype(int), X, [0, 0, 1], resolution=10)
    assert ax.get_xlim()[0] < 0 < 2 < ax.get_xlim()[1]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_decision_boundary(lambda P: P, np.zeros((3, 3)), [0, 1, 2])


# ---- confusion matrix --------------------------------------------------------------------------
def test_confusion_matrix_counts():
    cm = plots.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1])
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 1], [0, 0, 2]])
    assert plots.confusion_matrix([0], [0], num_classes=4).shape == (4, 4)


def test_plot_confusion_matrix_annotates_every_cell():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 200)
    y_pred = np.where(rng.random(200) < 0.8, y_true, rng.integers(0, 10, 200))
    ax = plots.plot_confusion_matrix(y_true, y_pred)
    assert len(ax.texts) == 100
    assert sum(isinstance(im, AxesImage) for im in ax.images) == 1
    cm = plots.confusion_matrix(y_true, y_pred, 10)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert all(cells[i, j] == cm[i, j] for i in range(10) for j in range(10))
    ax = plots.plot_confusion_matrix([0, 1, 1], [0, 1, 0], classes=["cat", "dog"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"] and len(ax.texts) == 4


# ---- misclassified images ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(30, 64), (30, 1, 8, 8), (30, 8, 8)])
def test_show_misclassified_draws_each_wrong_image(shape):
    rng = np.random.default_rng(0)
    X = rng.random(shape)
    y_true = np.arange(30) % 10
    y_pred = y_true.copy()
    y_pred[[3, 7, 11, 21, 29]] = 0
    y_pred[0] = 1  # 6 wrong in all
    fig = plots.show_misclassified(X, y_true, y_pred, n=4)
    shown = [a for a in fig.axes if a.get_visible() and a.images]
    assert len(shown) == 4
    assert shown[0].get_title() == "0 \u2192 1" and shown[1].get_title() == "3 \u2192 0"
    np.testing.assert_array_equal(shown[0].images[0].get_array(), X[0].reshape(8, 8))
    fig = plots.show_misclassified(X, y_true, y_pred)  # n=16 > 6: all of them
    assert len([a for a in fig.axes if a.images]) == 6


def test_show_misclassified_when_nothing_is_wrong():
    fig = plots.show_misclassified(np.zeros((3, 64)), [1, 2, 3], [1, 2, 3])
    assert fig.axes == [] and "no misclassified" in fig.texts[0].get_text()
