"""Learner bugs in notebook 09 (an autoencoder), each with the diagnosis code its visible check must give."""
from bugs import Bug

LOSS, AE = "09.loss", "09.autoencoder"
SIGMOID = ("    e = np.exp(-np.abs(logits))                  # in (0, 1]: no overflow at any logit\n"
           "    s = np.where(logits >= 0, 1.0, e) / (1 + e)  # sigmoid(logits)\n")
DS = "    ds = 2 * diff / diff.size                    # dL/ds: the mean over all N*D pixels\n"
RET = "    return float(loss), ds * s * (1 - s)         # the chain rule through the sigmoid"
G4 = '    g = {"W4": dlogits.T @ h2, "b4": dlogits.sum(axis=0)}\n'
DA3 = '    da3 = (dlogits @ p["W4"]) * (a3 > 0)     # back through linear W4, then the decoder\'s ReLU\n'
DA1 = "    da1 = (dcode @ p[\"W2\"]) * (a1 > 0)       # the encoder's ReLU\n"
CODE = '    code = h1 @ p["W2"].T + p["b2"]          # (N, L): the bottleneck, no activation\n'

BUGS = [
    # ---------------------------------------------------------------- 9.1 the loss
    Bug("no_sigmoid_derivative", LOSS, "loss", ((RET, "    return float(loss), ds"),),
        code="09.loss-missing-sigmoid-derivative", category="classic"),
    Bug("mean_over_batch_only", LOSS, "loss", ((DS, "    ds = 2 * diff / len(diff)\n"),),
        code="09.loss-mean-over-batch-only", category="classic"),
    Bug("missing_two", LOSS, "loss", ((DS, "    ds = diff / diff.size\n"),),
        code="missing-factor-2", category="classic"),
    Bug("sigmoid_derivative_of_logits", LOSS, "loss",
        ((RET, "    return float(loss), ds * logits * (1 - logits)"),),
        code="09.sigmoid-derivative-uses-logits", category="sigmoid"),
    Bug("sigmoid_derivative_plus", LOSS, "loss", ((RET, "    return float(loss), ds * s * (1 + s)"),),
        code="09.sigmoid-derivative-formula", category="sigmoid"),
    Bug("bce_gradient", LOSS, "loss", ((RET, "    return float(loss), diff / diff.size"),),
        code="09.loss-bce-gradient", category="classic"),
    Bug("unstable_sigmoid", LOSS, "loss", ((SIGMOID, "    s = np.exp(logits) / (1 + np.exp(logits))\n"),),
        code="09.sigmoid-overflow", category="sigmoid"),
    Bug("naive_sigmoid", LOSS, "loss", ((SIGMOID, "    s = 1 / (1 + np.exp(-logits))\n"),),
        code="09.sigmoid-overflow", category="sigmoid"),
    Bug("stable_sigmoid_branches_swapped", LOSS, "loss",
        (("np.where(logits >= 0, 1.0, e)", "np.where(logits >= 0, e, 1.0)"),),
        code="09.sigmoid-of-minus-z", category="sigmoid"),
    Bug("loss_is_a_sum", LOSS, "loss",
        (("    loss = np.mean(diff ** 2)\n", "    loss = np.sum(diff ** 2)\n"), (DS, "    ds = 2 * diff\n")),
        code="09.loss-sum-not-mean", category="classic"),
    Bug("loss_on_logits", LOSS, "loss", (("    diff = s - target\n", "    diff = logits - target\n"),),
        code="09.loss-without-sigmoid", category="classic"),
    Bug("sign_flipped", LOSS, "loss", (("    diff = s - target\n", "    diff = target - s\n"),),
        code="wrong-sign", category="classic"),
    # ---------------------------------------------------------------- 9.2 the autoencoder
    Bug("relu_not_masked", AE, "autoencoder",
        ((DA3, '    da3 = dlogits @ p["W4"]\n'), (DA1, '    da1 = dcode @ p["W2"]\n')),
        code="09.ae-relu-not-masked", category="classic"),
    Bug("decoder_relu_not_masked", AE, "autoencoder", ((DA3, '    da3 = dlogits @ p["W4"]\n'),),
        code="09.ae-relu-not-masked", category="classic"),
    Bug("encoder_mask_ge_zero", AE, "autoencoder", ((DA1, '    da1 = (dcode @ p["W2"]) * (a1 >= 0)\n'),),
        code="09.ae-relu-grad-at-zero", category="kink"),
    Bug("relu_masks_swapped", AE, "autoencoder",
        ((DA3, '    da3 = (dlogits @ p["W4"]) * (a1 > 0)\n'), (DA1, '    da1 = (dcode @ p["W2"]) * (a3 > 0)\n')),
        code="09.ae-relu-masks-swapped", category="classic"),
    Bug("relu_on_the_code", AE, "autoencoder",
        ((CODE, '    code = np.maximum(h1 @ p["W2"].T + p["b2"], 0)\n'),),
        code="09.ae-relu-on-code", category="classic"),
    Bug("mask_at_the_code", AE, "autoencoder",
        (('    dcode = da3 @ p["W3"]                    # the gradient crosses the bottleneck\n',
          '    dcode = (da3 @ p["W3"]) * (code > 0)\n'),),
        code="09.ae-mask-on-code", category="classic"),
    Bug("dW4_from_pre_activation", AE, "autoencoder",
        ((G4, '    g = {"W4": dlogits.T @ a3, "b4": dlogits.sum(axis=0)}\n'),),
        code="09.ae-dW-uses-pre-activation", category="classic"),
    Bug("dW2_from_pre_activation", AE, "autoencoder",
        (('g["W2"], g["b2"] = dcode.T @ h1,', 'g["W2"], g["b2"] = dcode.T @ a1,'),),
        code="09.ae-dW-uses-pre-activation", category="classic"),
    Bug("dW4_transposed", AE, "autoencoder",
        ((G4, '    g = {"W4": h2.T @ dlogits, "b4": dlogits.sum(axis=0)}\n'),), code="transposed", category="classic"),
    Bug("db4_summed_over_pixels", AE, "autoencoder",
        ((G4, '    g = {"W4": dlogits.T @ h2, "b4": dlogits.sum(axis=1)}\n'),),
        code="09.ae-bias-grad-wrong-axis", category="batch sum"),
    Bug("db_averaged", AE, "autoencoder",
        (('g["W1"], g["b1"] = da1.T @ x, da1.sum(axis=0)', 'g["W1"], g["b1"] = da1.T @ x, da1.mean(axis=0)'),),
        code="divided-by-N-twice", category="batch sum"),
    Bug("code_bias_forgotten", AE, "autoencoder", ((CODE, '    code = h1 @ p["W2"].T\n'),),
        code="09.ae-bias-missing", category="classic"),
    Bug("dcode_through_transposed_weight", AE, "autoencoder",
        (('    dcode = da3 @ p["W3"]                    # the gradient crosses the bottleneck\n',
          '    dcode = da3 @ p["W3"].T\n'),),
        code="raised-exception", category="shapes"),
]
