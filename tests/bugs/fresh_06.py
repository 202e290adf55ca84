"""Fresh learner bugs for notebook 06 (vanishing and exploding gradients), from the release's prose alone."""
from bugs import Bug

INIT, BN, EVAL, CLIP = "06.init", "06.batchnorm", "06.batchnorm_eval", "06.clip"
FANS = "return shape[1] * receptive_field, shape[0] * receptive_field"
HE = "math.sqrt(2.0 / ((1.0 + negative_slope ** 2) * fan_in))"
BN_DX = "dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))"
NEW_MEAN = "new_mean = (1 - momentum) * running_mean + momentum * x.mean(axis=0)"
NEW_VAR = "new_var = (1 - momentum) * running_var + momentum * x.var(axis=0, ddof=1)"
CLIP_RETURN = "return [g * scale for g in grads], total_norm"

BUGS = [
    # ---- 6.1 fans, Xavier and He ----
    Bug("fans_swapped", INIT, "init_scales",
        ((FANS, "return shape[0] * receptive_field, shape[1] * receptive_field"),),
        cause="fan_in and fan_out are swapped: a weight is stored (out, in), so fan_in comes from shape[1].",
        keywords=("swap", "fan_in and fan_out", "(out, in)", "shape[1]"), category="swap"),
    Bug("fans_no_receptive_field", INIT, "init_scales",
        ((FANS, "return shape[1], shape[0]"),),
        cause="The fans of a convolution weight ignore the kernel: both must be multiplied by KH * KW.",
        keywords=("receptive", "kernel", "kh", "conv"), category="formula"),
    Bug("xavier_returns_variance", INIT, "init_scales",
        (("return gain * math.sqrt(2.0 / (fan_in + fan_out))", "return gain * 2.0 / (fan_in + fan_out)"),),
        cause="xavier_std returns the variance 2/(fan_in + fan_out) instead of its square root, the standard "
              "deviation.",
        keywords=("sqrt", "square root", "variance", "standard deviation"), category="formula"),
    Bug("xavier_gain_squared", INIT, "init_scales",
        (("return gain * math.sqrt(", "return gain ** 2 * math.sqrt("),),
        cause="The gain multiplies the variance squared, so the standard deviation is multiplied by gain, not "
              "gain^2.",
        keywords=("gain",), category="formula"),
    Bug("he_ignores_slope", INIT, "init_scales",
        ((HE, "math.sqrt(2.0 / fan_in)"),),
        cause="he_std ignores negative_slope: a LeakyReLU keeps a^2 of the negative half, so the variance is "
              "2 / ((1 + a^2) fan_in).",
        keywords=("negative_slope", "slope", "leaky", "1 + a"), category="missing-term"),
    Bug("he_slope_not_squared", INIT, "init_scales",
        ((HE, "math.sqrt(2.0 / ((1.0 + negative_slope) * fan_in))"),),
        cause="The slope enters He's formula squared, (1 + a^2), not (1 + a).",
        keywords=("square", "a^2", "a²", "negative_slope ** 2"), category="formula"),
    # ---- 6.2 batch norm, training mode ----
    Bug("bn_unbiased_variance", BN, "batchnorm_train",
        (("var = x.var(axis=0)  # biased: divides by N", "var = x.var(axis=0, ddof=1)"),),
        cause="The batch is normalized with the unbiased variance (ddof=1); training mode uses the biased one "
              "(divide by N).",
        keywords=("biased", "ddof", "n - 1", "unbiased"), category="formula"),
    Bug("bn_eps_outside_sqrt", BN, "batchnorm_train",
        (("inv_std = 1.0 / np.sqrt(var + eps)\n    xhat = (x - mean) * inv_std\n    out",
          "inv_std = 1.0 / (np.sqrt(var) + eps)\n    xhat = (x - mean) * inv_std\n    out"),),
        cause="eps is added outside the square root; batch norm divides by sqrt(var + eps).",
        keywords=("eps inside", "inside the square root", "sqrt(var + eps)", "outside"), category="formula"),
    Bug("bn_per_example_axis", BN, "batchnorm_train",
        (("mean = x.mean(axis=0)", "mean = x.mean(axis=1, keepdims=True)"),
         ("var = x.var(axis=0)  # biased: divides by N", "var = x.var(axis=1, keepdims=True)")),
        cause="The statistics are taken over the features of each example (axis 1) instead of over the batch "
              "for each feature (axis 0).",
        keywords=("axis", "per feature", "batch axis", "over the batch"), category="axis"),
    Bug("bn_backward_no_stat_terms", BN, "batchnorm_train",
        ((BN_DX, "dx = dxhat * inv_std"),),
        cause="dx treats the mean and variance as constants; in training mode they depend on every x_n, and "
              "their two paths must be added.",
        keywords=("mean term", "variance term", "through the mean", "through the variance"), category="missing-term"),
    Bug("bn_backward_no_gamma", BN, "batchnorm_train",
        (("dxhat = dout * gamma", "dxhat = dout"),),
        cause="The gradient reaching xhat forgets the factor gamma: dxhat = dout * gamma.",
        keywords=("gamma", "γ"), category="missing-factor"),
    Bug("bn_backward_no_mean_term", BN, "batchnorm_train",
        ((" - dxhat.sum(axis=0) - xhat", " - xhat"),),
        cause="dx leaves out the term of the path through the mean, - sum_m dxhat_m.",
        keywords=("mean term", "through the mean", "sum of dxhat", "μ"), category="missing-term"),
    # ---- 6.3 eval mode and running statistics ----
    Bug("running_var_biased", EVAL, "batchnorm_eval",
        ((NEW_VAR, "new_var = (1 - momentum) * running_var + momentum * x.var(axis=0)"),),
        cause="The running variance is updated with the biased batch variance; torch stores the unbiased one, "
              "N/(N-1) sigma^2.",
        keywords=("unbiased", "n/(n-1)", "ddof", "bessel"), category="formula"),
    Bug("running_momentum_swapped", EVAL, "batchnorm_eval",
        ((NEW_MEAN, "new_mean = momentum * running_mean + (1 - momentum) * x.mean(axis=0)"),
         (NEW_VAR, "new_var = momentum * running_var + (1 - momentum) * x.var(axis=0, ddof=1)")),
        cause="momentum weighs the old running value instead of the new batch statistic; torch's update is "
              "(1 - m) * running + m * batch.",
        keywords=("swap", "1 - m", "(1 - momentum)"), category="swap"),
    Bug("eval_uses_batch_stats", EVAL, "batchnorm_eval",
        (("inv_std = 1.0 / np.sqrt(running_var + eps)", "inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)"),
         ("xhat = (x - running_mean) * inv_std", "xhat = (x - x.mean(axis=0)) * inv_std")),
        cause="Eval mode normalizes with the batch's own statistics instead of the running mean and variance.",
        keywords=("running", "batch statistics", "batch's statistics", "batch mean"), category="formula"),
    Bug("eval_backward_training_formula", EVAL, "batchnorm_eval",
        (("return dout * gamma * inv_std, (dout * xhat).sum(axis=0), dout.sum(axis=0)",
          "return batchnorm_backward(dout, cache)"),),
        cause="Eval mode's backward reuses the training formula with its mean and variance terms; with running "
              "statistics the layer is a fixed affine map and dx = dout * gamma * inv_std.",
        keywords=("constant", "affine", "no mean", "training formula"), category="formula"),
    Bug("running_stats_in_place", EVAL, "batchnorm_eval",
        ((NEW_MEAN, "running_mean *= 1 - momentum\n    running_mean += momentum * x.mean(axis=0)\n"
                    "    new_mean = running_mean"),),
        cause="The running mean passed in is updated in place, changing the caller's array; return new arrays.",
        keywords=("in place", "in-place", "mutat", "copy"), category="in-place"),
    # ---- 6.4 clipping by global norm ----
    Bug("clip_always_rescales", CLIP, "clip",
        (("scale = min(1.0, max_norm / (total_norm + 1e-6))", "scale = max_norm / (total_norm + 1e-6)"),),
        cause="The factor is not capped at 1, so gradients below max_norm are scaled up instead of passing "
              "unchanged.",
        keywords=("min(1", "below max_norm", "unchanged", "scaled up"), category="formula"),
    Bug("clip_per_tensor", CLIP, "clip",
        ((CLIP_RETURN, "return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total_norm"),),
        cause="Each array is clipped by its own norm instead of all arrays by one factor from the global norm.",
        keywords=("global", "per-tensor", "each array", "one factor"), category="formula"),
    Bug("clip_in_place", CLIP, "clip",
        ((CLIP_RETURN, "for g in grads:\n        g *= scale\n    return grads, total_norm"),),
        cause="The gradients passed in are scaled in place; the function must return new arrays.",
        keywords=("in place", "in-place", "mutat", "new arrays"), category="in-place"),
]
