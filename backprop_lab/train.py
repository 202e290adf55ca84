"""Training loops: `fit` for `backprop_lab.nn` models and `torch_fit`, the same loop in torch.

    from backprop_lab import data, nn, train
    X_train, X_test, y_train, y_test = data.digits_split(flatten=True)
    model = nn.MLP(64, [128, 64], 10)
    history = train.fit(model, X_train, y_train, epochs=20, X_val=X_test, y_val=y_test)
    loss, acc = train.evaluate(model, X_test, y_test)

Both loops draw the batch order and the augmentation from the same seeded generators, so a
numpy model and its torch twin (`torch_ref.to_torch`) see exactly the same minibatches, and in
float64 their loss curves agree to rounding. One epoch of either loop::

    for xb, yb in minibatches(X_train, y_train):      # order from the `seed`
        xb = augment(xb, rng)                          # optional, its own seeded stream
        out = model(xb); loss, dout = loss_fn(out, yb)
        optimizer.zero_grad(); model.backward(dout)    # torch: loss.backward()
        optimizer.step()
    scheduler.step()                                   # once per epoch

``backprop-lab digits-demo`` (`backprop_lab.coursekit.digits_demo`) uses these: the small CNN on the digits,
numpy beside torch.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import data as _data
from . import functional as F
from .arrays import to_numpy

__all__ = ["History", "fit", "evaluate", "predict", "torch_fit", "torch_evaluate", "shift_some"]

LOSSES = ("cross_entropy", "mse")


# ---- the record of a run ------------------------------------------------------------------
@dataclass
class History:
    """Per-epoch record of a training run; index i of every list is epoch i + 1.

    Attributes:
        train_loss: mean minibatch loss over the epoch (train mode, augmented inputs), i.e.
            the running average a training loop sees -- not a clean pass over the data.
        train_acc: accuracy of those same minibatch outputs (classification only).
        val_loss, val_acc: one evaluation pass in eval mode after the epoch (when X_val given).
        lr: the learning rate of the first param group *during* the epoch.
        epoch_time: seconds spent in the epoch's training steps (evaluation not included).
        best_epoch: index (0-based, into the lists) of the lowest val_loss; None without
            validation data.
        stopped_epoch: index of the last epoch run when early stopping or a callback ended
            training before `epochs`; None otherwise.
        label: a name for legends (e.g. "numpy", "torch").

    A metric that does not apply (accuracy for a regression, validation without X_val) stays
    an empty list.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    label: str | None = None

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def epochs(self) -> list[int]:
        """1, 2, ..., number of epochs run: the x axis of a learning curve."""
        return list(range(1, len(self) + 1))

    def as_dict(self) -> dict:
        """A plain dict of copies (lists and scalars), e.g. for json or a DataFrame."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items()}


# ---- helpers shared by both loops ------------------------------------------------------------
def _n_correct(out: np.ndarray, y: np.ndarray) -> int:
    """Correct predictions: argmax of (N, C) scores, or the sign of (N,)/(N, 1) logits."""
    if out.ndim == 2 and out.shape[1] > 1:
        pred = out.argmax(axis=1)
    else:
        pred = (out.reshape(len(out)) > 0).astype(y.dtype)
    return int(np.sum(pred == y))


def _is_classification(y) -> bool:
    """Accuracy applies to 1-D integer class labels."""
    y = np.asarray(y)
    return y.ndim == 1 and y.dtype.kind in "iu"


def _streams(seed):
    """Two independent generators from one seed: batch order and augmentation. Separate
    streams, so that switching augmentation on or off leaves the batch order unchanged."""
    order, aug = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(order), np.random.default_rng(aug)


def _epoch_batches(X, y, batch_size, order_rng, aug_rng, augment):
    for xb, yb in _data.minibatches(X, y, batch_size, rng=order_rng):
        if augment is not None:
            xb = augment(xb, aug_rng)
        yield xb, yb


def _pick_loss(loss, by_name: dict, returns: str) -> Callable:
    """`loss` itself when it is a callable, else the function of that name in `by_name`."""
    if callable(loss):
        return loss
    if isinstance(loss, str) and loss in by_name:
        return by_name[loss]
    raise ValueError(f"loss must be one of {LOSSES} or a callable (out, y) -> {returns}, got {loss!r}")


def _numpy_loss(loss) -> Callable:
    return _pick_loss(loss, {"cross_entropy": F.softmax_cross_entropy, "mse": F.mse_loss}, "(loss, dout)")


def _progress_bar(epochs: int, progress: bool, desc: str):
    """A tqdm bar over the epochs: a widget in Jupyter, text in a terminal, silent when
    `progress` is False or the output is not a terminal (CI logs, pipes)."""
    if not progress:
        return _NoBar(range(epochs))
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is not installed (numpy-only install), or Jupyter lacks ipywidgets
        try:
            from tqdm.std import tqdm
        except ImportError:
            return _NoBar(range(epochs))
    # disable=None: tqdm turns itself off on a non-TTY stream (and stays on in notebooks)
    return tqdm(range(epochs), desc=desc, unit="epoch", disable=None, dynamic_ncols=True)


class _NoBar:
    def __init__(self, it):
        self._it = it

    def __iter__(self):
        return iter(self._it)

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


def _postfix(history: History) -> dict:
    items = {"loss": history.train_loss, "acc": history.train_acc,
             "val_loss": history.val_loss, "val_acc": history.val_acc}
    return {k: f"{v[-1]:.4f}" for k, v in items.items() if v}


def _loop(backend, X_train, y_train, *, epochs, batch_size, X_val, y_val, scheduler, augment,
          early_stopping, seed, progress, callbacks, label, model) -> History:
    """The one training loop; `backend` says how to take a step in numpy or in torch."""
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if early_stopping is not None:
        if X_val is None:
            raise ValueError("early_stopping monitors the validation loss: pass X_val and y_val")
        if early_stopping < 1:
            raise ValueError(f"early_stopping is a patience in epochs (>= 1), got {early_stopping!r}")
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    classify = _is_classification(y_train)
    callbacks = list(callbacks or [])
    order_rng, aug_rng = _streams(seed)
    history = History(label=label)
    best_loss, best_state = np.inf, None

    bar = _progress_bar(epochs, progress, label or "train")
    try:
        for epoch in bar:
            history.lr.append(float(backend.lr()))
            backend.train()
            total, correct, n = 0.0, 0, 0
            start = time.perf_counter()
            for xb, yb in _epoch_batches(X_train, y_train, batch_size, order_rng, aug_rng, augment):
                loss, out = backend.step(xb, yb)
                total += loss * len(xb)  # weight by batch size: the last batch may be smaller
                correct += _n_correct(out, yb) if classify else 0
                n += len(xb)
            history.epoch_time.append(time.perf_counter() - start)
            history.train_loss.append(total / n)
            if classify:
                history.train_acc.append(correct / n)
            if scheduler is not None:
                scheduler.step()

            stop = False
            if X_val is not None:
                val_loss, val_acc = backend.evaluate(X_val, y_val)
                history.val_loss.append(val_loss)
                if val_acc is not None:
                    history.val_acc.append(val_acc)
                if val_loss < best_loss:
                    best_loss, history.best_epoch = val_loss, epoch
                    if early_stopping is not None:
                        best_state = backend.snapshot()
                elif early_stopping is not None and epoch - (history.best_epoch or 0) >= early_stopping:
                    stop = True
            bar.set_postfix(_postfix(history), refresh=False)
            for cb in callbacks:  # cb(epoch, history, model) -> True stops training
                stop = bool(cb(epoch, history, model)) or stop
            if stop:
                history.stopped_epoch = epoch
                break
    finally:
        bar.close()
    if best_state is not None:  # early stopping: keep the weights of the best epoch
        backend.restore(best_state)
    return history


# ---- numpy ---------------------------------------------------------------------------------------
@contextmanager
def _eval_mode(model):
    """Switch every submodule to eval mode, then put each back in the mode it was in."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


class _NumpyBackend:
    def __init__(self, model, loss_fn, optimizer):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer

    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def train(self):
        self.model.train()

    def step(self, xb, yb):
        out = self.model(xb)
        loss, dout = self.loss_fn(out, yb)
        self.optimizer.zero_grad()
        self.model.backward(dout)
        self.optimizer.step()
        return float(loss), out

    def evaluate(self, X, y):
        return evaluate(self.model, X, y, loss=self.loss_fn)

    def snapshot(self):
        return self.model.state_dict()  # copies

    def restore(self, state):
        self.model.load_state_dict(state)


def fit(model, X_train, y_train, *, loss="cross_entropy", optimizer=None, epochs: int = 10,
        batch_size: int = 64, X_val=None, y_val=None, scheduler=None, augment=None,
        early_stopping: int | None = None, seed=0, progress: bool = True, callbacks=None,
        label: str | None = "numpy") -> History:
    """Train a `backprop_lab.nn` model with minibatch gradient descent.

    Args:
        model: a Module; its parameters are updated in place.
        X_train: inputs, shape (N, ...), e.g. (N, D) or (N, C, H, W).
        y_train: targets, (N,) integer classes for cross-entropy, or the output's shape for mse.
        loss: "cross_entropy" (softmax + NLL), "mse", or a callable ``(out, y) -> (loss, dout)``.
        optimizer: a `backprop_lab.optim` optimizer over ``model.parameters()``; default
            ``SGD(lr=0.05, momentum=0.9)``.
        epochs: passes over the training set.
        batch_size: samples per minibatch (the last one may be smaller).
        X_val, y_val: validation data, evaluated after every epoch in eval mode.
        scheduler: an `optim.lr_scheduler` scheduler, stepped once after every epoch.
        augment: ``augment(xb, rng) -> xb`` applied to every training minibatch, e.g.
            ``lambda xb, rng: data.random_shift(xb, 1, rng=rng)``.
        early_stopping: patience: stop after this many epochs without a lower validation loss,
            and restore the weights (parameters and buffers) of the best epoch.
        seed: seeds the batch order and the augmentation (two separate streams); the model's
            initialization is its own constructor's business.
        progress: show a tqdm bar over the epochs (text in a terminal, a widget in Jupyter,
            nothing when the output is not a terminal).
        callbacks: callables ``cb(epoch, history, model)`` run after each epoch (0-based
            epoch); one returning True stops training.
        label: a name stored in the History, used as the legend by `plots.plot_history`.

    Returns:
        A `History`.
    """
    if optimizer is None:
        from .optim import SGD
        optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    backend = _NumpyBackend(model, _numpy_loss(loss), optimizer)
    return _loop(backend, X_train, y_train, epochs=epochs, batch_size=batch_size, X_val=X_val,
                 y_val=y_val, scheduler=scheduler, augment=augment, early_stopping=early_stopping,
                 seed=seed, progress=progress, callbacks=callbacks, label=label, model=model)


def evaluate(model, X, y, loss="cross_entropy", batch_size: int = 512):
    """Mean loss and accuracy of `model` on (X, y), in eval mode (each module's mode is restored).

    Args:
        model: a `backprop_lab.nn` Module.
        X: inputs (N, ...); y: targets (see `fit`).
        loss: "cross_entropy", "mse" or a callable ``(out, y) -> (loss, dout)``.
        batch_size: evaluation chunk size (only memory depends on it).

    Returns:
        (loss, acc): floats; acc is None when y is not 1-D integer class labels.
    """
    loss_fn = _numpy_loss(loss)
    X, y = np.asarray(X), np.asarray(y)
    classify = _is_classification(y)
    total, correct = 0.0, 0
    with _eval_mode(model):
        for xb, yb in _data.minibatches(X, y, batch_size, shuffle=False):
            out = model(xb)
            total += float(loss_fn(out, yb)[0]) * len(xb)
            correct += _n_correct(out, yb) if classify else 0
    return total / len(X), (correct / len(X) if classify else None)


def predict(model, X, batch_size: int = 512, return_scores: bool = False) -> np.ndarray:
    """Class predictions (N,) of `model` for inputs X (N, ...), in eval mode.

    The argmax of (N, C) scores, or 1 where a single logit is > 0. With `return_scores`, the
    raw outputs instead (for a regression, or for plotting probabilities).
    """
    X = np.asarray(X)
    with _eval_mode(model):
        out = np.concatenate([model(xb) for xb, _ in _data.minibatches(X, None, batch_size, shuffle=False)])
    if return_scores:
        return out
    return out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else (out.reshape(len(out)) > 0).astype(np.int64)


# ---- torch ---------------------------------------------------------------------------------------
def _torch_loss(loss) -> Callable:
    import torch.nn.functional as tF

    return _pick_loss(loss, {"cross_entropy": tF.cross_entropy, "mse": tF.mse_loss}, "loss tensor")


class _TorchBackend:
    def __init__(self, model, loss_fn, optimizer):
        p = next(model.parameters())
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.dtype, self.device = p.dtype, p.device

    def tensors(self, xb, yb):
        import torch

        xt = torch.as_tensor(np.ascontiguousarray(xb), device=self.device).to(self.dtype)
        yt = torch.as_tensor(np.ascontiguousarray(yb), device=self.device)
        if not yt.dtype.is_floating_point:
            yt = yt.long()  # class indices
        else:
            yt = yt.to(self.dtype)
        return xt, yt

    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def train(self):
        self.model.train()

    def step(self, xb, yb):
        xt, yt = self.tensors(xb, yb)
        out = self.model(xt)
        loss = self.loss_fn(out, yt)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.item()), to_numpy(out)

    def evaluate(self, X, y):
        return torch_evaluate(self.model, X, y, loss=self.loss_fn)

    def snapshot(self):
        return copy.deepcopy(self.model.state_dict())

    def restore(self, state):
        self.model.load_state_dict(state)


def torch_fit(torch_model, X_train, y_train, *, loss="cross_entropy", optimizer=None,
              epochs: int = 10, batch_size: int = 64, X_val=None, y_val=None, scheduler=None,
              augment=None, early_stopping: int | None = None, seed=0, progress: bool = True,
              callbacks=None, label: str | None = "torch") -> History:
    """`fit`, line for line, for a `torch.nn.Module`: the same batches, augmentation and History.

    The numpy arrays are converted per minibatch to tensors of the model's dtype and device
    (float64 for a `to_torch` twin of a float64 model), so with the same `seed` a numpy model
    and its twin train on identical batches and their curves agree to rounding.

    Args:
        torch_model: a `torch.nn.Module`.
        loss: "cross_entropy", "mse", or a callable ``(out, y) -> loss tensor``.
        optimizer: a `torch.optim` optimizer; default ``torch.optim.SGD(lr=0.05, momentum=0.9)``.
        scheduler: a `torch.optim.lr_scheduler` scheduler, stepped once per epoch.
        (the other arguments as in `fit`; `augment` works on numpy arrays here too.)
    """
    import torch

    if optimizer is None:
        optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.05, momentum=0.9)
    backend = _TorchBackend(torch_model, _torch_loss(loss), optimizer)
    return _loop(backend, X_train, y_train, epochs=epochs, batch_size=batch_size, X_val=X_val,
                 y_val=y_val, scheduler=scheduler, augment=augment, early_stopping=early_stopping,
                 seed=seed, progress=progress, callbacks=callbacks, label=label, model=torch_model)


def torch_evaluate(torch_model, X, y, loss="cross_entropy", batch_size: int = 512):
    """`evaluate` for a `torch.nn.Module`: (mean loss, accuracy or None), in eval mode."""
    import torch

    loss_fn = _torch_loss(loss)
    backend = _TorchBackend(torch_model, loss_fn, None)
    X, y = np.asarray(X), np.asarray(y)
    classify = _is_classification(y)
    total, correct = 0.0, 0
    modes = [(m, m.training) for m in torch_model.modules()]
    torch_model.eval()
    try:
        with torch.no_grad():
            for xb, yb in _data.minibatches(X, y, batch_size, shuffle=False):
                xt, yt = backend.tensors(xb, yb)
                out = torch_model(xt)
                total += float(loss_fn(out, yt).item()) * len(xb)
                correct += _n_correct(to_numpy(out), yb) if classify else 0
    finally:
        for m, mode in modes:
            m.training = mode
    return total / len(X), (correct / len(X) if classify else None)


# ---- augmentation used by the demo and notebook 08 -----------------------------------------
def shift_some(xb, rng, max_shift: int = 1, p: float = 0.5):
    """Augmentation for `fit`: shift each image (N, C, H, W) with probability `p` by a random
    offset in {-max_shift..max_shift}^2 (zero-filled, `data.random_shift`); the rest unchanged."""
    chosen = rng.random(len(xb)) < p
    out = np.array(xb, copy=True)
    out[chosen] = _data.random_shift(xb[chosen], max_shift, rng=rng)
    return out
