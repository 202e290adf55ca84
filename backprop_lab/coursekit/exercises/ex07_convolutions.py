"""Notebook 07 · convolutions: a naive conv2d forward/backward, max-pooling with exact ties, and a
fast sliding-window forward.

Every check runs the learner's functions on float64 inputs and compares with the
`backprop_lab.functional` reference (the fast im2col conv, the tie-aware max-pool) AND torch
(`torch.nn.functional.conv2d` / `max_pool2d`, through the registry's twins). Shapes are kept small:
the learner's loops run inside the grading sandbox in a few milliseconds per check. The fast
forward of 7.3 is also timed, by the grader, against plain loops (see `_speed`).
Letters: N batch, C channels, H/W height/width, F filters, KH/KW kernel, S stride, P padding.
"""
from __future__ import annotations

import time

import numpy as np

from backprop_lab import functional as lib
from backprop_lab.gradcheck import CheckResult, rel_error
from backprop_lab.testing import OPS, distinct_values, run_numpy, run_torch

from ..checking.core import Check, Exercise
from ..checking.diagnoses import register as code
from ..checking.registry import register
from ._common import close, compare, malformed, size
from .ex07_conv_hints import CODES, conv_hint

CONV, POOL = OPS["conv2d"], OPS["maxpool2d"]


def _array(value):
    """`value` as a float64 array, or None when it is not one (a ragged list, a string, None...)."""
    try:
        return None if value is None else np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _close(a, b, tol=1e-8):
    """`close` for anything a learner may return (never raises)."""
    a = _array(a)
    return a is not None and close(a, b, tol)


# ----------------------------------------------------------------------------- 7.1 naive convolution


def _conv_inputs(rng, N, C, H, W, F, KH, KW):
    return {"x": rng.standard_normal((N, C, H, W)), "weight": 0.5 * rng.standard_normal((F, C, KH, KW)),
            "bias": rng.standard_normal(F)}


def _conv(which, case):
    """A check: run the learner's naive pair on `case(rng)` -> (N, C, H, W, F, KH, KW, S, P) and
    compare each of `which` ("out", "dx", "dweight", "dbias")."""
    def run(runner, rng):
        N, C, H, W, F, KH, KW, S, P = case(rng)
        inputs, kw = _conv_inputs(rng, N, C, H, W, F, KH, KW), {"stride": S, "padding": P}
        dout = rng.standard_normal(lib.conv2d_forward(**inputs, **kw)[0].shape)
        out, ref = run_numpy(CONV, inputs, kw, dout)
        t_out, tor = run_torch(CONV, inputs, kw, dout)
        got = runner.call("forward_backward", forward="conv2d_forward_naive", backward="conv2d_backward_naive",
                          args=[inputs["x"], inputs["weight"], inputs["bias"]], kwargs=kw, dout=dout)
        grads = got["grads"]
        if not (isinstance(grads, list) and len(grads) == 3):
            return malformed("conv2d_backward_naive's result", "conv2d_backward_naive must return the triple "
                              f"(dx, dweight, dbias); got {type(grads).__name__}.")
        pairs = {"out": (got["out"], out, t_out), "dx": (grads[0], ref["x"], tor["x"]),
                 "dweight": (grads[1], ref["weight"], tor["weight"]), "dbias": (grads[2], ref["bias"], tor["bias"])}
        results = []
        for name in which:
            candidate, r, t = pairs[name]
            res = compare(candidate, name, r, t, batch_size=N if name in ("dweight", "dbias") else None)
            results.append(conv_hint(res, name, candidate, inputs, kw, dout))
        return results
    return run


def _output_shapes(runner, rng):
    """Forward only, three random (H, W, KH, KW, S, P), including sizes where S does not divide evenly."""
    results = []
    for _ in range(3):
        H, W, S, P = size(rng, 4, 9), size(rng, 4, 9), size(rng, 1, 3), size(rng, 0, 2)
        KH, KW = size(rng, 1, 3), size(rng, 1, 4)
        inputs = _conv_inputs(rng, 1, 1, H, W, 2, KH, KW)
        kw = {"stride": S, "padding": P}
        expected = (1, 2, (H + 2 * P - KH) // S + 1, (W + 2 * P - KW) // S + 1)
        got = runner.call("forward_out", forward="conv2d_forward_naive",
                          args=[inputs["x"], inputs["weight"], inputs["bias"]], kwargs=kw)
        shape = getattr(_array(got), "shape", f"not an array ({type(got).__name__})")
        name = f"out's shape for (H, W) = ({H}, {W}), kernel {KH}x{KW}, stride {S}, padding {P}"
        ok = shape == expected
        hint = None if ok else (f"expected {expected}, got {shape}: Ho = (H + 2P - KH) // S + 1 (floor "
                                "division: a last window that does not fit is dropped), and likewise Wo.")
        results.append(CheckResult(name, ok, 0.0 if ok else np.inf, against="torch's output size",
                                   diagnosis=hint, code=None if ok else CODES["conv-output-size"]))
    return results


def _random_case(S=1, P=0, N=None, rect=False):
    def case(rng):
        n = size(rng, 2, 3) if N is None else N
        low = 4 if S == 1 else 5  # with S = 2 at least two windows per axis, so the stride shows
        H = size(rng, low, 6)
        W = H + size(rng, 1, 2) if rect else size(rng, low, 7)
        return (n, size(rng, 1, 3), H, W, size(rng, 1, 3), *((2, 3) if rect else (3, 3)), S, P)
    return case


FIXED = lambda rng: (2, 3, 5, 5, 4, 3, 3, 1, 0)
FIXED_S2P1 = lambda rng: (2, 2, 6, 5, 3, 3, 2, 2, 1)
ALL = ("out", "dx", "dweight", "dbias")

CONV_NAIVE = Exercise(
    key="07.conv_naive",
    title="Exercise 7.1 · convolution with loops, forward and backward",
    functions=("conv2d_forward_naive", "conv2d_backward_naive"),
    where="the cell under 'Exercise 7.1'",
    checks=[Check(f"{k} on a fixed batch (N, C, H, W) = (2, 3, 5, 5), F = 4, 3x3 kernel", 0.5 if k == "dbias" else 1,
                  _conv((k,), FIXED), True) for k in ALL]
    + [Check("out and all gradients with stride 2, padding 1 and a 3x2 kernel (fixed)", 0.5, _conv(ALL, FIXED_S2P1),
             True),
       Check("output shapes for random sizes, strides and paddings", 0.5, _output_shapes)]
    + [Check(f"{k} on a random batch", 0.5, _conv((k,), _random_case())) for k in ALL]
    + [Check("out and all gradients with stride 2", 1, _conv(ALL, _random_case(S=2))),
       Check("out and all gradients with padding 1", 1, _conv(ALL, _random_case(P=1))),
       Check("out and all gradients for a batch of one (N = 1)", 0.5, _conv(ALL, _random_case(N=1))),
       Check("out and all gradients with a 2x3 kernel, H != W and padding 1", 1,
             _conv(ALL, _random_case(P=1, rect=True)))],
)

# ----------------------------------------------------------------------------- 7.2 max-pooling


def _pool_alternatives(x, dout, K, S):
    """dx under the wrong tie rules (every tied max gets dout, they split it, the LAST one gets it) and
    with overlapping windows that overwrite instead of adding up: {rule: dx}."""
    out = lib.maxpool2d_forward(x, K, S)[0]
    N, C, Ho, Wo = out.shape
    sl = lambda a, b: (slice(None), slice(None), slice(a, a + S * Ho, S), slice(b, b + S * Wo, S))
    hits = {(a, b): x[sl(a, b)] == out for a in range(K) for b in range(K)}
    count = sum(h.astype(float) for h in hits.values())
    every, split, last = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    claimed = np.zeros(out.shape, dtype=bool)
    for (a, b) in sorted(hits, reverse=True):
        every[sl(a, b)] += dout * hits[a, b]
        split[sl(a, b)] += dout * hits[a, b] / count
        last[sl(a, b)] += dout * (hits[a, b] & ~claimed)
        claimed |= hits[a, b]
    # numpy's buffered `dx[index] += dout` (or `=`): of the windows whose maximum is the same pixel,
    # the last one in (n, c, i, j) order wins, the others are lost
    n, c, i, j = np.meshgrid(*(np.arange(k) for k in out.shape), indexing="ij")
    windows = np.lib.stride_tricks.sliding_window_view(x, (K, K), axis=(2, 3))[:, :, ::S, ::S][:, :, :Ho, :Wo]
    row, col = np.divmod(windows.reshape(N, C, Ho, Wo, K * K).argmax(axis=4), K)
    overwrite = np.zeros_like(x)
    overwrite[n, c, i * S + row, j * S + col] += dout
    swapped = np.zeros_like(x)  # the window position's row and column exchanged (divmod read the wrong way round)
    np.add.at(swapped, (n, c, i * S + col, j * S + row), dout)
    return {"every": every, "split": split, "last": last, "overwrite": overwrite, "swapped": swapped}


POOL_HINTS = {rule: (code(f"07.pool-{name}", meaning), sentence) for rule, name, meaning, sentence in [
    ("every", "tie-every", "at a tie, every tied maximum gets the gradient",
     "every tied maximum received the whole gradient, so the gradient grew by the number of ties. torch (and the "
     "reference) give it to the FIRST maximum only, in row-major order (np.argmax of the flattened window returns "
     "exactly that one)."),
    ("split", "tie-split", "at a tie, the gradient is split among the tied maxima",
     "the gradient was split evenly among the tied maxima. torch (and the reference) give all of it to the FIRST "
     "maximum in row-major order (np.argmax of the flattened window)."),
    ("last", "tie-last", "at a tie, the last maximum gets the gradient instead of the first",
     "the LAST tied maximum received the gradient (a `>=` comparison?). torch picks the FIRST one in row-major "
     "order (np.argmax of the flattened window)."),
    ("overwrite", "overlap-not-added", "overlapping windows that share their maximum overwrite each other's gradient",
     "where overlapping windows share their maximum, only one window's gradient arrived: they must ADD up. An `=` "
     "overwrites, and so does a fancy-indexed `dx[rows, cols] += dout` (numpy's buffered +=: a repeated index "
     "counts once). Use += one window offset at a time, or np.add.at(dx, index, dout)."),
    ("swapped", "argmax-row-col-swapped", "the maximum's row and column inside the window are swapped",
     "the gradient went to the mirror position of each maximum: its row and column are swapped. For a window "
     "flattened row by row, index k sits at row k // K and column k % K: row, col = np.divmod(k, K), in that "
     "order.")]}
POOL_SIZE = code("07.pool-output-size", "the max-pool's output size is not (H − K) // S + 1")


def _pool(which, case, values):
    """A check: `case(rng)` -> (x shape, K, stride or None), `values(rng, shape)` -> x."""
    def run(runner, rng):
        shape, K, stride = case(rng)
        x = values(rng, shape)
        kw = {"kernel_size": K, "stride": stride}
        dout = rng.standard_normal(lib.maxpool2d_forward(x, **kw)[0].shape)
        out, ref = run_numpy(POOL, {"x": x}, kw, dout)
        t_out, tor = run_torch(POOL, {"x": x}, kw, dout)
        got = runner.call("forward_backward", forward="maxpool2d_forward", backward="maxpool2d_backward",
                          args=[x], kwargs=kw, dout=dout)
        grads = got["grads"]
        if isinstance(grads, list) and len(grads) == 1:
            grads = grads[0]
        results = []
        if "out" in which:
            res = compare(got["out"], "out", out, t_out)
            mine = getattr(_array(got["out"]), "shape", None)
            if not res.passed and mine is not None and len(mine) == 4 and mine != out.shape:
                S = K if stride is None else stride
                res.code, res.diagnosis = POOL_SIZE, (
                    f"out has shape {mine}, expected {out.shape}: with K = {K} and stride S = {S}, "
                    "Ho = (H − K) // S + 1 windows fit along the height (they overlap when S < K), and likewise Wo.")
            results.append(res)
        if "dx" in which:
            res = compare(grads, "dx", ref["x"], tor["x"])
            if not res.passed and getattr(_array(grads), "shape", None) == x.shape:
                for rule, alt in _pool_alternatives(x, dout, K, K if stride is None else stride).items():
                    if _close(grads, alt) and not _close(alt, ref["x"]):
                        res.code, res.diagnosis = POOL_HINTS[rule]
                        break
            results.append(res)
        return results
    return run


def _ties(rng, shape):
    """Integer-valued pixels in {0, 1, 2}: nearly every window has an exact tie, as in the digits."""
    x = rng.integers(0, 3, size=shape).astype(np.float64)
    x[0, 0, 0, :2] = 2.0  # the first window surely has a tie at its maximum
    return x


def _images(rng, low=4, high=7, n=(1, 3), c=(1, 3)):
    return (size(rng, *n), size(rng, *c), size(rng, low, high), size(rng, low, high))


DISTINCT = lambda rng, shape: distinct_values(rng, shape, np.float64)
POOL_FIXED = lambda rng: ((2, 2, 4, 4), 2, None)
TIES_FIXED = lambda rng: ((1, 2, 4, 6), 2, None)

MAXPOOL = Exercise(
    key="07.maxpool",
    title="Exercise 7.2 · max-pooling, forward and backward",
    functions=("maxpool2d_forward", "maxpool2d_backward"),
    where="the cell under 'Exercise 7.2'",
    checks=[Check("out on a fixed (2, 2, 4, 4) input, 2x2 windows", 0.5, _pool(("out",), POOL_FIXED, DISTINCT), True),
            Check("dx on a fixed (2, 2, 4, 4) input, 2x2 windows", 1, _pool(("dx",), POOL_FIXED, DISTINCT), True),
            Check("dx with exact ties (fixed integer-valued input)", 1, _pool(("out", "dx"), TIES_FIXED, _ties), True),
            Check("overlapping 3x3 windows with stride 1 on a fixed (1, 2, 5, 6) input", 0.5,
                  _pool(("out", "dx"), lambda r: ((1, 2, 5, 6), 3, 1), DISTINCT), True),
            Check("3x3 windows with stride 2 on a fixed (1, 1, 7, 8) input", 0.5,
                  _pool(("out", "dx"), lambda r: ((1, 1, 7, 8), 3, 2), DISTINCT), True),
            Check("out and dx on a random batch, 2x2 windows", 0.5,
                  _pool(("out", "dx"), lambda r: (_images(r), 2, None), DISTINCT)),
            Check("overlapping 3x3 windows with stride 1 (gradients add up)", 1,
                  _pool(("out", "dx"), lambda r: (_images(r), 3, 1), DISTINCT)),
            Check("3x3 windows, stride 2, even sizes (the last row and column fit no window)", 0.5,
                  _pool(("out", "dx"), lambda r: ((size(r, 1, 2), size(r, 1, 2), 2 * size(r, 3, 4),
                                                   2 * size(r, 3, 4)), 3, 2), DISTINCT)),
            Check("dx with exact ties on random integer-valued images", 1,
                  _pool(("out", "dx"), lambda r: (_images(r), 2, None), _ties)),
            Check("dx with exact ties and overlapping windows", 0.5,
                  _pool(("out", "dx"), lambda r: (_images(r), 2, 1), _ties))],
)

# ----------------------------------------------------------------------------- 7.3 fast forward


def _fast(case):
    def run(runner, rng):
        N, C, H, W, F, KH, KW, S, P = case(rng)
        inputs, kw = _conv_inputs(rng, N, C, H, W, F, KH, KW), {"stride": S, "padding": P}
        out = lib.conv2d_forward(**inputs, **kw)[0]
        t_out, _ = run_torch(CONV, inputs, kw, None)
        got = runner.call("call", func="conv2d_forward_fast", args=[inputs["x"], inputs["weight"], inputs["bias"]],
                          kwargs=kw)
        if isinstance(got, list) and len(got) == 2 and getattr(_array(got[0]), "shape", None) == out.shape:
            return malformed("conv2d_forward_fast's result", "conv2d_forward_fast returns out only, not a pair "
                              "(out, cache).")
        return conv_hint(compare(got, "out", out, t_out), "out", got, inputs, kw)
    return run


SMALL, LARGE = (8, 4, 12, 12, 8, 3, 3, 1, 1), (32, 8, 16, 16, 16, 3, 3, 1, 1)  # N, C, H, W, F, KH, KW, S, P
SPEED_RATIO, SCREEN_RATIO = 5.0, 2.0
MIN_COST = 2e-9  # seconds per output pixel: below this a difference of two round trips is noise


def _outputs(shape):
    N, C, H, W, F, KH, KW, S, P = shape
    return N * F * ((H + 2 * P - KH) // S + 1) * ((W + 2 * P - KW) // S + 1)


def _best(runner, rng, shape, probes, rounds, errors):
    """Minimum round-trip seconds of each probe over `rounds` rounds, each on fresh inputs (no cache
    can help); the learner's outputs are checked against the reference as they come."""
    N, C, H, W, F, KH, KW, S, P = shape
    best = dict.fromkeys(probes, np.inf)
    for _ in range(rounds):
        inputs = _conv_inputs(rng, N, C, H, W, F, KH, KW)
        for probe in probes:
            start = time.perf_counter()
            if probe == "yours":
                got = runner.call("call", func="conv2d_forward_fast", args=list(inputs.values()),
                                  kwargs={"stride": S, "padding": P})
            else:
                runner.call(probe, **inputs, stride=S, padding=P)
            best[probe] = min(best[probe], time.perf_counter() - start)
            if probe == "yours":
                expected = lib.conv2d_forward(*inputs.values(), S, P)[0]
                errors.append(rel_error(got, expected) if _close(got, expected, np.inf) else np.inf)
    return best


def _speed(runner, rng):
    """The learner's forward must beat four Python loops over (n, f, i, j) by SPEED_RATIO per output.

    Every call is timed here, in the grader's process (nothing measured inside the learner's process
    is trusted). In the sandbox a round trip jitters by up to ~10 ms on a busy machine, more than a
    fast forward of the small batch takes, so: (1) time the loops, a no-op round trip (`conv_null`,
    the same data in and out) and the learner's function on the SMALL batch; a function not even
    SCREEN_RATIO x faster than the loops stops there (no need to wait for loops on a large batch); (2) time
    the learner's function on the LARGE batch, 14x more outputs, where its work dwarfs the jitter.
    Cost per output pixel, transfer subtracted, gives the speed-up. Measured on a busy 2-core machine,
    in process / in the sandbox: sliding windows + tensordot 50-140x / 120-280x, a loop over (i, j)
    vectorized over N and F 40-100x / 30-140x, unoptimized einsum 9-17x / 8-23x, loops over (n, i, j)
    19-28x / 11-31x, loops over (n, f, i, j) 1x / 1x: SPEED_RATIO sits between the last two."""
    errors = []
    _best(runner, rng, SMALL, ("yours",), 1, errors)  # untimed: values first, then speed
    if max(errors) > 1e-8:
        return CheckResult("speed: not timed, because the values are wrong", False, max(errors),
                           against="the reference", code=NOT_TIMED, diagnosis=(
                               "your output differs from the reference on the batch used for timing (see the checks "
                               "of the values); speed counts only for correct results, so fix the values first."))
    small = _best(runner, rng, SMALL, ("yours", "conv_null", "conv_loop_baseline"), 2, errors)
    loop_cost = (small["conv_loop_baseline"] - small["conv_null"]) / _outputs(SMALL)
    cost = max(small["yours"] - small["conv_null"], 0.0) / _outputs(SMALL)
    if loop_cost >= SCREEN_RATIO * cost:
        large = _best(runner, rng, LARGE, ("yours", "conv_null"), 3, errors)
        cost = max(large["yours"] - large["conv_null"], 0.0) / _outputs(LARGE)
    speedup = loop_cost / max(cost, MIN_COST)
    shown = f"{speedup:.0f}x" if cost > MIN_COST else f"over {speedup:.0f}x"
    name = f"speed: {shown} faster per output pixel than loops over (n, f, i, j), measured now (needs {SPEED_RATIO:g}x)"
    if max(errors) > 1e-8:
        return CheckResult(name, False, max(errors), against="the reference", code=NOT_TIMED, diagnosis=(
            "the values are wrong on some of the batches used for timing; speed counts only for correct results."))
    passed = speedup >= SPEED_RATIO
    hint = None if passed else (
        "this is about as slow as Python loops over the output pixels. Build all windows at once with "
        "np.lib.stride_tricks.sliding_window_view and contract (C, KH, KW) with ONE np.tensordot or "
        "np.einsum(..., optimize=True): no Python loop over n, f, i or j.")
    return CheckResult(name, passed, max(errors), against="loops over (n, f, i, j), timed by the checker",
                       diagnosis=hint, code=None if passed else TOO_SLOW)


NOT_TIMED = code("07.fast-not-timed", "the speed is not measured because the values are wrong")
TOO_SLOW = code("07.fast-too-slow", "the loop-free forward is not faster than Python loops over the output pixels")


CONV_FAST = Exercise(
    key="07.conv_fast",
    title="Exercise 7.3 · a fast forward with sliding windows",
    functions=("conv2d_forward_fast",),
    where="the cell under 'Exercise 7.3'",
    checks=[Check("out on a fixed batch (2, 3, 6, 6), F = 4, 3x3, padding 1", 1,
                  _fast(lambda rng: (2, 3, 6, 6, 4, 3, 3, 1, 1)), True),
            Check("out with stride 2, a 2x3 kernel and padding 1 (fixed)", 0.5,
                  _fast(lambda rng: (2, 2, 6, 7, 3, 2, 3, 2, 1)), True),
            Check("speed against four loops over (n, f, i, j)", 1, _speed, True),
            Check("out on random batches, stride 1, padding 0 or 1", 1,
                  lambda r, rng: [_fast(_random_case(P=p))(r, rng) for p in (0, 1)]),
            Check("out with stride 2, a 2x3 kernel and padding 1", 0.5, _fast(_random_case(S=2, P=1, rect=True)))],
)

register(CONV_NAIVE, MAXPOOL, CONV_FAST)
