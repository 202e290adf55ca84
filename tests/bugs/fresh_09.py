"""Fresh learner bugs for notebook 09 (the autoencoder), written from the release's prose alone."""
from bugs import Bug

LOSS, AE = "09.loss", "09.autoencoder"
STABLE = ("    e = np.exp(-np.abs(logits))                  # in (0, 1]: no overflow at any logit\n"
          "    s = np.where(logits >= 0, 1.0, e) / (1 + e)  # sigmoid(logits)\n")
DS = "ds = 2 * diff / diff.size"
RET = "return float(loss), ds * s * (1 - s)"
G4 = 'g = {"W4": dlogits.T @ h2, "b4": dlogits.sum(axis=0)}'

BUGS = [
    # ---- 9.1 the reconstruction loss ----
    Bug("sigmoid_naive", LOSS, "loss",
        ((STABLE, "    s = 1 / (1 + np.exp(-logits))\n"),),
        cause="The sigmoid is computed as 1 / (1 + exp(-z)), which overflows for logits of -800.",
        keywords=("overflow", "stable", "large negative"), category="stability"),
    Bug("mean_over_rows_only", LOSS, "loss",
        ((DS, "ds = 2 * diff / len(diff)"),),
        cause="The gradient divides by N instead of N*D: the mean runs over every pixel of every image.",
        keywords=("every pixel", "n * d", "n*d", ".size"), category="missing-factor"),
    Bug("no_sigmoid_derivative", LOSS, "loss",
        ((RET, "return float(loss), ds"),),
        cause="The gradient stops at dL/ds and is not multiplied by the sigmoid's derivative s(1 - s).",
        keywords=("s(1 - s)", "s * (1 - s)", "sigmoid's derivative", "through the sigmoid"), category="missing-term"),
    Bug("sigmoid_derivative_of_logits", LOSS, "loss",
        ((RET, "return float(loss), ds * logits * (1 - logits)"),),
        cause="The sigmoid's derivative is computed from the logits z instead of the output s = sigmoid(z).",
        keywords=("the logits", "instead of s", "z(1 - z)", "s(1 - s)"), category="input-vs-output"),
    Bug("no_factor_2", LOSS, "loss",
        ((DS, "ds = diff / diff.size"),),
        cause="The derivative of the square is 2(s - x); the factor 2 was dropped.",
        keywords=("factor 2", "factor of 2", "2 *", "2/(nd)"), category="missing-factor"),
    Bug("stable_branches_swapped", LOSS, "loss",
        (("np.where(logits >= 0, 1.0, e)", "np.where(logits >= 0, e, 1.0)"),),
        cause="The two branches of the stable sigmoid are swapped: for z >= 0 the numerator is 1, for z < 0 it "
              "is e^z.",
        keywords=("branch", "swap", "e^z", "numerator"), category="swap"),
    Bug("loss_sign_flipped", LOSS, "loss",
        (("diff = s - target", "diff = target - s"),),
        cause="The difference is taken as target - s, which flips the gradient's sign (the loss is unchanged).",
        keywords=("sign",), category="sign"),
    # ---- 9.2 encoder and decoder ----
    Bug("relu_on_code", AE, "autoencoder",
        (('code = h1 @ p["W2"].T + p["b2"]', 'code = np.maximum(h1 @ p["W2"].T + p["b2"], 0)'),),
        cause="A ReLU is applied to the code; the bottleneck layer has no activation.",
        keywords=("code", "bottleneck", "no activation"), category="missing-term"),
    Bug("decoder_relu_mask_missing", AE, "autoencoder",
        (('da3 = (dlogits @ p["W4"]) * (a3 > 0)', 'da3 = dlogits @ p["W4"]'),),
        cause="The backward pass skips the decoder's ReLU: the gradient must be multiplied by (a3 > 0).",
        keywords=("mask", "decoder", "a3 > 0", "relu"), category="missing-term"),
    Bug("encoder_relu_at_zero", AE, "autoencoder",
        (("(a1 > 0)", "(a1 >= 0)"),),
        cause="The encoder's ReLU mask uses a1 >= 0, passing the gradient where the pre-activation is exactly 0; "
              "relu'(0) is 0.",
        keywords=("at 0", "exactly 0", ">=", "relu'(0)"), category="kink"),
    Bug("dW2_transposed", AE, "autoencoder",
        (('g["W2"], g["b2"] = dcode.T @ h1', 'g["W2"], g["b2"] = h1.T @ dcode'),),
        cause="dW2 is computed as h1.T @ dcode, the transpose of dcode.T @ h1.",
        keywords=("transpos",), category="transpose"),
    Bug("dW2_from_pre_activation", AE, "autoencoder",
        (('g["W2"], g["b2"] = dcode.T @ h1', 'g["W2"], g["b2"] = dcode.T @ a1'),),
        cause="dW2 uses the encoder's pre-activation a1 instead of the layer's actual input h1 = relu(a1).",
        keywords=("pre-activation", "relu output", "h1", "a1"), category="input-vs-output"),
    Bug("db4_wrong_axis", AE, "autoencoder",
        ((G4, 'g = {"W4": dlogits.T @ h2, "b4": dlogits.sum(axis=1)}'),),
        cause="db4 sums over the pixels (axis 1) instead of over the batch (axis 0).",
        keywords=("axis", "over the batch", "axis=1", "pixels"), category="axis"),
    Bug("code_masked_in_backward", AE, "autoencoder",
        (('dcode = da3 @ p["W3"]', 'dcode = (da3 @ p["W3"]) * (code > 0)'),),
        cause="The backward pass multiplies by a ReLU mask at the code, which has no activation.",
        keywords=("code", "no activation", "bottleneck"), category="missing-term"),
    Bug("grads_over_n", AE, "autoencoder",
        ((G4, 'g = {"W4": dlogits.T @ h2 / len(x), "b4": dlogits.sum(axis=0) / len(x)}'),),
        cause="The last layer's gradients are divided by N once more; the loss's mean is already inside dlogits.",
        keywords=("1/n", "divide", "divided by n", "twice"), category="missing-factor"),
]
