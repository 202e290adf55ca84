"""Fresh learner bugs for notebook 03 (vectorized layers), written from the release's prose alone."""
from bugs import Bug

LIN, ACT, MSE, CE = "03.linear", "03.activations", "03.mse", "03.cross_entropy"
NAIVE_SIGMOID = ("    e = np.exp(-np.abs(x))                  # in (0, 1]: cannot overflow\n"
                 "    s = np.where(x >= 0, 1.0, e) / (1 + e)  # x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x)\n")

BUGS = [
    # ---- 3.1 linear ----
    Bug("dweight_transposed", LIN, "linear",
        (("dweight = dout.T @ x", "dweight = x.T @ dout"),),
        cause="dweight is computed as x.T @ dout, shape (D, M): the transpose of dout.T @ x.",
        keywords=("transpos",), category="transpose"),
    Bug("dbias_not_summed", LIN, "linear",
        (("dbias = dout.sum(axis=0)", "dbias = dout"),),
        cause="dbias is dout itself, (N, M): the bias was broadcast over the batch, so its gradient must be "
              "summed over the N rows.",
        keywords=("sum over", "summed", "broadcast", "axis=0"), category="batch-sum"),
    Bug("dbias_mean", LIN, "linear",
        (("dbias = dout.sum(axis=0)", "dbias = dout.mean(axis=0)"),),
        cause="dbias averages dout over the batch instead of summing it; the 1/N is already inside dout.",
        keywords=("mean", "averag", "sum instead"), category="batch-sum"),
    Bug("dx_weight_transposed", LIN, "linear",
        (("dx = dout @ weight", "dx = dout @ weight.T"),),
        cause="dx multiplies by weight.T instead of weight: (N, M) @ (M, D) is the product that gives (N, D).",
        keywords=("transpos", "weight.t"), category="transpose"),
    Bug("forward_no_bias", LIN, "linear",
        (("out = x @ weight.T + bias  #", "out = x @ weight.T  #"),),
        cause="The forward pass forgets to add the bias.",
        keywords=("missing bias", "without the bias", "forgot the bias", "+ bias"), category="missing-term"),
    # ---- 3.2 activations ----
    Bug("relu_grad_one_at_zero", ACT, "activations",
        (("return dout * (x > 0)", "return dout * (x >= 0)"),),
        cause="relu_backward lets the gradient through at exactly x = 0 (x >= 0); like torch, relu'(0) is 0.",
        keywords=("x = 0", "at 0", "at zero", ">="), category="kink"),
    Bug("leaky_default_slope", ACT, "activations",
        (("def leaky_relu_forward(x, negative_slope=0.01):", "def leaky_relu_forward(x, negative_slope=0.1):"),),
        cause="The default negative_slope is 0.1; torch's default (and the prose's) is 0.01.",
        keywords=("default", "0.01"), category="default"),
    Bug("leaky_backward_as_relu", ACT, "activations",
        (("np.where(x > 0, dout, negative_slope * dout)", "np.where(x > 0, dout, 0.0)"),),
        cause="leaky_relu_backward was copied from ReLU: it blocks the gradient for x <= 0 instead of passing "
              "negative_slope times it.",
        keywords=("slope", "like relu", "blocks the gradient"), category="missing-term"),
    Bug("sigmoid_naive", ACT, "activations",
        ((NAIVE_SIGMOID, "    s = 1 / (1 + np.exp(-x))\n"),),
        cause="The sigmoid is computed as 1 / (1 + exp(-x)), which overflows for large negative x.",
        keywords=("overflow", "stable", "large negative"), category="stability"),
    Bug("sigmoid_caches_input", ACT, "activations",
        (("    return s, s\n", "    return s, x\n"),),
        cause="sigmoid_forward caches the input x, so the backward computes x(1 - x) instead of s(1 - s) with "
              "the output s.",
        keywords=("the input", "the output", "σ(x)", "x(1 - x)"), category="input-vs-output"),
    Bug("tanh_caches_input", ACT, "activations",
        (("    return t, t\n", "    return t, x\n"),),
        cause="tanh_forward caches the input x, so the backward computes 1 - x^2 instead of 1 - tanh(x)^2.",
        keywords=("the input", "the output", "tanh(x)", "1 - x²"), category="input-vs-output"),
    # ---- 3.3 MSE ----
    Bug("mse_divides_by_batch", MSE, "mse",
        (("dpred = 2 * diff / diff.size", "dpred = 2 * diff / len(diff)"),),
        cause="The gradient divides by N (len) instead of by the number of elements N*D that the mean runs over.",
        keywords=("every element", "n * d", "n*d", ".size"), category="missing-factor"),
    Bug("mse_no_factor_2", MSE, "mse",
        (("dpred = 2 * diff / diff.size", "dpred = diff / diff.size"),),
        cause="The derivative of the square is 2(pred - target); the factor 2 was dropped.",
        keywords=("factor 2", "factor of 2", "2 *", "2/(nd)"), category="missing-factor"),
    # ---- 3.4 softmax cross-entropy ----
    Bug("ce_no_max_shift", CE, "cross_entropy",
        (("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits"),),
        cause="The row maximum is not subtracted before exp, so logits near 1000 overflow.",
        keywords=("overflow", "subtract the max", "log-sum-exp", "max-subtraction"), category="stability"),
    Bug("ce_global_max", CE, "cross_entropy",
        (("logits.max(axis=1, keepdims=True)", "logits.max()"),),
        cause="One global maximum is subtracted instead of each row's own: rows far below it underflow to a "
              "zero sum whose log is -inf.",
        keywords=("per row", "each row", "global max", "axis=1"), category="axis"),
    Bug("ce_log_of_softmax", CE, "cross_entropy",
        (("log_probs = shifted - log_sum",
          "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))"),),
        cause="log p is taken as the log of the (shifted) softmax, whose tiny probabilities underflow to 0 and "
              "give log(0) = -inf; compute it as shifted - log_sum.",
        keywords=("underflow", "log(0)", "log of", "log-softmax"), category="stability"),
    Bug("ce_not_divided_by_n", CE, "cross_entropy",
        (("    dlogits /= N\n", ""),),
        cause="dlogits is not divided by N although the loss is a mean over the batch.",
        keywords=("1/n", "divide", "batch size", "mean"), category="missing-factor"),
    Bug("ce_onehot_all_rows", CE, "cross_entropy",
        (("dlogits[rows, labels] -= 1", "dlogits[:, labels] -= 1"),),
        cause="dlogits[:, labels] subtracts 1 in every row at every label's column, instead of one entry per "
              "row with dlogits[np.arange(N), labels].",
        keywords=("one-hot", "arange", "every row", "fancy index"), category="indexing"),
]
