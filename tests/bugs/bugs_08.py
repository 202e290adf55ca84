"""Learner bugs in notebook 08 (training a CNN), each with the diagnosis code its visible check must give."""
from bugs import Bug

CNN, AUG, METRICS = "08.cnn", "08.augment", "08.metrics"
FLAT = "    flat = p2.reshape(len(p2), -1)  # (N, C2*H'*W') in C order, like torch.flatten(x, 1)\n"
SCORES = '    scores = flat @ params["W3"].T + params["b3"]\n'
GRADS3 = '    grads = {"W3": dscores.T @ flat, "b3": dscores.sum(axis=0)}\n'
UNFLAT = "    dp2 = (dscores @ W3).reshape(p2_shape)\n"
MASK2 = "    dc2 = maxpool_backward(dp2, pool2) * (c2 > 0)\n"
MASK1 = "    dc1 = maxpool_backward(dp1, pool1) * (c1 > 0)\n"
WINDOW = "        out[n] = xp[n, :, m - dy:m - dy + H, m - dx:m - dx + W]\n"
DRAW = "    shifts[chosen] = rng.integers(-max_shift, max_shift + 1, size=(int(chosen.sum()), 2))\n"
CHOSEN = "    chosen = rng.random(len(x)) < p\n"
ACC = "    return float(np.mean(scores.argmax(axis=1) == labels))"
ADD_AT = "    np.add.at(cm, (y_true, y_pred), 1)  # unbuffered: repeated (i, j) pairs all count\n"

BUGS = [
    # ---------------------------------------------------------------- 8.1 the CNN
    Bug("flatten_channels_last", CNN, "cnn",
        ((FLAT, "    flat = p2.transpose(0, 2, 3, 1).reshape(len(p2), -1)\n"),
         ('p2.shape, flat, params["W3"])', 'p2.transpose(0, 2, 3, 1).shape, flat, params["W3"])'),
         (UNFLAT, "    dp2 = (dscores @ W3).reshape(p2_shape).transpose(0, 3, 1, 2)\n")),
        code="08.cnn-flatten-order", category="classic"),
    Bug("relu_not_masked", CNN, "cnn",
        ((MASK2, "    dc2 = maxpool_backward(dp2, pool2)\n"), (MASK1, "    dc1 = maxpool_backward(dp1, pool1)\n")),
        code="08.cnn-relu-not-masked", category="classic"),
    Bug("second_relu_not_masked", CNN, "cnn", ((MASK2, "    dc2 = maxpool_backward(dp2, pool2)\n"),),
        code="08.cnn-relu-not-masked", category="classic"),
    Bug("first_relu_mask_ge_zero", CNN, "cnn", ((MASK1, "    dc1 = maxpool_backward(dp1, pool1) * (c1 >= 0)\n"),),
        code="08.cnn-relu-grad-at-zero", category="kink"),
    Bug("relu_output_as_mask", CNN, "cnn", ((MASK2, "    dc2 = maxpool_backward(dp2, pool2) * np.maximum(c2, 0)\n"),),
        code="08.cnn-relu-mask", category="classic"),
    Bug("first_relu_forgotten", CNN, "cnn", (("    r1 = np.maximum(c1, 0)\n", "    r1 = c1\n"),),
        code="08.cnn-relu-missing", category="classic"),
    Bug("linear_bias_forgotten", CNN, "cnn", ((SCORES, '    scores = flat @ params["W3"].T\n'),),
        code="08.cnn-linear-bias-missing", category="classic"),
    Bug("dW3_transposed", CNN, "cnn", ((GRADS3, '    grads = {"W3": flat.T @ dscores, "b3": dscores.sum(axis=0)}\n'),),
        code="transposed", category="classic"),
    Bug("db3_averaged", CNN, "cnn", ((GRADS3, '    grads = {"W3": dscores.T @ flat, "b3": dscores.mean(axis=0)}\n'),),
        code="divided-by-N-twice", category="batch sum"),
    Bug("dW3_divided_by_N", CNN, "cnn",
        ((GRADS3, '    grads = {"W3": dscores.T @ flat / len(flat), "b3": dscores.sum(axis=0)}\n'),),
        code="divided-by-N-twice", category="batch sum"),
    Bug("unflatten_hard_coded", CNN, "cnn", ((UNFLAT, "    dp2 = (dscores @ W3).reshape(len(dscores), -1, 2, 2)\n"),),
        code="raised-exception", category="shapes"),
    Bug("conv1_gradient_from_conv2", CNN, "cnn",
        (('    _, grads["W1"], grads["b1"] = conv_backward(dc1, conv1)',
          '    _, grads["W1"], grads["b1"] = conv_backward(dc2, conv2)'),),
        code="08.cnn-layer-mixup", category="classic"),
    # ---------------------------------------------------------------- 8.2 augmentation
    Bug("shift_wrong_direction", AUG, "augment",
        ((WINDOW, "        out[n] = xp[n, :, m + dy:m + dy + H, m + dx:m + dx + W]\n"),),
        code="08.shift-wrong-direction", category="classic"),
    Bug("shift_with_roll", AUG, "augment",
        ((WINDOW, "        out[n] = np.roll(x[n], (dy, dx), axis=(1, 2))\n"),),
        code="08.shift-wraps-around", category="classic"),
    Bug("shift_axes_swapped", AUG, "augment",
        (("    for n, (dy, dx) in enumerate(shifts):", "    for n, (dx, dy) in enumerate(shifts):"),),
        code="08.shift-axes-swapped", category="classic"),
    Bug("shift_frame_one_pixel", AUG, "augment",
        (("    m = int(np.max(np.abs(shifts), initial=0))\n", "    m = 1\n"),),
        code="08.shift-frame-too-narrow", category="padding"),
    Bug("shift_crop_at_zero", AUG, "augment",
        ((WINDOW, "        out[n] = xp[n, :, m - dy:-(m + dy), m - dx:-(m + dx)]\n"),),
        code="raised-exception", category="padding"),
    Bug("shift_writes_into_x", AUG, "augment", (("    out = np.empty_like(x)\n", "    out = x\n"),),
        code="08.augment-in-place", category="in-place"),
    Bug("augment_in_place", AUG, "augment",
        (("    return shift_images(x, shifts)\n    ### END SOLUTION",
          "    x[chosen] = shift_images(x[chosen], shifts[chosen])\n    return x\n    ### END SOLUTION"),),
        code="08.augment-in-place", category="in-place"),
    Bug("augment_high_excluded", AUG, "augment",
        ((DRAW, "    shifts[chosen] = rng.integers(-max_shift, max_shift, size=(int(chosen.sum()), 2))\n"),),
        code="08.augment-integers-high-excluded", category="classic"),
    Bug("augment_draws_offsets_first", AUG, "augment",
        ((CHOSEN + "    shifts = np.zeros((len(x), 2), dtype=int)\n" + DRAW,
          "    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))\n"
          "    chosen = rng.random(len(x)) < p\n    shifts[~chosen] = 0\n"),),
        code="08.augment-draw-order", category="rng"),
    Bug("augment_p_inverted", AUG, "augment", ((CHOSEN, "    chosen = rng.random(len(x)) > p\n"),),
        code="08.augment-p-inverted", category="rng"),
    Bug("augment_global_rng", AUG, "augment",
        ((CHOSEN, "    chosen = np.random.random(len(x)) < p\n"),
         (DRAW, "    shifts[chosen] = np.random.randint(-max_shift, max_shift + 1, size=(int(chosen.sum()), 2))\n")),
        code="08.augment-ignores-rng", category="rng"),
    Bug("augment_ignores_p", AUG, "augment", ((CHOSEN, "    chosen = np.ones(len(x), dtype=bool)\n"),),
        code="08.augment-draw-order", category="rng"),
    # ---------------------------------------------------------------- 8.3 metrics
    Bug("accuracy_count", METRICS, "metrics", ((ACC, "    return float(np.sum(scores.argmax(axis=1) == labels))"),),
        code="08.accuracy-count", category="classic"),
    Bug("accuracy_percent", METRICS, "metrics",
        ((ACC, "    return float(100 * np.mean(scores.argmax(axis=1) == labels))"),),
        code="08.accuracy-percent", category="classic"),
    Bug("accuracy_wrong_axis", METRICS, "metrics",
        ((ACC, "    return float(np.mean(scores.argmax(axis=0) == labels))"),),
        code="08.accuracy-argmax-wrong-axis", category="classic"),
    Bug("confusion_transposed", METRICS, "metrics", ((ADD_AT, "    np.add.at(cm, (y_pred, y_true), 1)\n"),),
        code="08.confusion-transposed", category="classic"),
    Bug("confusion_size_from_data", METRICS, "metrics",
        (("    cm = np.zeros((num_classes, num_classes), dtype=np.int64)",
          "    K = int(max(y_true.max(), y_pred.max())) + 1\n    cm = np.zeros((K, K), dtype=np.int64)"),),
        code="08.confusion-size-from-data", category="missing classes"),
    Bug("confusion_buffered_add", METRICS, "metrics", ((ADD_AT, "    cm[y_true, y_pred] += 1\n"),),
        code="08.confusion-buffered-add", category="buffered +="),
    Bug("confusion_bincount_without_minlength", METRICS, "metrics",
        (("    cm = np.zeros((num_classes, num_classes), dtype=np.int64)\n" + ADD_AT,
          "    cm = np.bincount(y_true * num_classes + y_pred).reshape(num_classes, num_classes)\n"),),
        code="raised-exception", category="missing classes"),
    Bug("confusion_floats", METRICS, "metrics",
        (("    cm = np.zeros((num_classes, num_classes), dtype=np.int64)",
          "    cm = np.zeros((num_classes, num_classes))"),),
        code="08.confusion-not-integer", category="classic"),
]
