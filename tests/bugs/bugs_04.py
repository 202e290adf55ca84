"""Learner bugs of notebook 04 (training an MLP), each with the diagnosis code the self-check must give.

Cells: mlp (4.1), sgd (4.2), train_step (4.3), l2_penalty (4.4), dropout (4.5).
"""
from bugs import Bug

MLP, SGD, TRAIN, L2, DROP = "04.mlp", "04.sgd", "04.train_step", "04.l2_penalty", "04.dropout"
SGD_BODY = """        g = grads[k] + weight_decay * params[k]
        velocity[k] = momentum * velocity[k] + g
        params[k] -= lr * velocity[k]"""
CALL_SGD = "sgd_step(params, grads, velocity, lr, momentum, weight_decay)"
PENALTY = "penalty = 0.5 * weight_decay * sum(float(np.sum(p * p)) for p in params.values())"
L2_GRADS = "grads = {k: weight_decay * p for k, p in params.items()}"
MASK = "return (u >= p) / (1.0 - p)"

BUGS = [
    # ------------------------------------------------------------------ 4.1 MLP
    Bug("bias_not_summed", MLP, "mlp", [('grads[f"b{i}"] = dz.sum(axis=0)', 'grads[f"b{i}"] = dz')],
        code="batch-not-summed", category="cs231n"),
    Bug("bias_averaged", MLP, "mlp", [('grads[f"b{i}"] = dz.sum(axis=0)', 'grads[f"b{i}"] = dz.mean(axis=0)')],
        code="divided-by-N-twice", category="cs231n"),
    Bug("dW_transposed", MLP, "mlp",
        [('grads[f"W{i}"] = dz.T @ inputs[i - 1]', 'grads[f"W{i}"] = inputs[i - 1].T @ dz')],
        code="transposed", category="cs231n"),
    Bug("relu_grad_at_zero", MLP, "mlp", [("dz = da * (pre[i - 2] > 0)", "dz = da * (pre[i - 2] >= 0)")],
        code="04.relu-grad-at-zero", category="kink"),
    Bug("relu_on_scores", MLP, "mlp", [("""        if i < n_layers:
            pre.append(z)
            a = np.maximum(z, 0)""", """        pre.append(z)
        if i < n_layers:
            a = np.maximum(z, 0)"""), ("    return z, (params, inputs, pre, masks)",
                                       "    return np.maximum(z, 0), (params, inputs, pre, masks)")],
        code="04.relu-on-scores", category="forward"),
    Bug("mask_missing_in_backward", MLP, "mlp", [("""            if masks is not None:
                da = da * masks[i - 2]
""", "")], code="04.dropout-mask-missing-backward", category="dropout"),
    Bug("mask_missing_in_forward", MLP, "mlp", [("""            if masks is not None:
                a = a * masks[i - 1]
""", "")], code="04.dropout-mask-missing-forward", category="dropout"),
    Bug("mask_wrong_layer", MLP, "mlp", [("da = da * masks[i - 2]", "da = da * masks[i - 1]")],
        code="raised-exception", category="dropout"),
    Bug("two_layers_only", MLP, "mlp", [("n_layers = len(params) // 2", "n_layers = 2")],
        code="04.mlp-fixed-depth", category="depth"),
    Bug("backward_loop_stops_at_layer_2", MLP, "mlp",
        [("for i in range(len(inputs), 0, -1):", "for i in range(len(inputs), 1, -1):")],
        code="04.mlp-first-layer-skipped", category="off-by-one"),
    Bug("first_layer_grads_left_zero", MLP, "mlp",
        [("    grads = {}\n", "    grads = {k: np.zeros_like(v) for k, v in params.items()}\n"),
         ("for i in range(len(inputs), 0, -1):", "for i in range(len(inputs), 1, -1):")],
        code="04.mlp-first-layer-skipped", category="off-by-one"),
    Bug("da_weight_transposed", MLP, "mlp", [('da = dz @ params[f"W{i}"]', 'da = dz @ params[f"W{i}"].T')],
        code="04.mlp-shape-mismatch", category="transpose"),
    # ------------------------------------------------------------------ 4.2 SGD
    Bug("sutskever", SGD, "sgd", [(SGD_BODY, """        g = grads[k] + weight_decay * params[k]
        velocity[k] = momentum * velocity[k] - lr * g
        params[k] += velocity[k]""")], code="04.sgd-sutskever", category="lr-change"),
    Bug("momentum_as_ema", SGD, "sgd",
        [("velocity[k] = momentum * velocity[k] + g", "velocity[k] = momentum * velocity[k] + (1 - momentum) * g")],
        code="04.sgd-ema-velocity", category="classic"),
    Bug("lr_in_velocity", SGD, "sgd", [(SGD_BODY, """        g = grads[k] + weight_decay * params[k]
        velocity[k] = momentum * velocity[k] + lr * g
        params[k] -= velocity[k]""")], code="04.sgd-lr-in-velocity", category="lr-change"),
    Bug("weight_decay_ignored", SGD, "sgd", [("g = grads[k] + weight_decay * params[k]", "g = grads[k]")],
        code="04.sgd-weight-decay-ignored", category="weight-decay"),
    Bug("weight_decay_after_momentum", SGD, "sgd", [(SGD_BODY, """\
        velocity[k] = momentum * velocity[k] + grads[k]
        params[k] -= lr * (velocity[k] + weight_decay * params[k])""")],
        code="04.sgd-weight-decay-after-momentum", category="weight-decay"),
    Bug("velocity_not_stored", SGD, "sgd", [(SGD_BODY, """        g = grads[k] + weight_decay * params[k]
        v = momentum * velocity[k] + g
        params[k] -= lr * v""")], code="04.sgd-velocity-not-stored", category="state"),
    Bug("params_copied", SGD, "sgd", [("params[k] -= lr * velocity[k]", "params = dict(params)\n"
                                       "        params[k] = params[k] - lr * velocity[k]")],
        code="04.sgd-not-in-place", category="in-place"),
    Bug("grads_changed_in_place", SGD, "sgd", [(SGD_BODY, """        g = grads[k]
        g += weight_decay * params[k]
        velocity[k] = momentum * velocity[k] + g
        params[k] -= lr * velocity[k]""")], code="04.sgd-changes-grads", category="in-place"),
    Bug("momentum_on_gradient_only", SGD, "sgd", [(SGD_BODY, """        g = grads[k] + weight_decay * params[k]
        velocity[k] = momentum * velocity[k] + g
        params[k] -= lr * g""")], code="04.sgd-momentum-unused", category="state"),
    # ------------------------------------------------------------------ 4.3 train_step
    Bug("loss_after_update", TRAIN, "train_step", [(f"    {CALL_SGD}\n    return loss",
                                                    f"    {CALL_SGD}\n    return softmax_cross_entropy("
                                                    "mlp_forward(params, x, masks)[0], y)[0]")],
        code="04.train-loss-after-update", category="order"),
    Bug("weight_decay_not_passed", TRAIN, "train_step",
        [(CALL_SGD, "sgd_step(params, grads, velocity, lr, momentum)")],
        code="04.train-weight-decay-not-passed", category="weight-decay"),
    Bug("momentum_not_passed", TRAIN, "train_step", [(CALL_SGD, "sgd_step(params, grads, velocity, lr)")],
        code="04.train-momentum-not-passed", category="state"),
    Bug("masks_not_passed", TRAIN, "train_step", [("scores, cache = mlp_forward(params, x, masks)",
                                                   "scores, cache = mlp_forward(params, x)")],
        code="04.train-masks-not-passed", category="dropout"),
    Bug("no_update", TRAIN, "train_step", [(f"    {CALL_SGD}\n", "")],
        code="04.train-no-update", category="order"),
    Bug("args_swapped", TRAIN, "train_step",
        [(CALL_SGD, "sgd_step(params, grads, velocity, lr, weight_decay, momentum)")],
        code="04.train-args-swapped", category="classic"),
    Bug("returns_pair", TRAIN, "train_step",
        [(f"{CALL_SGD}\n    return loss", f"{CALL_SGD}\n    return loss, dscores")],
        code="malformed", category="form"),
    # ------------------------------------------------------------------ 4.4 L2
    Bug("penalty_without_half", L2, "l2_penalty", [(PENALTY, PENALTY.replace("0.5 * ", ""))],
        code="04.l2-missing-half", category="scale"),
    Bug("grads_twice", L2, "l2_penalty", [(L2_GRADS, "grads = {k: 2 * weight_decay * p for k, p in params.items()}")],
        code="04.l2-grad-factor-2", category="scale"),
    Bug("grads_without_lambda", L2, "l2_penalty", [(L2_GRADS, "grads = {k: p for k, p in params.items()}")],
        code="04.l2-grad-missing-lambda", category="scale"),
    Bug("biases_skipped", L2, "l2_penalty",
        [(PENALTY, PENALTY.replace("for p in params.values())", "for k, p in params.items() if k.startswith('W'))")),
         (L2_GRADS, "grads = {k: weight_decay * p if k.startswith('W') else 0 * p for k, p in params.items()}")],
        code="04.l2-biases-skipped", category="classic"),
    Bug("penalty_overwritten", L2, "l2_penalty", [(PENALTY, """for p in params.values():
        penalty = 0.5 * weight_decay * float(np.sum(p * p))""")],
        code="04.l2-only-last-array", category="classic"),
    # ------------------------------------------------------------------ 4.5 dropout
    Bug("mask_not_inverted", DROP, "dropout", [(MASK, "return (u >= p) * 1.0")],
        code="04.dropout-not-scaled", category="dropout"),
    Bug("keep_probability", DROP, "dropout", [(MASK, "return (u < p) / (1.0 - p)")],
        code="04.dropout-keeps-with-p", category="dropout"),
    Bug("scaled_by_p", DROP, "dropout", [(MASK, "return (u >= p) / p")],
        code="04.dropout-scaled-by-p", category="dropout"),
    Bug("scaled_by_multiplying", DROP, "dropout", [(MASK, "return (u >= p) * (1.0 - p)")],
        code="04.dropout-multiplied", category="dropout"),
    Bug("drops_u_equal_to_p", DROP, "dropout", [(MASK, "return np.where(u <= p, 0.0, 1.0 / (1.0 - p))")],
        code="04.dropout-drops-u-equal-p", category="boundary"),
    Bug("own_random_numbers", DROP, "dropout", [(MASK, "return (np.random.rand(*u.shape) >= p) / (1.0 - p)")],
        code="04.dropout-ignores-u", category="dropout"),
]
