"""2-D convolution (cross-correlation, like `torch.nn.functional.conv2d`): a naive loop version
to read, and a fast im2col version to use. Both take the same arguments and give the same results.

Letters: N batch, C input channels, H/W input height/width, F filters (output channels),
KH/KW kernel height/width, Ho/Wo output height/width, with (per axis)
Ho = (H + 2 * padding - KH) // stride + 1.

    out[n, f, i, j] = bias[f] + sum_{c, a, b} weight[f, c, a, b] * xpad[n, c, i*stride + a, j*stride + b]
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .shapes import as_pair, check_float, check_shape, output_size


class ConvNaiveCache(NamedTuple):
    """What `conv2d_backward_naive` needs: the inputs themselves (the loops re-read every window)."""

    x: np.ndarray  # (N, C, H, W), unpadded: dweight[f] += dout * window of x
    weight: np.ndarray  # (F, C, KH, KW): dx window += dout * weight[f]
    has_bias: bool  # False when the forward had bias=None: then dbias is None
    stride: tuple[int, int]  # (sh, sw)
    padding: tuple[int, int]  # (ph, pw)


class ConvCache(NamedTuple):
    """What `conv2d_backward` needs: the im2col matrix and the reshaped filters, not x itself."""

    col: np.ndarray  # (KH*KW*C, N*Ho*Wo): every window of the padded x, one column per output pixel
    wmat: np.ndarray  # (F, KH*KW*C): the filters, rows ordered like col's rows
    x_shape: tuple[int, int, int, int]  # (N, C, H, W)
    weight_shape: tuple[int, int, int, int]  # (F, C, KH, KW)
    has_bias: bool  # False when the forward had bias=None: then dbias is None
    stride: tuple[int, int]  # (sh, sw)
    padding: tuple[int, int]  # (ph, pw)


def _check_dout(op, dout, x_shape, weight_shape, stride, padding):
    """Raise unless dout has the shape (N, F, Ho, Wo) of the forward's out; return (Ho, Wo)."""
    (N, _, H, W), (F, _, KH, KW), (sh, sw), (ph, pw) = x_shape, weight_shape, stride, padding
    Ho, Wo = output_size(op, H, KH, sh, ph, "H"), output_size(op, W, KW, sw, pw, "W")
    check_shape(op, "dout", dout, "N, F, Ho, Wo", (N, F, Ho, Wo), hint="dout has the shape of out.")
    return Ho, Wo


def _check_conv(op, x, weight, bias, stride, padding):
    """Validate the arguments; return (N, C, H, W, F, KH, KW, Ho, Wo, (sh, sw), (ph, pw))."""
    check_float(op, "x", x)
    N, C, H, W = check_shape(op, "x", x, "N, C, H, W",
                             hint="Convolutions take a batch of images; add axes with x[:, None] or x[None].")
    F, _, KH, KW = check_shape(op, "weight", weight, "F, C, KH, KW", (None, C, None, None),
                               match=("x", "N, C, H, W", x.shape),
                               hint="torch's Conv2d stores weight as (out_channels, in_channels, KH, KW).")
    if bias is not None:
        check_shape(op, "bias", bias, "F,", (F,), match=("weight", "F, C, KH, KW", weight.shape))
    stride, padding = as_pair(op, "stride", stride, 1), as_pair(op, "padding", padding, 0)
    Ho = output_size(op, H, KH, stride[0], padding[0], "H")
    Wo = output_size(op, W, KW, stride[1], padding[1], "W")
    return N, C, H, W, F, KH, KW, Ho, Wo, stride, padding


def _pad(x, ph, pw):
    """Zero-pad the two spatial axes of (N, C, H, W) -> (N, C, H + 2ph, W + 2pw)."""
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x


# ---------------------------------------------------------------------------------------------
# Naive: one dot product per output pixel. Slow (Python loops), but every line is the formula.
# ---------------------------------------------------------------------------------------------

def conv2d_forward_naive(x, weight, bias, stride=1, padding=0):
    """Convolution with explicit loops over samples, filters and output pixels.

    Args:
        x: input, shape (N, C, H, W).
        weight: filters, shape (F, C, KH, KW).
        bias: shape (F,), or None for no bias (then the backward returns dbias = None).
        stride: int or (sh, sw).
        padding: int or (ph, pw): zeros added on both sides of H and W.

    Returns:
        out: shape (N, F, Ho, Wo).
        cache: a `ConvNaiveCache` (x, weight, has_bias, stride, padding).
    """
    N, C, H, W, F, KH, KW, Ho, Wo, (sh, sw), (ph, pw) = _check_conv(
        "conv2d_forward_naive", x, weight, bias, stride, padding)
    xp = _pad(x, ph, pw)
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, weight))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * sh:i * sh + KH, j * sw:j * sw + KW]  # (C, KH, KW)
                    out[n, f, i, j] = np.sum(window * weight[f])
            if bias is not None:
                out[n, f] += bias[f]
    return out, ConvNaiveCache(x, weight, bias is not None, (sh, sw), (ph, pw))


def conv2d_backward_naive(dout, cache):
    """Gradients with the same loops: each output pixel sends its gradient back to the window it read.

    Args:
        dout: upstream gradient, shape (N, F, Ho, Wo).
        cache: from `conv2d_forward_naive`.

    Returns:
        dx: shape (N, C, H, W).
        dweight: shape (F, C, KH, KW).
        dbias: shape (F,), or None when the forward had no bias.
    """
    x, weight = cache.x, cache.weight
    N, C, H, W = x.shape
    F, _, KH, KW = weight.shape
    (sh, sw), (ph, pw) = cache.stride, cache.padding
    Ho, Wo = _check_dout("conv2d_backward_naive", dout, x.shape, weight.shape, cache.stride, cache.padding)
    xp = _pad(x, ph, pw)
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    dweight = np.zeros(weight.shape, dtype=dout.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW)
                    # Windows overlap and every filter reads every window: accumulate with +=.
                    dweight[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * weight[f]
    dx = dxp[:, :, ph:ph + H, pw:pw + W]  # the gradient reaching the padding is dropped
    dbias = dout.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return dx, dweight, dbias


# ---------------------------------------------------------------------------------------------
# Fast: im2col + one matrix product (no Python loop over pixels).
#
# Trick 1 (layout). The column matrix is laid out (KH*KW*C, N*Ho*Wo): row (a, b, c) holds, for every
# output pixel, the input value that kernel offset (a, b) of channel c sees. For a fixed offset
# (a, b) that is just a shifted, strided slice of the padded image, so im2col is KH*KW big slice
# copies whose innermost axis (Wo) stays contiguous, instead of a gather of tiny KH x KW patches.
# Trick 2 (BLAS does the arithmetic). out = W (F, K) @ col; dweight = dout (F, L) @ col.T;
# dcol = W.T @ dout, with K = KH*KW*C and L = N*Ho*Wo.
# Trick 3 (col2im without np.add.at). dcol is scattered back with KH*KW strided slice additions
# (one per kernel offset). Within one offset the output pixels hit distinct input pixels, so
# plain += is correct; the overlaps between offsets are handled by the loop itself.
# Measured on a 2-core CPU in float64 for 3x3 kernels: fwd+bwd about as fast as torch's CPU conv
# (tests/test_conv_fast.py prints the table); float32 is faster still.
# ---------------------------------------------------------------------------------------------

def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """Fast convolution (im2col + matrix product), with the arguments and results of `conv2d_forward_naive`:
    x (N, C, H, W), weight (F, C, KH, KW), bias (F,) or None, stride and padding ints or pairs.

    Returns:
        out: shape (N, F, Ho, Wo), C-contiguous, dtype of x (float32 stays float32).
        cache: a `ConvCache` (col, wmat, x_shape, weight_shape, has_bias, stride, padding); col, of
            shape (KH*KW*C, N*Ho*Wo), is the one large buffer kept for the backward pass.
    """
    N, C, H, W, F, KH, KW, Ho, Wo, (sh, sw), (ph, pw) = _check_conv(
        "conv2d_forward", x, weight, bias, stride, padding)
    # Pad straight into channel-major (C, N, Hp, Wp) order: then every im2col slice below has the
    # layout (C, N, Ho, Wo) of a row block of col, and the copy is a plain strided memcpy.
    xt = x.transpose(1, 0, 2, 3)
    if ph or pw:
        xp = np.zeros((C, N, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
        xp[:, :, ph:ph + H, pw:pw + W] = xt
    else:
        xp = xt
    col = np.empty((KH, KW, C, N, Ho, Wo), dtype=x.dtype)
    for a in range(KH):
        for b in range(KW):
            col[a, b] = xp[:, :, a:a + sh * Ho:sh, b:b + sw * Wo:sw]
    col = col.reshape(KH * KW * C, N * Ho * Wo)
    wmat = weight.transpose(0, 2, 3, 1).reshape(F, KH * KW * C)  # filters reordered like col's rows
    out = wmat @ col  # (F, N*Ho*Wo)
    if bias is not None:
        out += bias.reshape(F, 1)
    out = np.ascontiguousarray(out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3))
    return out, ConvCache(col, wmat, x.shape, weight.shape, bias is not None, (sh, sw), (ph, pw))


def conv2d_backward(dout, cache):
    """Fast gradients of `conv2d_forward` (two matrix products and a col2im): given dout (N, F, Ho, Wo)
    and the `ConvCache`, returns (dx, dweight, dbias) of shapes (N, C, H, W), (F, C, KH, KW) and (F,),
    like `conv2d_backward_naive` (dbias is None when the forward had no bias).
    """
    col, wmat = cache.col, cache.wmat
    (N, C, H, W), (F, _, KH, KW) = cache.x_shape, cache.weight_shape
    (sh, sw), (ph, pw) = cache.stride, cache.padding
    Ho, Wo = _check_dout("conv2d_backward", dout, cache.x_shape, cache.weight_shape, cache.stride, cache.padding)
    dmat = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(F, N * Ho * Wo)
    dbias = dmat.sum(axis=1) if cache.has_bias else None
    dweight = (dmat @ col.T).reshape(F, KH, KW, C).transpose(0, 3, 1, 2)
    # dcol = wmat.T @ dmat, computed one kernel row `a` at a time: the temporary is 1/KH of col
    # (memory stays at one im2col-sized buffer, the cached col) and stays warm in cache for col2im.
    wrows = wmat.T.reshape(KH, KW * C, F)
    dxp = np.zeros((C, N, H + 2 * ph, W + 2 * pw), dtype=np.result_type(dmat, wmat))
    for a in range(KH):
        dcol_a = (wrows[a] @ dmat).reshape(KW, C, N, Ho, Wo)
        for b in range(KW):
            dxp[:, :, a:a + sh * Ho:sh, b:b + sw * Wo:sw] += dcol_a[b]
    dx = np.ascontiguousarray(dxp[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3))
    return dx, np.ascontiguousarray(dweight), dbias
