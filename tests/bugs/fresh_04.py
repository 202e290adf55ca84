"""Fresh learner bugs for notebook 04 (training an MLP), written from the release's prose alone."""
from bugs import Bug

MLP, SGD, STEP, L2, DROP = "04.mlp", "04.sgd", "04.train_step", "04.l2_penalty", "04.dropout"
CALL_SGD = "sgd_step(params, grads, velocity, lr, momentum, weight_decay)"

BUGS = [
    # ---- 4.1 MLP forward and backward ----
    Bug("relu_on_scores", MLP, "mlp",
        (("return z, (params, inputs, pre, masks)", "return np.maximum(z, 0), (params, inputs, pre, masks)"),),
        cause="A ReLU is applied after the last layer too; the scores (logits) must come straight out of the "
              "last linear layer.",
        keywords=("last layer", "after the last", "on the scores", "no relu"), category="missing-term"),
    Bug("relu_grad_one_at_zero", MLP, "mlp",
        (("(pre[i - 2] > 0)", "(pre[i - 2] >= 0)"),),
        cause="The ReLU mask uses z >= 0, so the gradient passes at exactly z = 0; relu'(0) is 0 (z > 0).",
        keywords=("z = 0", "at 0", "at zero", ">="), category="kink"),
    Bug("bias_not_summed", MLP, "mlp",
        (('grads[f"b{i}"] = dz.sum(axis=0)', 'grads[f"b{i}"] = dz'),),
        cause="The bias gradient is dz itself, (N, H); it must be summed over the batch to shape (H,).",
        keywords=("sum over", "summed", "axis=0", "broadcast"), category="batch-sum"),
    Bug("mask_ignored_backward", MLP, "mlp",
        (("                da = da * masks[i - 2]\n", "                pass\n"),),
        cause="The backward pass does not multiply by the dropout mask that the forward pass applied.",
        keywords=("mask", "dropout"), category="mask"),
    Bug("first_layer_skipped", MLP, "mlp",
        (("range(len(inputs), 0, -1)", "range(len(inputs), 1, -1)"),),
        cause="The backward loop stops one layer early, so the first layer's W1 and b1 get no gradient.",
        keywords=("first layer", "off-by-one", "one layer early", "no gradient for w1"), category="off-by-one"),
    # ---- 4.2 SGD with momentum ----
    Bug("weight_decay_after_momentum", SGD, "sgd",
        (("g = grads[k] + weight_decay * params[k]", "g = grads[k]"),
         ("params[k] -= lr * velocity[k]", "params[k] -= lr * (velocity[k] + weight_decay * params[k])")),
        cause="Weight decay is added to the step after the momentum update instead of to the gradient before it, "
              "so it never enters the velocity.",
        keywords=("before the momentum", "into the velocity", "decay to the gradient", "outside the velocity"),
        category="order"),
    Bug("sutskever_form", SGD, "sgd",
        (("velocity[k] = momentum * velocity[k] + g", "velocity[k] = momentum * velocity[k] - lr * g"),
         ("params[k] -= lr * velocity[k]", "params[k] += velocity[k]")),
        cause="The velocity holds the learning rate (v = mu v - lr g; p += v), the Sutskever form; torch keeps lr "
              "outside (v = mu v + g; p -= lr v), which differs as soon as lr changes.",
        keywords=("sutskever", "inside the velocity", "lr change", "learning-rate change"), category="order"),
    Bug("params_rebound", SGD, "sgd",
        (("params[k] -= lr * velocity[k]", "p = params[k]\n        p = p - lr * velocity[k]"),),
        cause="The new parameter is bound to a local name and never written back, so params is not updated in "
              "place.",
        keywords=("in place", "in-place", "not updated", "write back"), category="in-place"),
    Bug("velocity_not_stored", SGD, "sgd",
        (("velocity[k] = momentum * velocity[k] + g", "v = momentum * velocity[k] + g"),
         ("params[k] -= lr * velocity[k]", "params[k] -= lr * v")),
        cause="The new velocity is kept in a local variable and never stored in velocity, so momentum never "
              "builds up.",
        keywords=("not stored", "never stored", "velocity is not updated", "momentum never"), category="state"),
    Bug("momentum_dampened", SGD, "sgd",
        (("momentum * velocity[k] + g", "momentum * velocity[k] + (1 - momentum) * g"),),
        cause="The velocity is an exponential average, mu v + (1 - mu) g; torch's momentum adds the full "
              "gradient, mu v + g.",
        keywords=("1 - momentum", "dampening", "(1 - mu)", "exponential average"), category="formula"),
    # ---- 4.3 training step ----
    Bug("loss_after_update", STEP, "train_step",
        (("    return loss\n", "    loss = softmax_cross_entropy(mlp_forward(params, x, masks)[0], y)[0]\n"
                               "    return loss\n"),),
        cause="The returned loss is recomputed after the update; it must be the loss of the parameters that "
              "produced the gradients, before the update.",
        keywords=("before the update", "after the update", "recomput"), category="order"),
    Bug("masks_not_passed", STEP, "train_step",
        (("mlp_forward(params, x, masks)", "mlp_forward(params, x)"),),
        cause="train_step calls mlp_forward without the dropout masks.",
        keywords=("mask", "dropout"), category="mask"),
    Bug("sgd_args_swapped", STEP, "train_step",
        ((CALL_SGD, "sgd_step(params, grads, velocity, lr, weight_decay, momentum)"),),
        cause="momentum and weight_decay are passed to sgd_step in the wrong positional order.",
        keywords=("swap", "argument order", "positional", "order of the arguments"), category="swap"),
    # ---- 4.4 L2 penalty ----
    Bug("l2_no_half", L2, "l2_penalty",
        (("penalty = 0.5 * weight_decay * sum(", "penalty = weight_decay * sum("),),
        cause="The penalty forgets the factor 1/2 of (lambda/2) * sum of squares.",
        keywords=("1/2", "half", "0.5", "λ/2"), category="missing-factor"),
    Bug("l2_grad_doubled", L2, "l2_penalty",
        (("grads = {k: weight_decay * p for", "grads = {k: 2 * weight_decay * p for"),),
        cause="The gradient of (lambda/2)||p||^2 is lambda p; the 2 of the square cancels the 1/2 and must not "
              "be kept.",
        keywords=("factor 2", "2λ", "2 * weight_decay", "cancel"), category="missing-factor"),
    Bug("l2_skips_biases", L2, "l2_penalty",
        (("for p in params.values())", 'for k, p in params.items() if k.startswith("W"))'),
         ("grads = {k: weight_decay * p for k, p in params.items()}",
          'grads = {k: weight_decay * p if k.startswith("W") else 0 * p for k, p in params.items()}')),
        cause="Biases are left out of the penalty; like torch's weight_decay it applies to every array passed in.",
        keywords=("bias",), category="missing-term"),
    # ---- 4.5 dropout mask ----
    Bug("dropout_not_inverted", DROP, "dropout",
        (("return (u >= p) / (1.0 - p)", "return (u >= p) * 1.0"),),
        cause="The kept units are not scaled by 1/(1 - p), so the expected activation shrinks to (1 - p).",
        keywords=("1/(1 - p)", "1/(1-p)", "invert", "rescal"), category="missing-factor"),
    Bug("dropout_keeps_with_p", DROP, "dropout",
        (("(u >= p)", "(u < p)"),),
        cause="p was taken as the probability of keeping a unit: units with u < p are kept instead of dropped.",
        keywords=("keep", "u >= p", "probability of dropping", "u < p"), category="formula"),
    Bug("dropout_strict_inequality", DROP, "dropout",
        (("(u >= p)", "(u > p)"),),
        cause="A unit with u exactly equal to p is dropped; the rule keeps it (u >= p).",
        keywords=("u >= p", ">=", "u = p", "equal to p"), category="boundary"),
]
