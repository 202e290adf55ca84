"""Probes of notebooks 05 to 09 for tests/bugs/validate_fresh.py (see fresh_probe_kit).

The inputs include the edge cases the release's prose names: a learning rate that changes between
optimizer steps, Nesterov with weight decay, tiny gradients (where eps matters), conv-shaped weights,
batches of 2, stride 2 and padding 0 or 2, non-square kernels, max-pool ties and overlapping or
gapped windows, blank image regions with zero biases (exact ReLU zeros and pool ties), shifts larger
than the image, confusion data that lacks the last classes, and logits of +-800.
"""
from __future__ import annotations

import numpy as np

from bugs.fresh_probe_kit import Raised, call, forward_backward, grid, output

LRS = [0.1, 0.1, 0.01, 0.05]  # the lr changes between steps, as a schedule would



# ---- 05 ----------------------------------------------------------------------------------------
def rule_run(step, rng, scale=1.0, shape=(3, 2), **kwargs):
    """Steps of a pure optimizer rule over LRS, each new (p, state) fed to the next step."""
    p, state, history = rng.normal(size=shape), {}, []
    for lr in LRS:
        result = call(step, p, scale * rng.normal(size=shape), state, lr, **kwargs)
        history.append(result)
        if isinstance(result, Raised):
            break
        p, state = output(result)
    return history


def p05_sgd(ns, rng):
    configs = [{}, {"nesterov": True, "weight_decay": 0.1}, {"weight_decay": 0.1}, {"momentum": 0.0},
               {"nesterov": True}]
    return [rule_run(ns["sgd_momentum_step"], rng, **c) for c in configs]


def p05_adaptive(ns, rng):
    return [rule_run(ns["adagrad_step"], rng), rule_run(ns["adagrad_step"], rng, weight_decay=0.1),
            rule_run(ns["adagrad_step"], rng, scale=1e-4),
            rule_run(ns["rmsprop_step"], rng), rule_run(ns["rmsprop_step"], rng, alpha=0.9, weight_decay=0.1)]


def p05_adam(ns, rng):
    return [rule_run(ns["adam_step"], rng), rule_run(ns["adam_step"], rng, betas=(0.8, 0.99)),
            rule_run(ns["adam_step"], rng, scale=1e-4)]


def p05_adamw(ns, rng):
    configs = [{}, {"decoupled": False}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled": False}]
    return [rule_run(ns["adamw_step"], rng, **c) for c in configs]


def p05_schedules(ns, rng):
    cos, warm = ns["cosine_lr"], ns["warmup_cosine_lr"]
    return [[call(cos, t, 10, 0.1) for t in range(11)], [call(cos, t, 7, 0.2, 0.01) for t in range(8)],
            [call(warm, t, 3, 12, 0.1, 0.001) for t in range(13)],
            [call(warm, t, 4, 10, 0.5, start_factor=0.1) for t in range(11)]]


# ---- 06 ----------------------------------------------------------------------------------------
def p06_init(ns, rng):
    return [call(ns["fans"], (5, 3)), call(ns["fans"], (6, 2, 3, 4)),
            call(ns["xavier_std"], 3, 5), call(ns["xavier_std"], 7, 11, gain=2.5),
            call(ns["he_std"], 9), call(ns["he_std"], 9, 0.01), call(ns["he_std"], 16, negative_slope=0.2)]


def p06_batchnorm(ns, rng):
    out = []
    for n in (7, 2):
        x, gamma, beta = 3 * rng.normal(size=(n, 4)) + 1, rng.normal(size=4), rng.normal(size=4)
        out.append(forward_backward(ns["batchnorm_forward"], ns["batchnorm_backward"], None, x, gamma, beta))
    return out


def p06_batchnorm_eval(ns, rng):
    mean, var, x = rng.normal(size=4), 1 + rng.random(4), 2 * rng.normal(size=(6, 4)) + 3
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    out = [call(ns["update_running_stats"], mean, var, x), call(ns["update_running_stats"], mean, var, x, 0.3)]
    out.append(forward_backward(ns["batchnorm_eval_forward"], ns["batchnorm_eval_backward"], None,
                                x, gamma, beta, mean, var))
    return out


def p06_clip(ns, rng):
    grads = [3 * rng.normal(size=(3, 4)), 3 * rng.normal(size=5), 3 * rng.normal(size=(2, 2, 2))]
    return [call(ns["clip_grad_norm"], grads, 1.0), call(ns["clip_grad_norm"], grads, 100.0)]


# ---- 07 ----------------------------------------------------------------------------------------
CONV = [(2, 2, 5, 6, 3, 3, 2, 1, 0), (2, 2, 7, 6, 3, 3, 3, 2, 1), (1, 3, 6, 6, 2, 2, 3, 2, 2),
        (2, 1, 5, 5, 2, 3, 3, 1, 1)]  # N, C, H, W, F, KH, KW, stride, padding


def conv_inputs(rng):
    for N, C, H, W, F, KH, KW, S, P in CONV:
        yield rng.normal(size=(N, C, H, W)), rng.normal(size=(F, C, KH, KW)), rng.normal(size=F), S, P


def p07_conv_naive(ns, rng):
    out = []
    for x, w, b, S, P in conv_inputs(rng):
        out.append(forward_backward(ns["conv2d_forward_naive"], ns["conv2d_backward_naive"], None,
                                    x, w, b, stride=S, padding=P))
    return out


def p07_maxpool(ns, rng):
    out = []
    for K, S in [(2, None), (3, 1), (2, 3), (3, 2)]:
        x = grid(rng, (2, 2, 6, 7))  # integers 0..3: many tied maxima
        args = (x, K) if S is None else (x, K, S)  # stride left out: its default must be K
        out.append(forward_backward(ns["maxpool2d_forward"], ns["maxpool2d_backward"], None, *args))
    return out


def p07_conv_fast(ns, rng):
    return [call(ns["conv2d_forward_fast"], x, w, b, stride=S, padding=P) for x, w, b, S, P in conv_inputs(rng)]


# ---- 08 ----------------------------------------------------------------------------------------
def p08_cnn(ns, rng):
    out = []
    for digits in (True, False):
        params = {"W1": rng.normal(size=(3, 1, 3, 3)), "b1": rng.normal(size=3), "W2": rng.normal(size=(4, 3, 3, 3)),
                  "b2": rng.normal(size=4), "W3": rng.normal(size=(5, 16)), "b3": rng.normal(size=5)}
        x = rng.normal(size=(4, 1, 8, 8))
        if digits:  # pixel counts / 16 on a blank background, zero conv biases: exact zeros and ties
            x = grid(rng, (4, 1, 8, 8), 0, 17) / 16
            x[:, :, :, :3] = x[:, :, :2, :] = 0.0
            params["b1"], params["b2"] = np.zeros(3), np.zeros(4)
        out.append(forward_backward(ns["cnn_forward"], ns["cnn_backward"], None, params, x))
    return out


def p08_augment(ns, rng):
    x = rng.normal(size=(3, 2, 5, 6))
    out = [call(ns["shift_images"], x, np.array([[1, -1], [0, 2], [-6, 0]])),
           call(ns["shift_images"], x, np.array([[2, 1], [-1, -2], [0, 0]]))]
    batch = rng.normal(size=(10, 1, 4, 4))
    for seed, kwargs in [(5, {}), (6, {"p": 0.7, "max_shift": 2})]:
        gen = np.random.default_rng(seed)
        out += [call(ns["augment"], batch, gen, **kwargs), gen.random()]  # the draw after: same consumption
    return out


def p08_metrics(ns, rng):
    scores, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    y_true, y_pred = np.array([0, 0, 1, 2, 2, 2, 1, 0]), np.array([0, 0, 2, 2, 1, 2, 1, 1])
    return [call(ns["accuracy"], scores, labels), call(ns["confusion_matrix"], y_true, y_pred, 5),
            call(ns["confusion_matrix"], np.array([0, 1, 2, 2]), np.array([2, 1, 0, 0]), 3)]


# ---- 09 ----------------------------------------------------------------------------------------
def p09_loss(ns, rng):
    logits = 3 * rng.normal(size=(4, 5))
    logits[0] = [-800.0, 800.0, 0.0, -3.0, 3.0]
    return [call(ns["sigmoid_mse_loss"], logits, rng.random((4, 5)))]


def p09_autoencoder(ns, rng):
    out = []
    for zero_b1 in (False, True):
        params = {}
        for i, (fan_out, fan_in) in enumerate([(5, 6), (2, 5), (5, 2), (6, 5)], start=1):
            params[f"W{i}"] = rng.normal(size=(fan_out, fan_in))
            params[f"b{i}"] = rng.normal(size=fan_out)
        if zero_b1:
            params["b1"] = np.zeros(5)
        x = rng.random((4, 6))
        x[0] = 0.0  # with b1 = 0: pre-activations of exactly 0 at the encoder's ReLU
        out.append(forward_backward(ns["autoencoder_forward"], ns["autoencoder_backward"], None, params, x))
    return out


PROBES = {
    "05.sgd_momentum": p05_sgd, "05.adaptive": p05_adaptive, "05.adam": p05_adam, "05.adamw": p05_adamw,
    "05.schedules": p05_schedules,
    "06.init": p06_init, "06.batchnorm": p06_batchnorm, "06.batchnorm_eval": p06_batchnorm_eval, "06.clip": p06_clip,
    "07.conv_naive": p07_conv_naive, "07.maxpool": p07_maxpool, "07.conv_fast": p07_conv_fast,
    "08.cnn": p08_cnn, "08.augment": p08_augment, "08.metrics": p08_metrics,
    "09.loss": p09_loss, "09.autoencoder": p09_autoencoder,
}
