"""Notebook 07's known convolution bugs: the wrong answers they give on the same inputs, and a code and a
sentence for each. `conv_hint` names a failed result of 7.1 or 7.3 when the learner's value equals one.

The wrong answers come from the textbook loops with one slip each (`loop_backward`), from the library's
reference, or from replaying a wrong sequence of numpy calls (a reshape where a transpose belongs).
Shapes are the checks' small ones, so the loops here cost milliseconds.
Letters: N batch, C channels, H/W height/width, F filters, KH/KW kernel, S stride, P padding.
"""
from __future__ import annotations

import numpy as np

from backprop_lab import functional as lib

from ..checking.diagnoses import register as code
from ._common import close

CODES = {k: code(f"07.{k}", meaning) for k, meaning in {
    "conv-flipped-kernel": "the kernel is flipped (a true convolution instead of torch's cross-correlation)",
    "conv-bias-missing": "the bias is not added to the output",
    "conv-bias-in-window": "the bias is added inside the window sum, so it counts C·KH·KW times",
    "conv-ignores-stride": "the windows move by 1 pixel instead of the stride",
    "conv-output-size": "the output size is not (H + 2P − KH) // S + 1",
    "dweight-last-example-only": "dweight keeps only the last example of the batch (reset inside the loop over n)",
    "conv-assign-not-accumulate": "a gradient is assigned (=) where windows and examples must add up (+=)",
    "conv-backward-ignores-stride": "the backward pass reads the windows without the stride",
    "pad-crop-at-zero": "the padding is cropped with [P:-P], which is empty when P = 0",
    "dx-padding-not-cropped": "dx keeps the padded shape: the padding is not cropped off",
    "conv-dx-flipped-kernel": "dx sends dout back through the flipped kernel inside the loops",
    "dbias-sum-axes": "dbias is not summed over the batch and every output pixel",
    "fast-reshape-not-transpose": "a reshape is used where the axes must be transposed",
    "fast-kernel-axes": "the kernel axes KH and KW are paired the wrong way round in the contraction",
}.items()}


def loop_backward(dout, x, weight, S, P, slip=""):
    """The textbook backward loops over (n, f, i, j) with one `slip`: "last_example" (dweight reset for
    every n), "assign_dweight" / "assign_dx" (= instead of +=), "no_stride" (windows read at i, j),
    "flipped" (dx through the flipped kernel). Returns (dx, dweight)."""
    N, C, H, W = x.shape
    F, _, KH, KW = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    dxp, dweight = np.zeros_like(xp), np.zeros_like(weight)
    kernel = weight[:, :, ::-1, ::-1] if slip == "flipped" else weight
    step = 1 if slip == "no_stride" else S
    for n in range(N):
        if slip == "last_example":
            dweight = np.zeros_like(weight)
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows, cols = slice(i * step, i * step + KH), slice(j * step, j * step + KW)
                    if rows.stop > xp.shape[2] or cols.stop > xp.shape[3]:
                        return None  # this slip would have raised
                    contribution = dout[n, f, i, j] * xp[n, :, rows, cols]
                    dweight[f] = contribution if slip == "assign_dweight" else dweight[f] + contribution
                    back = dout[n, f, i, j] * kernel[f]
                    dxp[n, :, rows, cols] = back if slip == "assign_dx" else dxp[n, :, rows, cols] + back
    return dxp[:, :, P:P + H, P:P + W], dweight


def _fast_replays(x, weight, bias, S, P):
    """out of two wrong ways to finish the loop-free forward: (value, sentence)."""
    F, C, KH, KW = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))[:, :, ::S, ::S]
    N, _, Ho, Wo = windows.shape[:4]
    nhwf = np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3]))
    cols = windows.reshape(N * Ho * Wo, C * KH * KW) @ weight.reshape(F, -1).T
    b = bias.reshape(-1, 1, 1)
    return [(nhwf.reshape(N, F, Ho, Wo) + b, "the result (N, Ho, Wo, F) was reshaped to (N, F, Ho, Wo); a reshape "
             "keeps the memory order and scrambles the axes. Move the axes: out.transpose(0, 3, 1, 2)."),
            (cols.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2) + b, "the windows (N, C, Ho, Wo, KH, KW) were reshaped "
             "to rows of length C·KH·KW without first moving C next to KH, KW: transpose to (N, Ho, Wo, C, KH, KW) "
             "before the reshape (im2col), or contract the axes directly with np.tensordot."),
            (cols.reshape(N, F, Ho, Wo) + b, "the windows were reshaped without a transpose, and so was the result: "
             "transpose the windows to (N, Ho, Wo, C, KH, KW) before the reshape, and the result to (N, F, Ho, Wo).")]


def known_wrong(name, inputs, kw, dout):
    """[(value, code, sentence)] of the known wrong answers for `name` ("out", "dx", "dweight", "dbias")."""
    x, weight, bias = inputs["x"], inputs["weight"], inputs["bias"]
    S, P = kw["stride"], kw["padding"]
    c = CODES
    if name == "out":
        dense = lib.conv2d_forward(x, weight, bias, 1, P)[0]
        Ho, Wo = (x.shape[2] + 2 * P - weight.shape[2]) // S + 1, (x.shape[3] + 2 * P - weight.shape[3]) // S + 1
        out = [(lib.conv2d_forward(x, weight[:, :, ::-1, ::-1].copy(), bias, S, P)[0], c["conv-flipped-kernel"],
                "out equals a convolution with the FLIPPED kernel. torch's conv2d (and ours) is a cross-correlation: "
                "out[n, f, i, j] = sum weight[f, c, u, v] * xp[n, c, i*S + u, j*S + v]."),
               (lib.conv2d_forward(x, weight, None, S, P)[0], c["conv-bias-missing"],
                "out is right except for the bias: add bias[f] to every output pixel of filter f."),
               (lib.conv2d_forward(x, weight, None, S, P)[0] + weight[0].size * bias.reshape(-1, 1, 1),
                c["conv-bias-in-window"],
                f"the bias is counted C·KH·KW = {weight[0].size} times: it was added inside the window sum "
                "(np.sum(window * weight[f] + bias[f])). Add bias[f] once, after the sum: "
                "np.sum(window * weight[f]) + bias[f]."),
               (dense[:, :, :Ho, :Wo], c["conv-ignores-stride"], f"the windows move by 1 pixel instead of the "
                f"stride S = {S}: window (i, j) starts at row i*S and column j*S of the padded input."),
               (dense, c["conv-ignores-stride"], f"the windows move by 1 pixel instead of the stride S = {S}: keep "
                "every S-th window (windows[:, :, ::S, ::S]); that also gives the output size (H + 2P − KH) // S + 1.")]
        if weight.shape[2] == weight.shape[3]:
            out.append((lib.conv2d_forward(x, weight.transpose(0, 1, 3, 2).copy(), bias, S, P)[0],
                        c["fast-kernel-axes"], "the kernel's axes are paired the wrong way round: the window axes "
                        "(KH, KW) must meet the weight's (KH, KW) in that order, axes=([1, 4, 5], [1, 2, 3])."))
        return out + [(v, c["fast-reshape-not-transpose"], s) for v, s in _fast_replays(x, weight, bias, S, P)]
    if name == "dbias":
        return [(dout.sum(axis=0), c["dbias-sum-axes"], "sum dout over the batch AND over every output pixel, "
                 "dout.sum(axis=(0, 2, 3)), since bias[f] is added at each of them.")]
    slips = {"last_example": (c["dweight-last-example-only"], "dweight holds only the LAST example's contribution: "
                              "create it once, before the loop over n, and add every example into it (the weights "
                              "are shared by the whole batch)."),
             "assign_dweight": (c["conv-assign-not-accumulate"], "dweight[f] is assigned (=), so only the last "
                                "window's contribution survives; windows and examples all add up: +=."),
             "assign_dx": (c["conv-assign-not-accumulate"], "dxp is assigned (=) where windows overlap: a pixel "
                           "covered by several windows (and filters) collects from all of them, +=."),
             "no_stride": (c["conv-backward-ignores-stride"], f"the backward pass reads window (i, j) at row i and "
                           f"column j; with stride S = {S} it starts at row i*S and column j*S, as in the forward."),
             "flipped": (c["conv-dx-flipped-kernel"], "dxp collects dout times the kernel AS IT IS, in the loops: "
                         "the flip belongs only to the 'full convolution' way of writing the same sum.")}
    out = []
    for slip, (bug_code, sentence) in slips.items():
        wrong = loop_backward(dout, x, weight, S, P, slip)
        if wrong is not None:
            out.append((wrong[0] if name == "dx" else wrong[1], bug_code, sentence))
    return out


def shape_hint(name, got, inputs, kw):
    """(code, sentence) for a result of the wrong shape that we can explain; None otherwise."""
    x, weight, bias = inputs["x"], inputs["weight"], inputs["bias"]
    S, P = kw["stride"], kw["padding"]
    shape = np.shape(got)
    N, C, H, W = x.shape
    F, _, KH, KW = weight.shape
    Ho, Wo = (H + 2 * P - KH) // S + 1, (W + 2 * P - KW) // S + 1
    if name == "out" and len(shape) == 4 and shape[:2] == (N, F) and shape != (N, F, Ho, Wo):
        return CODES["conv-output-size"], (f"out has shape {shape}, expected {(N, F, Ho, Wo)}: Ho = (H + 2P − KH) "
                                           "// S + 1 (floor division: a last window that does not fit is dropped), "
                                           "and likewise Wo.")
    if name == "dx" and len(shape) == 4 and shape[:2] == (N, C) and 0 in shape[2:] and P == 0:
        return CODES["pad-crop-at-zero"], (f"dx has shape {shape}: with padding P = 0, dxp[:, :, P:-P] is EMPTY "
                                           "(-0 is 0, so the slice runs from 0 to 0). Crop with dxp[:, :, P:P + H, "
                                           "P:P + W], which works for every P.")
    if name == "dx" and shape == (N, C, H + 2 * P, W + 2 * P) and P > 0:
        return CODES["dx-padding-not-cropped"], (f"dx still has the zero padding: its shape is {shape}, x has "
                                                 f"{x.shape}. Crop P = {P} rows/columns on each side (dxp[:, :, "
                                                 "P:P+H, P:P+W]): the padding is not an input.")
    if name == "dbias" and shape != bias.shape:
        return CODES["dbias-sum-axes"], (f"dbias has shape {shape}, bias has {bias.shape}: sum dout over the batch "
                                         "AND over every output pixel, dout.sum(axis=(0, 2, 3)).")
    return None


def conv_hint(result, name, got, inputs, kw, dout=None):
    """Give a failed result of out / dx / dweight / dbias the code and sentence of a known bug."""
    if result.passed:
        return result
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        g = None
    if g is not None and (name == "out" or dout is not None):
        expected = _expected(name, inputs, kw, dout)
        for wrong, bug_code, sentence in known_wrong(name, inputs, kw, dout):
            if close(g, wrong) and not close(wrong, expected):
                result.code, result.diagnosis = bug_code, sentence
                return result
    found = shape_hint(name, got, inputs, kw)
    if found:
        result.code, result.diagnosis = found
    return result


def _expected(name, inputs, kw, dout):
    out, cache = lib.conv2d_forward(**inputs, **kw)
    if name == "out":
        return out
    dx, dweight, dbias = lib.conv2d_backward(dout, cache)
    return {"dx": dx, "dweight": dweight, "dbias": dbias}[name]
