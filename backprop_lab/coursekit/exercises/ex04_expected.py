"""Expected values of notebook 04's exercises: the reference library (functional, optim.SGD) and torch
(autograd, optim.SGD) run on the checker's inputs. Params are dicts {"W1": (H1, D), "b1": (H1,), ...}."""
from __future__ import annotations

import numpy as np

from backprop_lab.arrays import to_numpy


def random_params(rng, sizes, integer=False):
    """Random params for layer widths `sizes` = (D, H1, ..., C): He-scaled, or small integers
    (then many pre-activations are exactly 0, ReLU's kink)."""
    p = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        if integer:
            p[f"W{i}"] = rng.integers(-1, 2, size=(fan_out, fan_in)).astype(float)
            p[f"b{i}"] = rng.integers(-1, 2, size=fan_out).astype(float)
        else:
            p[f"W{i}"] = rng.normal(size=(fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
            p[f"b{i}"] = rng.normal(scale=0.1, size=fan_out)
    return p


def dropout_masks(rng, n, sizes, p_drop):
    """One inverted-dropout mask (n, H_l) per hidden layer of the widths `sizes`."""
    return [(rng.random((n, h)) >= p_drop) / (1.0 - p_drop) for h in sizes[1:-1]]


def ref_mlp(params, x, dout=None, masks=None):
    """(scores, grads) from backprop_lab.functional; grads is None without `dout`."""
    from backprop_lab.functional import linear_backward, linear_forward, relu_backward, relu_forward
    n_layers, lin, act, a = len(params) // 2, [], [], x
    for i in range(1, n_layers + 1):
        z, cache = linear_forward(a, params[f"W{i}"], params[f"b{i}"])
        lin.append(cache)
        if i < n_layers:
            a, cache = relu_forward(z)
            act.append(cache)
            a = a if masks is None else a * masks[i - 1]
    if dout is None:
        return z, None
    grads, dz = {}, dout
    for i in range(n_layers, 0, -1):
        da, grads[f"W{i}"], grads[f"b{i}"] = linear_backward(dz, lin[i - 1])
        if i > 1:
            dz = relu_backward(da if masks is None else da * masks[i - 2], act[i - 2])
    return z, grads


def torch_scores(t, x, masks):
    import torch
    n_layers, a = len(t) // 2, torch.tensor(x)
    for i in range(1, n_layers + 1):
        z = a @ t[f"W{i}"].T + t[f"b{i}"]
        if i < n_layers:
            a = torch.relu(z) * (1.0 if masks is None else torch.tensor(masks[i - 1]))
    return z


def twins(params, lr, mu, wd):
    """The params as Parameters under backprop_lab's SGD and as tensors under torch's SGD."""
    import torch

    from backprop_lab.nn import Parameter
    from backprop_lab.optim import SGD
    ours = {k: Parameter(v) for k, v in params.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    return (ours, SGD(list(ours.values()), lr=lr, momentum=mu, weight_decay=wd),
            theirs, torch.optim.SGD(list(theirs.values()), lr=lr, momentum=mu, weight_decay=wd))


def snapshot(ps, opt):
    """Copies of the params (Parameters or tensors) and momentum buffers: later steps update them in place."""
    copy = lambda x: np.array(to_numpy(getattr(x, "data", x)))
    return {"params": {k: copy(p) for k, p in ps.items()},
            "velocity": {k: copy(opt.state[p]["momentum_buffer"]) if "momentum_buffer" in opt.state[p] else None
                         for k, p in ps.items()}}


def sgd_expected(params, steps, mu, wd):
    """backprop_lab.optim.SGD's and torch.optim.SGD's snapshots after every step."""
    import torch
    (ours, opt, theirs, topt), ref, tor = twins(params, steps[0]["lr"], mu, wd), [], []
    for step in steps:
        for k in params:
            ours[k].grad = np.array(step["grads"][k], copy=True)
            theirs[k].grad = torch.tensor(step["grads"][k])
        opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = step["lr"]
        opt.step()
        topt.step()
        ref.append(snapshot(ours, opt))
        tor.append(snapshot(theirs, topt))
    return ref, tor


def ref_loss(params, b):
    from backprop_lab.functional import softmax_cross_entropy
    return softmax_cross_entropy(ref_mlp(params, b["x"], None, b.get("masks"))[0], b["y"])


def train_expected(params, batches, lr, mu, wd):
    """[{"loss", "params"}] after every batch, from the reference and from torch."""
    import torch
    (ours, opt, theirs, topt), ref, tor = twins(params, lr, mu, wd), [], []
    for b in batches:
        current = {k: p.data for k, p in ours.items()}
        loss, dscores = ref_loss(current, b)
        for k, g in ref_mlp(current, b["x"], dscores, b.get("masks"))[1].items():
            ours[k].grad = g
        opt.step()
        ref.append({"loss": loss, "params": snapshot(ours, opt)["params"]})
        tloss = torch.nn.functional.cross_entropy(torch_scores(theirs, b["x"], b.get("masks")), torch.tensor(b["y"]))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        tor.append({"loss": tloss.item(), "params": snapshot(theirs, topt)["params"]})
    return ref, tor
