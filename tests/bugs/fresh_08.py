"""Fresh learner bugs for notebook 08 (training a CNN), written from the release's prose alone."""
from bugs import Bug

CNN, AUG, MET = "08.cnn", "08.augment", "08.metrics"
CROP = "out[n] = xp[n, :, m - dy:m - dy + H, m - dx:m - dx + W]"
DRAW = "shifts[chosen] = rng.integers(-max_shift, max_shift + 1, size=(int(chosen.sum()), 2))"
ADD_AT = "np.add.at(cm, (y_true, y_pred), 1)"

BUGS = [
    # ---- 8.1 the whole network ----
    Bug("relu2_mask_missing", CNN, "cnn",
        (("dc2 = maxpool_backward(dp2, pool2) * (c2 > 0)", "dc2 = maxpool_backward(dp2, pool2)"),),
        cause="The backward pass skips the second ReLU: the gradient must be multiplied by (c2 > 0).",
        keywords=("relu", "mask", "c2 > 0"), category="missing-term"),
    Bug("relu1_mask_at_zero", CNN, "cnn",
        (("* (c1 > 0)", "* (c1 >= 0)"),),
        cause="The first ReLU's mask uses c1 >= 0, letting the gradient through where the pre-activation is "
              "exactly 0 (blank background with a zero bias); relu'(0) is 0.",
        keywords=("at 0", "exactly 0", ">=", "relu'(0)"), category="kink"),
    Bug("flatten_channels_last", CNN, "cnn",
        (("flat = p2.reshape(len(p2), -1)", "flat = p2.transpose(0, 2, 3, 1).reshape(len(p2), -1)"),),
        cause="The feature maps are flattened channels-last (N, H, W, C); torch.flatten keeps C order "
              "(N, C, H, W), and the backward's reshape assumes it.",
        keywords=("flatten", "channels-last", "c order", "channel order"), category="reshape"),
    Bug("unflatten_wrong_order", CNN, "cnn",
        (("dp2 = (dscores @ W3).reshape(p2_shape)",
          "dp2 = (dscores @ W3).reshape(p2_shape[0], p2_shape[2], p2_shape[3], p2_shape[1]).transpose(0, 3, 1, 2)"),),
        cause="The gradient of the flat features is unflattened as (N, H, W, C) and transposed, which does not "
              "undo the forward's C-order reshape.",
        keywords=("flatten", "unflatten", "channels-last", "c order"), category="reshape"),
    Bug("dW3_transposed", CNN, "cnn",
        (('"W3": dscores.T @ flat', '"W3": flat.T @ dscores'),),
        cause="dW3 is computed as flat.T @ dscores, the transpose of dscores.T @ flat.",
        keywords=("transpos",), category="transpose"),
    Bug("linear_grads_over_n", CNN, "cnn",
        (('{"W3": dscores.T @ flat, "b3": dscores.sum(axis=0)}',
          '{"W3": dscores.T @ flat / len(flat), "b3": dscores.sum(axis=0) / len(flat)}'),),
        cause="The linear layer's gradients are divided by N once more; the 1/N of the mean loss is already "
              "inside dscores.",
        keywords=("1/n", "divide", "divided by n", "twice"), category="missing-factor"),
    Bug("relu2_forward_missing", CNN, "cnn",
        (("r2 = np.maximum(c2, 0)", "r2 = c2"),),
        cause="The forward pass leaves out the second ReLU.",
        keywords=("relu", "np.maximum"), category="missing-term"),
    # ---- 8.2 shift augmentation ----
    Bug("shift_direction_flipped", AUG, "augment",
        ((CROP, "out[n] = xp[n, :, m + dy:m + dy + H, m + dx:m + dx + W]"),),
        cause="The image is shifted the opposite way: out[i] = x[i - dy] means the crop starts at row m - dy.",
        keywords=("direction", "opposite", "m - dy", "wrong way"), category="sign"),
    Bug("shift_dy_dx_swapped", AUG, "augment",
        (("for n, (dy, dx) in enumerate(shifts):", "for n, (dx, dy) in enumerate(shifts):"),),
        cause="Each row of shifts is (dy, dx); unpacking it as (dx, dy) shifts rows by the column offset.",
        keywords=("swap", "(dy, dx)", "rows and columns", "dx, dy"), category="swap"),
    Bug("shift_wraps_around", AUG, "augment",
        ((CROP, "out[n] = np.roll(x[n], (dy, dx), axis=(1, 2))"),),
        cause="np.roll wraps the pixels that leave one edge around to the other; the uncovered pixels must be "
              "zeros.",
        keywords=("wrap", "roll", "zeros", "fill"), category="padding"),
    Bug("shift_pads_one", AUG, "augment",
        (("m = int(np.max(np.abs(shifts), initial=0))", "m = 1"),),
        cause="The zero frame is always 1 pixel wide, too narrow for shifts larger than 1.",
        keywords=("largest", "pad", "frame", "larger than 1"), category="padding"),
    Bug("offsets_exclude_max", AUG, "augment",
        ((DRAW, "shifts[chosen] = rng.integers(-max_shift, max_shift, size=(int(chosen.sum()), 2))"),),
        cause="rng.integers excludes its upper bound, so the offsets never reach +max_shift: the bound must be "
              "max_shift + 1.",
        keywords=("+ 1", "upper bound", "exclu", "max_shift"), category="off-by-one"),
    Bug("offsets_drawn_for_all", AUG, "augment",
        ((DRAW, "shifts[chosen] = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))[chosen]"),),
        cause="Offsets are drawn for all N images and then selected, which consumes the generator differently "
              "from the prescribed one draw of size (chosen.sum(), 2).",
        keywords=("chosen.sum", "draw", "all n", "generator"), category="rng"),
    Bug("augment_in_place", AUG, "augment",
        (("return shift_images(x, shifts)", "x[:] = shift_images(x, shifts)\n    return x"),),
        cause="augment writes the shifted images back into x, changing the caller's batch.",
        keywords=("in place", "in-place", "mutat", "copy"), category="in-place"),
    # ---- 8.3 accuracy and confusion matrix ----
    Bug("accuracy_argmax_axis0", MET, "metrics",
        (("scores.argmax(axis=1)", "scores.argmax(axis=0)"),),
        cause="The argmax runs over the batch axis (0) instead of over the classes of each row (axis 1).",
        keywords=("axis",), category="axis"),
    Bug("confusion_buffered_add", MET, "metrics",
        ((ADD_AT, "cm[y_true, y_pred] += 1"),),
        cause="A fancy-indexed += counts each repeated (true, predicted) pair only once; np.add.at counts them "
              "all.",
        keywords=("repeat", "add.at", "buffer", "once"), category="indexing"),
    Bug("confusion_transposed", MET, "metrics",
        ((ADD_AT, "np.add.at(cm, (y_pred, y_true), 1)"),),
        cause="The matrix is transposed: rows must be the true classes and columns the predicted ones.",
        keywords=("transpos", "rows", "columns", "swap"), category="transpose"),
    Bug("confusion_size_from_data", MET, "metrics",
        (("cm = np.zeros((num_classes, num_classes), dtype=np.int64)",
          "k = int(max(y_true.max(), y_pred.max())) + 1\n    cm = np.zeros((k, k), dtype=np.int64)"),),
        cause="The size is taken from the largest label present instead of num_classes, so the matrix is too "
              "small when the last classes do not occur.",
        keywords=("num_classes", "last class", "missing class", "shape"), category="shape"),
    Bug("accuracy_counts", MET, "metrics",
        (("np.mean(scores.argmax", "np.sum(scores.argmax"),),
        cause="accuracy returns the number of correct rows instead of the fraction.",
        keywords=("fraction", "count", "not divided", "np.mean"), category="missing-factor"),
]
