"""Fresh learner bugs for notebook 07 (convolutions), written from the release's prose alone."""
from bugs import Bug

NAIVE, POOL, FAST = "07.conv_naive", "07.maxpool", "07.conv_fast"
WINDOW = "window = xp[n, :, i * S:i * S + KH, j * S:j * S + KW]"
HO = "Ho, Wo = (H + 2 * P - KH) // S + 1, (W + 2 * P - KW) // S + 1"
ROWS = "rows, cols = slice(i * S, i * S + KH), slice(j * S, j * S + KW)"
DOT = "out[n, f, i, j] = np.sum(window * weight[f]) + bias[f]"
ROUTE = "dx[n, c, i * S + row, j * S + col] += dout[:, :, i, j]"
DIVMOD = "row, col = np.divmod(first[:, :, i, j], K)  # where the maximum sits inside the window"
SPREAD = ("win = x[:, :, i * S:i * S + K, j * S:j * S + K]\n"
          "            hit = win == win.max(axis=(2, 3), keepdims=True)\n")
TO_WINDOW = "            dx[:, :, i * S:i * S + K, j * S:j * S + K] += "
UPSTREAM = " * dout[:, :, i, j][:, :, None, None]"
FAST_RETURN = "return out.transpose(0, 3, 1, 2) + bias.reshape(-1, 1, 1)"

BUGS = [
    # ---- 7.1 convolution with loops ----
    Bug("forward_ignores_stride", NAIVE, "conv_naive",
        ((WINDOW, "window = xp[n, :, i:i + KH, j:j + KW]"),),
        cause="The forward window starts at (i, j) instead of (i*S, j*S): the stride is ignored.",
        keywords=("stride",), category="stride"),
    Bug("output_size_off_by_one", NAIVE, "conv_naive",
        ((HO, "Ho, Wo = (H + 2 * P - KH) // S, (W + 2 * P - KW) // S"),),
        cause="The output size forgets the + 1 of floor((H + 2P - K) / S) + 1, so the last window is dropped.",
        keywords=("output size", "+ 1", "off-by-one", "last window"), category="off-by-one"),
    Bug("backward_ignores_stride", NAIVE, "conv_naive",
        ((ROWS, "rows, cols = slice(i, i + KH), slice(j, j + KW)"),),
        cause="The backward pass sends each window's gradient to (i, j) instead of (i*S, j*S): the stride is "
              "ignored.",
        keywords=("stride",), category="stride"),
    Bug("dweight_assigned", NAIVE, "conv_naive",
        (("dweight[f] += dout[n, f, i, j]", "dweight[f] = dout[n, f, i, j]"),),
        cause="dweight is assigned (=) instead of accumulated (+=), so only the last window of the last image "
              "counts instead of the sum over the batch and all positions.",
        keywords=("+=", "accumulat", "overwrit", "sum over"), category="accumulate"),
    Bug("crop_breaks_at_padding_0", NAIVE, "conv_naive",
        (("dx = dxp[:, :, P:P + H, P:P + W]", "dx = dxp[:, :, P:-P, P:-P]"),),
        cause="The padding is cropped with P:-P, which is empty when P = 0; crop with P:P + H.",
        keywords=("padding 0", "crop", "-p", "empty"), category="padding"),
    Bug("dbias_not_over_batch", NAIVE, "conv_naive",
        (("dbias = dout.sum(axis=(0, 2, 3))", "dbias = dout.sum(axis=(2, 3))"),),
        cause="dbias sums over the output pixels but not over the batch axis N.",
        keywords=("batch axis", "over the batch", "axis=(0, 2, 3)", "over n"), category="batch-sum"),
    Bug("kernel_flipped", NAIVE, "conv_naive",
        ((DOT, "out[n, f, i, j] = np.sum(window * weight[f, :, ::-1, ::-1]) + bias[f]"),),
        cause="The kernel is flipped as in signal processing's convolution; torch (and this course) computes a "
              "cross-correlation without flipping.",
        keywords=("flip", "cross-correlation", "correlation"), category="formula"),
    Bug("bias_inside_sum", NAIVE, "conv_naive",
        ((DOT, "out[n, f, i, j] = np.sum(window * weight[f] + bias[f])"),),
        cause="The bias is added inside np.sum, so it is counted once per window entry (C*KH*KW times) instead "
              "of once per output pixel.",
        keywords=("inside the sum", "parenthes", "bias once", "c*kh*kw"), category="parenthesis"),
    # ---- 7.2 max-pooling ----
    Bug("ties_all_get_gradient", POOL, "maxpool",
        ((DIVMOD + "\n            " + ROUTE,
          SPREAD + TO_WINDOW + "hit" + UPSTREAM),),
        cause="Every entry equal to the window's maximum receives the whole gradient; at a tie only the first "
              "maximum in row-major order should.",
        keywords=("tie", "first max", "every max", "all tied"), category="tie"),
    Bug("ties_split_gradient", POOL, "maxpool",
        ((DIVMOD + "\n            " + ROUTE,
          SPREAD + "            share = hit / hit.sum(axis=(2, 3), keepdims=True)\n"
          + TO_WINDOW + "share" + UPSTREAM),),
        cause="At a tie the gradient is split equally between the tied maxima; torch gives all of it to the first "
              "maximum in row-major order.",
        keywords=("tie", "split", "first max", "shared"), category="tie"),
    Bug("divmod_row_col_swapped", POOL, "maxpool",
        ((DIVMOD, "col, row = np.divmod(first[:, :, i, j], K)"),),
        cause="The row and column from np.divmod are swapped: divmod(index, K) gives (row, column).",
        keywords=("row", "column", "divmod", "swap"), category="swap"),
    Bug("default_stride_one", POOL, "maxpool",
        (("S = K if stride is None else stride", "S = 1 if stride is None else stride"),),
        cause="stride=None is read as stride 1; it means stride = kernel_size (windows side by side).",
        keywords=("default", "stride=none", "kernel_size"), category="default"),
    Bug("backward_steps_by_kernel", POOL, "maxpool",
        ((ROUTE, "dx[n, c, i * K + row, j * K + col] += dout[:, :, i, j]"),),
        cause="The backward pass places window (i, j) at (i*K, j*K) instead of (i*S, j*S): the stride is "
              "ignored when it differs from the kernel size.",
        keywords=("stride",), category="stride"),
    Bug("backward_assigns", POOL, "maxpool",
        ((ROUTE, "dx[n, c, i * S + row, j * S + col] = dout[:, :, i, j]"),),
        cause="The gradient is assigned (=) instead of added (+=), so a pixel shared by overlapping windows keeps "
              "only the last window's share.",
        keywords=("+=", "overlap", "accumulat"), category="accumulate"),
    # ---- 7.3 loop-free convolution ----
    Bug("fast_ignores_stride", FAST, "conv_fast",
        (("    windows = windows[:, :, ::S, ::S]", "    pass"),),
        cause="Every window is kept: the sliding-window view is not subsampled with [::S, ::S], so the stride is "
              "ignored.",
        keywords=("stride",), category="stride"),
    Bug("fast_reshape_not_transpose", FAST, "conv_fast",
        ((FAST_RETURN,
          "return out.reshape(out.shape[0], out.shape[3], out.shape[1], out.shape[2]) + bias.reshape(-1, 1, 1)"),),
        cause="The (N, Ho, Wo, F) result is reshaped to (N, F, Ho, Wo) instead of transposed, which scrambles "
              "the numbers.",
        keywords=("reshape", "transpos", "axes"), category="transpose"),
    Bug("fast_bias_not_reshaped", FAST, "conv_fast",
        ((FAST_RETURN, "return out.transpose(0, 3, 1, 2) + bias"),),
        cause="The bias (F,) broadcasts along the last axis (Wo) instead of the channel axis; reshape it to "
              "(F, 1, 1).",
        keywords=("broadcast", "reshape(-1, 1, 1)", "(f, 1, 1)", "channel axis"), category="broadcast"),
    Bug("fast_kernel_axes_swapped", FAST, "conv_fast",
        (("axes=([1, 4, 5], [1, 2, 3])", "axes=([1, 5, 4], [1, 2, 3])"),),
        cause="The window axes (KH, KW) are paired with the weight's axes in the wrong order, so the kernel is "
              "transposed.",
        keywords=("axes", "transpos", "kh and kw", "kernel"), category="transpose"),
    Bug("fast_pads_wrong_axes", FAST, "conv_fast",
        (("np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))", "np.pad(x, ((P, P), (P, P), (0, 0), (0, 0)))"),),
        cause="The padding is added to the batch and channel axes instead of to H and W.",
        keywords=("pad", "axes", "padding"), category="padding"),
]
