"""Learner bugs in notebook 07 (convolutions), each with the diagnosis code its visible check must give."""
from bugs import Bug

NAIVE, POOL, FAST = "07.conv_naive", "07.maxpool", "07.conv_fast"
WINDOW = "                    window = xp[n, :, i * S:i * S + KH, j * S:j * S + KW]  # (C, KH, KW)\n"
OUT = "                    out[n, f, i, j] = np.sum(window * weight[f]) + bias[f]\n"
SIZE = "    Ho, Wo = (H + 2 * P - KH) // S + 1, (W + 2 * P - KW) // S + 1\n"
PAD = "    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))\n    out = np.zeros((N, F, Ho, Wo))"
ROWS = "                    rows, cols = slice(i * S, i * S + KH), slice(j * S, j * S + KW)\n"
DW = "                    dweight[f] += dout[n, f, i, j] * xp[n, :, rows, cols]\n"
DXP = "                    dxp[n, :, rows, cols] += dout[n, f, i, j] * weight[f]\n"
CROP = "    dx = dxp[:, :, P:P + H, P:P + W]"
DBIAS = "    dbias = dout.sum(axis=(0, 2, 3))"
POOL_WINDOW = "            window = x[:, :, i * S:i * S + K, j * S:j * S + K].reshape(N, C, K * K)\n"
ROUTE = ("            row, col = np.divmod(first[:, :, i, j], K)  # where the maximum sits inside the window\n"
         "            dx[n, c, i * S + row, j * S + col] += dout[:, :, i, j]  # += : overlapping windows add up\n")
EVERY_TIE = ("            window = x[:, :, i * S:i * S + K, j * S:j * S + K]\n"
             "            mask = window == window.max(axis=(2, 3), keepdims=True)\n"
             "            dx[:, :, i * S:i * S + K, j * S:j * S + K] += mask * dout[:, :, i, j, None, None]\n")
TRANSPOSE = "    return out.transpose(0, 3, 1, 2) + bias.reshape(-1, 1, 1)"
STRIDED = "    windows = windows[:, :, ::S, ::S]                                  # (N, C, Ho, Wo, KH, KW)\n"

BUGS = [
    # ---------------------------------------------------------------- 7.1 naive convolution, forward
    Bug("flipped_kernel", NAIVE, "conv_naive",
        (("np.sum(window * weight[f])", "np.sum(window * weight[f, :, ::-1, ::-1])"),),
        code="07.conv-flipped-kernel", category="classic"),
    Bug("bias_forgotten", NAIVE, "conv_naive",
        ((OUT, "                    out[n, f, i, j] = np.sum(window * weight[f])\n"),),
        code="07.conv-bias-missing", category="classic"),
    Bug("forward_ignores_stride", NAIVE, "conv_naive",
        ((WINDOW, "                    window = xp[n, :, i:i + KH, j:j + KW]\n"),),
        code="07.conv-ignores-stride", category="stride"),
    Bug("bias_inside_window_sum", NAIVE, "conv_naive",
        (("np.sum(window * weight[f]) + bias[f]", "np.sum(window * weight[f] + bias[f])"),),
        code="07.conv-bias-in-window", category="classic"),
    Bug("output_size_without_plus_one", NAIVE, "conv_naive",
        ((SIZE, "    Ho, Wo = (H + 2 * P - KH) // S, (W + 2 * P - KW) // S\n"),),
        code="07.conv-output-size", category="shapes"),
    Bug("output_size_without_padding", NAIVE, "conv_naive",
        ((SIZE, "    Ho, Wo = (H - KH) // S + 1, (W - KW) // S + 1\n"),),
        code="07.conv-output-size", category="padding"),
    Bug("padding_every_axis", NAIVE, "conv_naive",
        ((PAD, "    xp = np.pad(x, P)\n    out = np.zeros((N, F, Ho, Wo))"),),
        code="raised-exception", category="padding"),
    # ---------------------------------------------------------------- 7.1 naive convolution, backward
    Bug("dweight_per_example", NAIVE, "conv_naive",
        (("    dweight = np.zeros_like(weight)", "    dweight = np.zeros((N,) + weight.shape)"),
         (DW, "                    dweight[n, f] += dout[n, f, i, j] * xp[n, :, rows, cols]\n")),
        code="batch-not-summed", category="batch sum"),
    Bug("dweight_reset_per_example", NAIVE, "conv_naive",
        (("    dweight = np.zeros_like(weight)\n    for n in range(N):\n",
          "    for n in range(N):\n        dweight = np.zeros_like(weight)\n"),),
        code="07.dweight-last-example-only", category="batch sum"),
    Bug("dweight_assigned", NAIVE, "conv_naive",
        ((DW, "                    dweight[f] = dout[n, f, i, j] * xp[n, :, rows, cols]\n"),),
        code="07.conv-assign-not-accumulate", category="accumulate"),
    Bug("dx_assigned", NAIVE, "conv_naive",
        ((DXP, "                    dxp[n, :, rows, cols] = dout[n, f, i, j] * weight[f]\n"),),
        code="07.conv-assign-not-accumulate", category="accumulate"),
    Bug("backward_ignores_stride", NAIVE, "conv_naive",
        ((ROWS, "                    rows, cols = slice(i, i + KH), slice(j, j + KW)\n"),),
        code="07.conv-backward-ignores-stride", category="stride"),
    Bug("crop_breaks_at_padding_0", NAIVE, "conv_naive", ((CROP, "    dx = dxp[:, :, P:-P, P:-P]"),),
        code="07.pad-crop-at-zero", category="padding"),
    Bug("padding_not_cropped", NAIVE, "conv_naive", ((CROP, "    dx = dxp"),),
        code="07.dx-padding-not-cropped", category="padding"),
    Bug("dx_with_flipped_kernel", NAIVE, "conv_naive",
        ((DXP, "                    dxp[n, :, rows, cols] += dout[n, f, i, j] * weight[f, :, ::-1, ::-1]\n"),),
        code="07.conv-dx-flipped-kernel", category="classic"),
    Bug("dbias_only_over_batch", NAIVE, "conv_naive", ((DBIAS, "    dbias = dout.sum(axis=0)"),),
        code="07.dbias-sum-axes", category="classic"),
    Bug("dbias_averaged_over_batch", NAIVE, "conv_naive", ((DBIAS, "    dbias = dout.sum(axis=(2, 3)).mean(axis=0)"),),
        code="divided-by-N-twice", category="batch sum"),
    # ---------------------------------------------------------------- 7.2 max-pooling
    Bug("tie_to_every_maximum", POOL, "maxpool", ((ROUTE, EVERY_TIE),), code="07.pool-tie-every", category="ties"),
    Bug("tie_split", POOL, "maxpool",
        ((ROUTE, EVERY_TIE.replace("mask * dout", "mask / mask.sum(axis=(2, 3), keepdims=True) * dout")),),
        code="07.pool-tie-split", category="ties"),
    Bug("tie_to_last_maximum", POOL, "maxpool",
        (("first[:, :, i, j] = window.argmax(axis=2)",
          "first[:, :, i, j] = K * K - 1 - window[:, :, ::-1].argmax(axis=2)"),),
        code="07.pool-tie-last", category="ties"),
    Bug("divmod_row_col_swapped", POOL, "maxpool",
        (("            row, col = np.divmod(", "            col, row = np.divmod("),),
        code="07.pool-argmax-row-col-swapped", category="classic"),
    Bug("pool_ignores_stride", POOL, "maxpool",
        ((POOL_WINDOW, "            window = x[:, :, i * K:i * K + K, j * K:j * K + K].reshape(N, C, K * K)\n"),
         ("            dx[n, c, i * S + row, j * S + col]", "            dx[n, c, i * K + row, j * K + col]")),
        code="raised-exception", category="stride"),
    Bug("pool_output_size_ignores_stride", POOL, "maxpool",
        (("    Ho, Wo = (H - K) // S + 1, (W - K) // S + 1", "    Ho, Wo = H // K, W // K"),),
        code="raised-exception", category="stride"),
    Bug("pool_overlap_assigned", POOL, "maxpool",
        (("            dx[n, c, i * S + row, j * S + col] += dout[:, :, i, j]",
          "            dx[n, c, i * S + row, j * S + col] = dout[:, :, i, j]"),),
        code="07.pool-overlap-not-added", category="overlap"),
    Bug("pool_buffered_fancy_add", POOL, "maxpool",
        (("    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing=\"ij\")  # index grids of shape (N, C)\n"
          "    for i in range(Ho):\n        for j in range(Wo):\n" + ROUTE,
          "    n, c, i, j = np.meshgrid(np.arange(N), np.arange(C), np.arange(Ho), np.arange(Wo), indexing=\"ij\")\n"
          "    row, col = np.divmod(first, K)\n"
          "    dx[n, c, i * S + row, j * S + col] += dout  # all windows at once\n"),),
        code="07.pool-overlap-not-added", category="buffered +="),
    # ---------------------------------------------------------------- 7.3 fast forward
    Bug("fast_ignores_stride", FAST, "conv_fast", ((STRIDED, ""),), code="07.conv-ignores-stride", category="stride"),
    Bug("fast_reshape_not_transpose", FAST, "conv_fast",
        ((TRANSPOSE, "    N, Ho, Wo, F = out.shape\n    return out.reshape(N, F, Ho, Wo) + bias.reshape(-1, 1, 1)"),),
        code="07.fast-reshape-not-transpose", category="reshape"),
    Bug("fast_im2col_reshape", FAST, "conv_fast",
        (("    out = np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, F)\n",
          "    N, C, Ho, Wo = windows.shape[:4]\n"
          "    cols = windows.reshape(N * Ho * Wo, C * KH * KW)  # one row per window\n"
          "    out = (cols @ weight.reshape(len(weight), -1).T).reshape(N, Ho, Wo, -1)\n"),),
        code="07.fast-reshape-not-transpose", category="reshape"),
    Bug("fast_kernel_axes_swapped", FAST, "conv_fast",
        (("axes=([1, 4, 5], [1, 2, 3])", "axes=([1, 4, 5], [1, 3, 2])"),),
        code="07.fast-kernel-axes", category="classic"),
    Bug("fast_bias_on_last_axis", FAST, "conv_fast",
        ((TRANSPOSE, "    return out.transpose(0, 3, 1, 2) + bias"),), code="raised-exception", category="classic"),
    Bug("fast_is_loops", FAST, "conv_fast",
        (("    S, P = stride, padding\n", "    return conv2d_forward_naive(x, weight, bias, stride, padding)[0]\n"),),
        code="07.fast-too-slow", category="speed"),
]
