"""Learner bugs of notebook 03 (vectorized layers), each with the diagnosis code the self-check must give.

Cells: linear (3.1), activations (3.2), mse (3.3), cross_entropy (3.4).
"""
from bugs import Bug

LIN, ACT, MSE, CE = "03.linear", "03.activations", "03.mse", "03.cross_entropy"
DB = "dbias = dout.sum(axis=0)"
RELU_B = "return dout * (x > 0)"
LEAKY_F = "return np.where(x > 0, x, negative_slope * x), (x, negative_slope)"
LEAKY_B = "return np.where(x > 0, dout, negative_slope * dout)"
SIG_F = ("e = np.exp(-np.abs(x))                  # in (0, 1]: cannot overflow\n"
         "    s = np.where(x >= 0, 1.0, e) / (1 + e)")
SHIFT = "shifted = logits - logits.max(axis=1, keepdims=True)  # every exponent <= 0"
LOGP = "log_probs = shifted - log_sum"

BUGS = [
    # ------------------------------------------------------------------ 3.1 linear
    Bug("bias_not_summed", LIN, "linear", [(DB, "dbias = dout")], code="batch-not-summed", category="cs231n"),
    Bug("bias_averaged", LIN, "linear", [(DB, "dbias = dout.mean(axis=0)")], code="divided-by-N-twice",
        category="cs231n"),
    Bug("bias_summed_over_features", LIN, "linear", [(DB, "dbias = dout.sum(axis=1)")],
        code="03.bias-summed-over-wrong-axis", category="shape"),
    Bug("bias_summed_to_scalar", LIN, "linear", [(DB, "dbias = dout.sum()")],
        code="03.bias-summed-over-wrong-axis", category="shape"),
    Bug("dweight_transposed", LIN, "linear", [("dweight = dout.T @ x", "dweight = x.T @ dout")],
        code="transposed", category="cs231n"),
    Bug("dweight_divided_by_N", LIN, "linear", [("dweight = dout.T @ x", "dweight = dout.T @ x / x.shape[0]")],
        code="divided-by-N-twice", category="cs231n"),
    Bug("dx_weight_transposed", LIN, "linear", [("dx = dout @ weight", "dx = dout @ weight.T")],
        code="03.linear-shape-mismatch", category="transpose"),
    Bug("forward_no_bias", LIN, "linear", [("out = x @ weight.T + bias  #", "out = x @ weight.T  #")],
        code="03.linear-missing-bias", category="forward"),
    Bug("forward_no_transpose", LIN, "linear", [("out = x @ weight.T + bias  #", "out = x @ weight + bias  #")],
        code="03.linear-shape-mismatch", category="transpose"),
    Bug("calls_reference", LIN, "linear", [("    x, weight = cache\n    dx = dout @ weight\n",
                                            "    from backprop_lab import functional as F\n"
                                            "    x, weight = cache\n"
                                            "    dx = F.linear_backward(dout, (x, weight, True))[0]\n")],
        code="uses-reference", category="reference"),
    # ------------------------------------------------------------------ 3.2 activations
    Bug("relu_grad_at_zero", ACT, "activations", [(RELU_B, "return dout * (x >= 0)")],
        code="03.relu-grad-at-zero", category="kink"),
    Bug("relu_missing_dout", ACT, "activations", [(RELU_B, "return (x > 0).astype(float)")],
        code="03.activation-missing-dout", category="chain"),
    Bug("relu_times_input", ACT, "activations", [(RELU_B, "return dout * np.maximum(x, 0)")],
        code="03.relu-backward-uses-value", category="classic"),
    Bug("leaky_slope_fixed_forward", ACT, "activations",
        [(LEAKY_F, "return np.where(x > 0, x, 0.01 * x), (x, negative_slope)")],
        code="03.leaky-slope-ignored", category="slope"),
    Bug("leaky_slope_fixed_backward", ACT, "activations",
        [(LEAKY_B, "return np.where(x > 0, dout, 0.01 * dout)")],
        code="03.leaky-slope-ignored", category="slope"),
    Bug("leaky_negative_missing_dout", ACT, "activations",
        [(LEAKY_B, "return np.where(x > 0, dout, negative_slope)")],
        code="03.activation-missing-dout", category="chain"),
    Bug("leaky_grad_at_zero", ACT, "activations",
        [(LEAKY_B, "return np.where(x >= 0, dout, negative_slope * dout)")],
        code="03.relu-grad-at-zero", category="kink"),
    Bug("sigmoid_backward_uses_input", ACT, "activations",
        [("    return s, s\n", "    return s, x\n")],
        code="03.sigmoid-backward-uses-input", category="input-vs-output"),
    Bug("sigmoid_naive", ACT, "activations", [(SIG_F, "s = 1 / (1 + np.exp(-x))")],
        code="03.sigmoid-overflow", category="stability"),
    Bug("sigmoid_naive_where", ACT, "activations",
        [(SIG_F, "s = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))")],
        code="03.sigmoid-overflow", category="stability"),
    Bug("sigmoid_missing_dout", ACT, "activations", [("return dout * s * (1 - s)", "return s * (1 - s)")],
        code="03.activation-missing-dout", category="chain"),
    Bug("tanh_backward_uses_input", ACT, "activations",
        [("    t = np.tanh(x)\n    return t, t\n", "    t = np.tanh(x)\n    return t, x\n")],
        code="03.tanh-backward-uses-input", category="input-vs-output"),
    Bug("tanh_not_squared", ACT, "activations", [("return dout * (1 - t * t)", "return dout * (1 - t)")],
        code="03.tanh-not-squared", category="classic"),
    # ------------------------------------------------------------------ 3.3 mse
    Bug("mse_grad_not_averaged", MSE, "mse", [("dpred = 2 * diff / diff.size", "dpred = 2 * diff")],
        code="03.mse-not-averaged", category="scale"),
    Bug("mse_averaged_over_batch", MSE, "mse",
        [("loss = np.mean(diff ** 2)", "loss = np.sum(diff ** 2) / diff.shape[0]"),
         ("dpred = 2 * diff / diff.size", "dpred = 2 * diff / diff.shape[0]")],
        code="03.mse-mean-over-batch-only", category="scale"),
    Bug("mse_missing_2", MSE, "mse", [("dpred = 2 * diff / diff.size", "dpred = diff / diff.size")],
        code="missing-factor-2", category="scale"),
    Bug("mse_sign", MSE, "mse", [("diff = pred - target", "diff = target - pred")],
        code="wrong-sign", category="sign"),
    Bug("mse_two_axes", MSE, "mse",
        [("dpred = 2 * diff / diff.size", "dpred = 2 * diff / (diff.shape[0] * diff.shape[1])")],
        code="raised-exception", category="shape"),
    # ------------------------------------------------------------------ 3.4 softmax cross-entropy
    Bug("ce_not_divided_by_N", CE, "cross_entropy", [("    dlogits /= N\n", "")], code="factor-of-N",
        category="cs231n"),
    Bug("ce_sign_flipped", CE, "cross_entropy", [("dlogits /= N", "dlogits /= -N")], code="wrong-sign",
        category="sign"),
    Bug("ce_no_max_subtraction", CE, "cross_entropy", [(SHIFT, "shifted = logits")],
        code="03.ce-no-max-subtraction", category="cs231n"),
    Bug("ce_log_of_softmax", CE, "cross_entropy",
        [(LOGP, "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))")],
        code="03.ce-log-underflow", category="underflow"),
    Bug("ce_global_max", CE, "cross_entropy", [(SHIFT, "shifted = logits - logits.max()")],
        code="03.ce-global-max", category="stability"),
    Bug("ce_loss_summed", CE, "cross_entropy", [("loss = -log_probs[rows, labels].mean()",
                                                 "loss = -log_probs[rows, labels].sum()")],
        code="factor-of-N", category="scale"),
    Bug("ce_missing_onehot", CE, "cross_entropy", [("    dlogits[rows, labels] -= 1\n", "")],
        code="03.ce-missing-onehot", category="cs231n"),
    Bug("ce_onehot_all_rows", CE, "cross_entropy", [("dlogits[rows, labels] -= 1", "dlogits[:, labels] -= 1")],
        code="03.ce-onehot-indexing", category="indexing"),
    Bug("ce_softmax_wrong_axis", CE, "cross_entropy",
        [(SHIFT, "shifted = logits - logits.max(axis=0, keepdims=True)"),
         ("log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
          "log_sum = np.log(np.exp(shifted).sum(axis=0, keepdims=True))")],
        code="03.ce-softmax-wrong-axis", category="axis"),
    Bug("ce_logsumexp_no_axis", CE, "cross_entropy",
        [("log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))", "log_sum = np.log(np.exp(shifted).sum())")],
        code="03.ce-softmax-wrong-axis", category="axis"),
    Bug("ce_no_keepdims", CE, "cross_entropy",
        [("log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
          "log_sum = np.log(np.exp(shifted).sum(axis=1))")],
        code="03.keepdims", category="shape"),
]
