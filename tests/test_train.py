"""The training loops: `fit` (numpy) and `torch_fit` run the same loop, so a model and its
torch twin give the same curves; History is complete; early stopping, schedulers, callbacks,
evaluation modes; and the CLI demo (the small CNN on the digits) reaches >= 97%."""
import numpy as np
import pytest
import torch

from backprop_lab import data, nn, optim, train
from backprop_lab.torch_ref import copy_weights, to_numpy, to_torch

# float64 on both sides, same batches: only the summation order differs (a few ulps per step).
TWIN_TOL = 1e-10


def moons(n=200, seed=0):
    X, y = data.make_moons(n=n, noise=0.15, seed=seed)
    return X, y


def backends():
    """(name, fit function, evaluate function, make-model) for both loops."""
    return [
        ("numpy", train.fit, train.evaluate, lambda m: m),
        ("torch", train.torch_fit, train.torch_evaluate, to_torch),
    ]


# ---- History ---------------------------------------------------------------------------------
def test_fit_decreases_loss_and_returns_complete_history():
    X, y = moons()
    Xv, yv = moons(100, seed=1)
    model = nn.MLP(2, [32], 2, seed=0)
    before, _ = train.evaluate(model, X, y)
    h = train.fit(model, X, y, epochs=8, batch_size=32, X_val=Xv, y_val=yv, progress=False)

    assert isinstance(h, train.History) and len(h) == 8 and h.epochs == list(range(1, 9))
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time"):
        assert len(getattr(h, key)) == 8, key
    assert all(t > 0 for t in h.epoch_time)
    assert h.lr == [0.05] * 8  # the default optimizer: SGD(lr=0.05, momentum=0.9)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert train.evaluate(model, X, y)[0] < 0.5 * before
    assert h.val_acc[-1] > 0.85 and 0 <= min(h.train_acc) and max(h.train_acc) <= 1
    assert h.best_epoch == int(np.argmin(h.val_loss)) and h.stopped_epoch is None
    d = h.as_dict()
    assert d["train_loss"] == h.train_loss and d["train_loss"] is not h.train_loss
    assert set(d) >= {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time",
                      "best_epoch", "stopped_epoch", "label"}


def test_history_last_val_loss_is_evaluate_on_the_final_weights():
    X, y = moons()
    model = nn.MLP(2, [16], 2, seed=0)
    h = train.fit(model, X[:150], y[:150], epochs=3, X_val=X[150:], y_val=y[150:], progress=False)
    loss, acc = train.evaluate(model, X[150:], y[150:])
    assert h.val_loss[-1] == pytest.approx(loss, abs=1e-12) and h.val_acc[-1] == acc


def test_fit_without_validation_and_regression_leaves_unused_metrics_empty():
    X, y = data.make_regression_curve(n=128, seed=0)
    model = nn.MLP(1, [32], 1, activation="tanh", init="xavier", seed=0)
    h = train.fit(model, X, y, loss="mse", epochs=20, batch_size=16, progress=False,
                  optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    assert len(h.train_loss) == 20 and h.train_loss[-1] < 0.3 * h.train_loss[0]
    assert h.train_acc == [] and h.val_loss == [] and h.val_acc == [] and h.best_epoch is None
    loss, acc = train.evaluate(model, X, y, loss="mse")
    assert acc is None and loss == pytest.approx(np.mean((train.predict(model, X, return_scores=True) - y) ** 2))


def test_custom_loss_callable():
    X, y = moons()
    calls = []

    def loss(out, yb):
        calls.append(len(yb))
        from backprop_lab.functional import softmax_cross_entropy
        return softmax_cross_entropy(out, yb)

    h = train.fit(nn.MLP(2, [8], 2, seed=0), X, y, loss=loss, epochs=2, batch_size=64, progress=False)
    assert calls == [64, 64, 64, 8] * 2 and len(h.train_acc) == 2


def test_progress_bar_runs_headless(capsys):
    X, y = moons(64)
    h = train.fit(nn.MLP(2, [4], 2, seed=0), X, y, epochs=2, progress=True)
    assert len(h) == 2
    capsys.readouterr()  # tqdm turns itself off on the captured (non-TTY) stream


def test_batch_order_and_augmentation_are_seeded():
    X, y = moons()
    seen = {}

    def record(key):
        def augment(xb, rng):
            seen.setdefault(key, []).append(xb.copy())
            return xb + 0.01 * rng.standard_normal(xb.shape)
        return augment

    for key, seed in (("a", 3), ("b", 3), ("c", 4)):
        train.fit(nn.MLP(2, [8], 2, seed=0), X, y, epochs=2, seed=seed, augment=record(key), progress=False)
    assert all(np.array_equal(p, q) for p, q in zip(seen["a"], seen["b"]))
    assert not np.array_equal(seen["a"][0], seen["c"][0])
    # every sample exactly once per epoch
    first_epoch = np.concatenate(seen["a"][:4])
    assert np.array_equal(np.sort(first_epoch, axis=0), np.sort(X, axis=0))


# ---- early stopping, schedulers, callbacks -----------------------------------------------------
@pytest.mark.parametrize("name, fit, evaluate, make", backends(), ids=["numpy", "torch"])
def test_early_stopping_stops_and_restores_best_weights(name, fit, evaluate, make):
    # The validation labels are the training labels moved to the other class: the better the
    # model fits the training set, the worse its validation loss, so the best epoch is early.
    X, y = moons()
    y_val = 1 - y
    model = make(nn.MLP(2, [32], 2, seed=0))
    states = []

    def snapshot(epoch, history, m):
        states.append({k: to_numpy(v).copy() for k, v in m.state_dict().items()})

    h = fit(model, X, y, epochs=30, X_val=X, y_val=y_val, early_stopping=3, callbacks=[snapshot],
            progress=False)
    assert h.best_epoch == int(np.argmin(h.val_loss))
    assert h.stopped_epoch == h.best_epoch + 3 and len(h) == h.stopped_epoch + 1 < 30
    best = states[h.best_epoch]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(to_numpy(v), best[k], err_msg=k)
    assert evaluate(model, X, y_val)[0] == pytest.approx(h.val_loss[h.best_epoch], abs=1e-12)


def test_early_stopping_needs_validation_data():
    X, y = moons(32)
    with pytest.raises(ValueError, match="X_val"):
        train.fit(nn.MLP(2, [4], 2), X, y, early_stopping=2, progress=False)
    with pytest.raises(ValueError, match="both"):
        train.fit(nn.MLP(2, [4], 2), X, y, X_val=X, progress=False)


def test_scheduler_changes_lr_every_epoch():
    X, y = moons(64)
    model = nn.MLP(2, [4], 2, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = train.fit(model, X, y, optimizer=opt, scheduler=sched, epochs=4, progress=False)
    assert h.lr == pytest.approx([0.1, 0.05, 0.025, 0.0125], rel=1e-15)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 4)


def test_callback_can_stop_training():
    X, y = moons(64)
    seen = []

    def stop_after_two(epoch, history, model):
        seen.append((epoch, len(history)))
        return epoch == 1

    h = train.fit(nn.MLP(2, [4], 2), X, y, epochs=10, callbacks=[stop_after_two], progress=False)
    assert seen == [(0, 1), (1, 2)] and len(h) == 2 and h.stopped_epoch == 1


# ---- evaluate / predict -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", [True, False])
def test_evaluate_uses_eval_mode_and_restores_each_modules_mode(mode):
    X, y = moons(64)
    model = nn.MLP(2, [16], 2, dropout=0.5, seed=0)
    model.train(mode)
    model[0].training = not mode  # mixed modes must come back exactly
    modes = [m.training for m in model.modules()]
    l1, a1 = train.evaluate(model, X, y)
    l2, a2 = train.evaluate(model, X, y, batch_size=7)  # dropout off: deterministic, chunking irrelevant
    assert [m.training for m in model.modules()] == modes
    assert l1 == pytest.approx(l2, abs=1e-12) and a1 == a2


def test_predict_labels_and_scores():
    X, y = moons(50)
    model = nn.MLP(2, [8], 2, seed=0)
    scores = train.predict(model, X, batch_size=16, return_scores=True)
    assert scores.shape == (50, 2)
    np.testing.assert_array_equal(train.predict(model, X), scores.argmax(axis=1))
    _, acc = train.evaluate(model, X, y)
    assert acc == np.mean(train.predict(model, X) == y)


# ---- numpy vs torch -------------------------------------------------------------------------
def test_mlp_and_its_torch_twin_give_identical_curves():
    X_train, X_test, y_train, y_test = data.digits_split(flatten=True)
    model = nn.MLP(64, [64, 32], 10, seed=0)
    twin = to_torch(model)  # same initial weights, float64

    def jitter(xb, rng):  # augmentation must be replayed identically on both sides
        return xb + 0.02 * rng.standard_normal(xb.shape)

    common = dict(epochs=2, batch_size=64, X_val=X_test, y_val=y_test, augment=jitter, seed=0,
                  progress=False)
    h_np = train.fit(model, X_train, y_train,
                     optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9), **common)
    h_t = train.torch_fit(twin, X_train, y_train,
                          optimizer=torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9), **common)
    for key in ("train_loss", "val_loss", "train_acc", "val_acc", "lr"):
        np.testing.assert_allclose(getattr(h_np, key), getattr(h_t, key), rtol=0, atol=TWIN_TOL, err_msg=key)
    assert h_np.train_loss[1] < h_np.train_loss[0]
    trained = copy_weights(twin, nn.MLP(64, [64, 32], 10))
    for (k, a), (_, b) in zip(model.state_dict().items(), trained.state_dict().items()):
        np.testing.assert_allclose(a, b, rtol=0, atol=TWIN_TOL, err_msg=k)


def test_torch_fit_default_optimizer_and_mse():
    X, y = data.make_regression_curve(n=64, seed=0)
    model = nn.MLP(1, [16], 1, activation="tanh", seed=0)
    twin = to_torch(model)
    h_np = train.fit(model, X, y, loss="mse", epochs=3, batch_size=16, progress=False)
    h_t = train.torch_fit(twin, X, y, loss="mse", epochs=3, batch_size=16, progress=False)
    np.testing.assert_allclose(h_np.train_loss, h_t.train_loss, rtol=0, atol=TWIN_TOL)
    assert h_t.label == "torch" and h_t.train_acc == []


# ---- the demo: what `backprop-lab digits-demo` runs -------------------------------------------------
def test_demo_cnn_reaches_97_percent_and_matches_torch(capsys):
    from backprop_lab.coursekit.digits_demo import demo

    result = demo(epochs=15, compare_torch=True, progress=False)
    printed = capsys.readouterr().out
    assert result["test_acc"] >= 0.97, printed
    assert result["torch_test_acc"] == result["test_acc"]
    assert result["max_loss_diff"] < 1e-8
    assert len(result["history"]) == len(result["torch_history"]) == 15
    for needle in ("1437 train / 360 test", "1,898 parameters", "test accuracy", "numpy / torch"):
        assert needle in printed
