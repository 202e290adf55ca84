"""Learner bugs in notebook 06 (vanishing and exploding gradients), each with the diagnosis code its
visible check must give."""
from bugs import Bug

INIT, BN, EVAL, CLIP = "06.init", "06.batchnorm", "06.batchnorm_eval", "06.clip"
FANS = "    return shape[1] * receptive_field, shape[0] * receptive_field"
XAVIER = "    return gain * math.sqrt(2.0 / (fan_in + fan_out))"
HE = "    return math.sqrt(2.0 / ((1.0 + negative_slope ** 2) * fan_in))"
DX = "    dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))"
TOTAL = "    total_norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))"
SCALE = "    scale = min(1.0, max_norm / (total_norm + 1e-6))"
RETURN = "    return [g * scale for g in grads], total_norm"

BUGS = [
    # ---------------------------------------------------------------- 6.1 init scales
    Bug("fans_swapped", INIT, "init_scales",
        ((FANS, "    return shape[0] * receptive_field, shape[1] * receptive_field"),),
        code="06.fans-swapped", category="classic"),
    Bug("fans_without_kernel", INIT, "init_scales", ((FANS, "    return shape[1], shape[0]"),),
        code="06.fans-conv-kernel", category="conv fans"),
    Bug("fan_out_without_kernel", INIT, "init_scales", ((FANS, "    return shape[1] * receptive_field, shape[0]"),),
        code="06.fans-conv-kernel", category="conv fans"),
    Bug("fans_first_kernel_axis_only", INIT, "init_scales",
        (("    for k in shape[2:]:\n        receptive_field *= k",
          "    if len(shape) > 2:\n        receptive_field = shape[2]"),),
        code="06.fans-conv-kernel", category="conv fans"),
    Bug("xavier_is_lecun", INIT, "init_scales", ((XAVIER, "    return gain * math.sqrt(1.0 / fan_in)"),),
        code="06.xavier-formula", category="classic"),
    Bug("xavier_variance", INIT, "init_scales", ((XAVIER, "    return gain ** 2 * 2.0 / (fan_in + fan_out)"),),
        code="06.returns-variance", category="classic"),
    Bug("xavier_gain_ignored", INIT, "init_scales", ((XAVIER, "    return math.sqrt(2.0 / (fan_in + fan_out))"),),
        code="06.xavier-gain", category="gain"),
    Bug("xavier_gain_inside_sqrt", INIT, "init_scales",
        ((XAVIER, "    return math.sqrt(gain * 2.0 / (fan_in + fan_out))"),),
        code="06.xavier-gain", category="gain"),
    Bug("xavier_missing_two", INIT, "init_scales", ((XAVIER, "    return gain * math.sqrt(1.0 / (fan_in + fan_out))"),),
        code="06.xavier-formula", category="classic"),
    Bug("he_missing_two", INIT, "init_scales",
        ((HE, "    return math.sqrt(1.0 / ((1.0 + negative_slope ** 2) * fan_in))"),),
        code="06.he-missing-2", category="classic"),
    Bug("he_slope_ignored", INIT, "init_scales", ((HE, "    return math.sqrt(2.0 / fan_in)"),),
        code="06.he-slope", category="negative slope"),
    Bug("he_slope_not_squared", INIT, "init_scales",
        ((HE, "    return math.sqrt(2.0 / ((1.0 + negative_slope) * fan_in))"),),
        code="06.he-slope", category="negative slope"),
    Bug("he_variance", INIT, "init_scales", ((HE, "    return 2.0 / ((1.0 + negative_slope ** 2) * fan_in)"),),
        code="06.returns-variance", category="classic"),
    # ---------------------------------------------------------------- 6.2 batchnorm, training
    Bug("bn_unbiased_variance", BN, "batchnorm_train",
        (("    var = x.var(axis=0)  # biased: divides by N", "    var = x.var(axis=0, ddof=1)"),),
        code="06.bn-unbiased-variance", category="batchnorm"),
    Bug("bn_eps_outside_sqrt", BN, "batchnorm_train",
        (("    inv_std = 1.0 / np.sqrt(var + eps)", "    inv_std = 1.0 / (np.sqrt(var) + eps)"),),
        code="06.bn-eps-outside-sqrt", category="batchnorm"),
    Bug("bn_backward_without_eps", BN, "batchnorm_train",
        (("    return out, (xhat, gamma, inv_std)", "    return out, (xhat, gamma, 1.0 / np.sqrt(var))"),),
        code="06.bn-backward-without-eps", category="batchnorm"),
    Bug("bn_stats_as_constants", BN, "batchnorm_train", ((DX, "    dx = dxhat * inv_std"),),
        code="06.bn-dx-stats-as-constants", category="batchnorm"),
    Bug("bn_missing_mean_term", BN, "batchnorm_train",
        ((DX, "    dx = inv_std / N * (N * dxhat - xhat * (dxhat * xhat).sum(axis=0))"),),
        code="06.bn-dx-missing-mean-term", category="batchnorm"),
    Bug("bn_missing_variance_term", BN, "batchnorm_train",
        ((DX, "    dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0))"),),
        code="06.bn-dx-missing-variance-term", category="batchnorm"),
    Bug("bn_dx_without_gamma", BN, "batchnorm_train", (("    dxhat = dout * gamma", "    dxhat = dout"),),
        code="06.bn-dx-missing-gamma", category="batchnorm"),
    Bug("bn_dgamma_without_xhat", BN, "batchnorm_train",
        (("    dgamma = (dout * xhat).sum(axis=0)", "    dgamma = dout.sum(axis=0)"),),
        code="06.bn-dgamma-missing-xhat", category="batchnorm"),
    Bug("bn_dbeta_mean", BN, "batchnorm_train", (("    dbeta = dout.sum(axis=0)", "    dbeta = dout.mean(axis=0)"),),
        code="divided-by-N-twice", category="batchnorm"),
    Bug("bn_dx_not_divided_by_N", BN, "batchnorm_train",
        ((DX, "    dx = inv_std * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))"),),
        code="factor-of-N", category="batchnorm"),
    # ---------------------------------------------------------------- 6.3 eval mode, running statistics
    Bug("running_momentum_swapped", EVAL, "batchnorm_eval",
        (("(1 - momentum) * running_mean + momentum * x.mean(axis=0)",
          "momentum * running_mean + (1 - momentum) * x.mean(axis=0)"),
         ("(1 - momentum) * running_var + momentum * x.var(axis=0, ddof=1)",
          "momentum * running_var + (1 - momentum) * x.var(axis=0, ddof=1)")),
        code="06.bn-running-momentum-swapped", category="batchnorm"),
    Bug("running_stats_in_place", EVAL, "batchnorm_eval",
        (("    new_mean = (1 - momentum) * running_mean + momentum * x.mean(axis=0)\n"
          "    new_var = (1 - momentum) * running_var + momentum * x.var(axis=0, ddof=1)  # unbiased\n"
          "    return new_mean, new_var",
          "    running_mean *= 1 - momentum\n    running_mean += momentum * x.mean(axis=0)\n"
          "    running_var *= 1 - momentum\n    running_var += momentum * x.var(axis=0, ddof=1)\n"
          "    return running_mean, running_var"),),
        code="06.bn-running-in-place", category="in-place"),
    Bug("clip_scales_in_place", CLIP, "clip",
        ((RETURN, "    for g in grads:\n        g *= scale\n    return grads, total_norm"),),
        code="06.clip-in-place", category="in-place"),
    Bug("running_var_biased", EVAL, "batchnorm_eval", (("x.var(axis=0, ddof=1)", "x.var(axis=0)"),),
        code="06.bn-running-var-biased", category="batchnorm"),
    Bug("eval_uses_batch_statistics", EVAL, "batchnorm_eval",
        (("    inv_std = 1.0 / np.sqrt(running_var + eps)\n    xhat = (x - running_mean) * inv_std",
          "    inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)\n    xhat = (x - x.mean(axis=0)) * inv_std"),),
        code="06.bn-eval-uses-batch-stats", category="batchnorm"),
    Bug("eval_backward_with_batch_terms", EVAL, "batchnorm_eval",
        (("    return dout * gamma * inv_std, (dout * xhat).sum(axis=0), dout.sum(axis=0)",
          "    N, dxhat = len(dout), dout * gamma\n"
          "    dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))\n"
          "    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)"),),
        code="06.bn-eval-backward-batch-terms", category="batchnorm"),
    Bug("eval_without_eps", EVAL, "batchnorm_eval",
        (("    inv_std = 1.0 / np.sqrt(running_var + eps)", "    inv_std = 1.0 / np.sqrt(running_var)"),),
        code="06.bn-eval-eps", category="batchnorm"),
    # ---------------------------------------------------------------- 6.4 clipping
    Bug("clip_by_value", CLIP, "clip",
        ((SCALE + "\n" + RETURN, "    return [np.clip(g, -max_norm, max_norm) for g in grads], total_norm"),),
        code="06.clip-by-value", category="clipping"),
    Bug("clip_each_array", CLIP, "clip",
        ((RETURN, "    return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total_norm"),),
        code="06.clip-per-array", category="clipping"),
    Bug("clip_always_rescales", CLIP, "clip", ((SCALE, "    scale = max_norm / (total_norm + 1e-6)"),),
        code="06.clip-always-rescales", category="clipping"),
    Bug("clip_min_max_swapped", CLIP, "clip", ((SCALE, "    scale = max(1.0, max_norm / (total_norm + 1e-6))"),),
        code="06.clip-not-applied", category="clipping"),
    Bug("clip_returns_norm_after", CLIP, "clip",
        ((RETURN, "    return [g * scale for g in grads], total_norm * scale"),),
        code="06.clip-norm-after", category="clipping"),
    Bug("clip_squared_norm", CLIP, "clip", ((TOTAL, "    total_norm = sum(float(np.sum(g * g)) for g in grads)"),),
        code="06.clip-norm-squared", category="clipping"),
    Bug("clip_sum_of_norms", CLIP, "clip",
        ((TOTAL, "    total_norm = sum(float(np.linalg.norm(g)) for g in grads)"),),
        code="06.clip-norm-sum-of-norms", category="clipping"),
]
