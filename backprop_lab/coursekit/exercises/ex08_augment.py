"""Notebook 08's augmentation checks (exercise 8.2): `shift_images` and `augment`, exactly against
`data.shift` / `train.shift_some` and a torch pad-and-crop twin, and `augment`'s properties as a random
shift. Known wrong answers (a shift the wrong way, np.roll, the recipe's draws in another order, ...)
are replayed on the same images and name the bug. Letters: N batch, C channels, H/W image size.
"""
from __future__ import annotations

import numpy as np

from backprop_lab.gradcheck import CheckResult

from ..checking.core import CheckTimeout, ForbiddenUse, NotAttempted, StudentCodeError
from ..checking.diagnoses import register as code
from ._common import close, compare
from ._common import size as _size

SHIFT = {k: code(f"08.{k}", meaning) for k, meaning in {
    "shift-wrong-direction": "the images move the wrong way (up for a positive dy, left for a positive dx)",
    "shift-wraps-around": "pixels that leave one side come back on the other (np.roll) instead of zeros",
    "shift-axes-swapped": "dy and dx are swapped (rows moved by dx, columns by dy)",
    "shift-frame-too-narrow": "shift_images works for shifts of one pixel but fails on larger ones: the zero frame "
                              "(padding) is narrower than the largest shift",
    "augment-in-place": "augment (or shift_images) changes its input x in place",
    "augment-integers-high-excluded": "the offsets never reach +max_shift: rng.integers excludes its upper bound",
    "augment-draw-order": "the random draws are not the recipe's (chosen first, then one call for the offsets)",
    "augment-p-inverted": "an image is shifted when rng.random() >= p instead of < p",
    "augment-ignores-rng": "augment draws from numpy's global random state instead of the rng it is given",
    "augment-not-a-shift": "some augmented images are not a zero-filled shift of their input",
    "augment-rate": "the fraction of shifted images does not match p",
}.items()}


def _torch_shift(x, shifts):
    """Pad-and-crop twin of `data.shift`, per image: out[n, :, i, j] = x[n, :, i - dy, j - dx]."""
    import torch
    import torch.nn.functional as tF
    H, W = x.shape[2:]
    m = int(np.max(np.abs(shifts), initial=0))
    xp = tF.pad(torch.tensor(x), (m, m, m, m))
    return np.stack([xp[n, :, m - dy:m - dy + H, m - dx:m - dx + W].numpy() for n, (dy, dx) in enumerate(shifts)])


def _shift_reference(x, shifts):
    from backprop_lab.data import shift
    return np.stack([shift(x[n:n + 1], int(dy), int(dx))[0] for n, (dy, dx) in enumerate(shifts)])


def _shift_hint(res, got, x, shifts):
    if res.passed or np.shape(got) != x.shape:
        return res
    rolled = np.stack([np.roll(x[n], tuple(s), axis=(1, 2)) for n, s in enumerate(shifts)])
    known = [(_shift_reference(x, -shifts), "shift-wrong-direction", "the images moved the wrong way: a positive dy "
              "moves the image DOWN and a positive dx to the RIGHT, out[n, :, i, j] = x[n, :, i - dy, j - dx]."),
             (rolled, "shift-wraps-around", "the pixels that leave one side come back on the other (np.roll). A "
              "shift fills the uncovered rows and columns with zeros: pad with zeros, then crop."),
             (_shift_reference(x, shifts[:, ::-1]), "shift-axes-swapped", "dy and dx are swapped: row n of shifts is "
              "(dy, dx), rows first; dy moves along H (axis 2), dx along W (axis 3).")]
    for wrong, key, sentence in known:
        if close(got, wrong, 0) and not close(wrong, _shift_reference(x, shifts), 0):
            res.code, res.diagnosis = SHIFT[key], sentence
            break
    return res


def _narrow_frame(runner, exc, x, shifts, retry=False):
    """`shift_images` raised `exc` on `shifts` (with `retry`: `augment` raised `exc`, and `shift_images` is
    tried on `shifts` first): if it is right on the same images with every offset clipped to [-1, 1], the
    zero frame is too narrow for the larger ones; raise `exc` again, naming that."""
    if isinstance(exc, (NotAttempted, CheckTimeout, ForbiddenUse)):
        return
    small = np.clip(shifts, -1, 1)
    if np.array_equal(small, shifts):
        return
    if retry:
        try:
            runner.call("call", func="shift_images", args=[x, shifts])
            return
        except StudentCodeError:
            pass
    try:
        ok = close(runner.call("call", func="shift_images", args=[x, small]), _shift_reference(x, small), 0)
    except StudentCodeError:
        ok = False
    if ok:
        top = int(np.max(np.abs(shifts)))
        raise StudentCodeError(
            f"{exc.message} ({'in shift_images: ' if retry else ''}shift_images is right when every offset is -1, "
            f"0 or 1, but fails on offsets up to "
            f"{top}: pad with a zero frame as wide as the largest |offset|, m = max |dy|, |dx| ({top} here), or the "
            "crop xp[n, :, m - dy:m - dy + H, m - dx:m - dx + W] runs off the padded image.)",
            exc.student_traceback, SHIFT["shift-frame-too-narrow"]) from None


def shift_check(fixed):
    def run(runner, rng):
        if fixed:
            x = np.arange(1.0, 3 * 16 + 1).reshape(3, 1, 4, 4)
            shifts = np.array([[1, 0], [0, -2], [-2, 1]])  # -2 = -max: a crop with [m - d:-(m + d)] is empty there
        else:
            N, C = _size(rng, 2, 6), _size(rng, 1, 3)
            x = rng.uniform(0.1, 1.0, (N, C, _size(rng, 4, 8), _size(rng, 4, 8)))
            shifts = rng.integers(-3, 4, size=(N, 2))
            shifts[0] = (x.shape[2], -1)  # a shift by the whole height leaves nothing
            shifts[1] = (-x.shape[2], 0)  # and the other way: the largest offset, negative
        try:
            got = runner.call("call", func="shift_images", args=[x, shifts])
        except StudentCodeError as exc:
            _narrow_frame(runner, exc, x, shifts)
            raise
        return _shift_hint(compare(got, "shift_images(x, shifts)", _shift_reference(x, shifts), _torch_shift(x, shifts),
                                   tol=0.0), got, x, shifts)
    return run


def _recipe(x, seed, p, max_shift, slip=""):
    """What the recipe gives: `train.shift_some` and the shifts it drew; with a `slip`, what a learner's
    variant draws instead ("high_excluded", "offsets_first", "p_inverted")."""
    from backprop_lab.train import shift_some
    rng = np.random.default_rng(seed)
    N, m = len(x), max_shift
    if slip == "offsets_first":
        shifts = rng.integers(-m, m + 1, size=(N, 2))
        shifts[~(rng.random(N) < p)] = 0
    else:
        u = rng.random(N)
        chosen = u > p if slip == "p_inverted" else u < p
        shifts = np.zeros((N, 2), dtype=np.int64)
        shifts[chosen] = rng.integers(-m, m + (0 if slip == "high_excluded" else 1), size=(int(chosen.sum()), 2))
    if not slip:
        return shift_some(x, np.random.default_rng(seed), max_shift, p), shifts
    return _shift_reference(x, shifts), shifts


def _identify(got, x, max_shift):
    """The (dy, dx) with |dy|, |dx| <= max_shift that turns each x[n] into got[n]; None where none does."""
    from backprop_lab.data import shift
    found = [None] * len(x)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            same = np.all(np.asarray(got) == shift(x, dy, dx), axis=tuple(range(1, x.ndim)))
            for n in np.flatnonzero(same):
                found[n] = found[n] or (dy, dx)
    return found


RECIPE_HINT = ("every image is a valid shift, but not the ones the recipe draws. Draw in this order from the rng "
               "you are given: chosen = rng.random(N) < p, then ONE call rng.integers(-max_shift, max_shift + 1, "
               "size=(chosen.sum(), 2)) for the chosen images, in order. The same draws as train.shift_some make "
               "runs reproducible from the seed.")
SLIPS = {"high_excluded": ("augment-integers-high-excluded", "rng.integers(low, high) EXCLUDES high, so no offset "
                           "ever reached +max_shift: draw rng.integers(-max_shift, max_shift + 1, ...)."),
         "offsets_first": ("augment-draw-order", "you drew the offsets first, for every image; the recipe draws "
                           "chosen = rng.random(N) < p FIRST, then one rng.integers(...) call for the chosen images "
                           "only, so that a seed gives the same images as train.shift_some."),
         "p_inverted": ("augment-p-inverted", "an image is shifted when its draw is BELOW p: chosen = "
                        "rng.random(N) < p (with > p, p = 0.3 would shift 70% of the images).")}
IN_PLACE = ("augment changed its input x in place (directly, or through shift_images); return a new array and "
            "leave x as it was: the caller still uses the original images.")


def augment_exact(case):
    def run(runner, rng):
        x, seed, p, max_shift = case(rng)
        expected, shifts = _recipe(x, seed, p, max_shift)
        call = lambda: runner.call("augment_with_seed", func="augment", x=x, seed=seed,
                                   kwargs={"p": p, "max_shift": max_shift})
        try:
            got = call()
        except StudentCodeError as exc:
            _narrow_frame(runner, exc, x, shifts, retry=True)
            raise
        name = f"augment(x, rng, p={p}, max_shift={max_shift})"
        res = compare(got["out"], name, expected, _torch_shift(x, shifts), tol=0.0)
        if not np.array_equal(got["x_after"], x):
            return CheckResult(name, False, np.inf, against="x before the call", code=SHIFT["augment-in-place"],
                               diagnosis=IN_PLACE)
        if res.passed or np.shape(got["out"]) != x.shape:
            return res
        for slip, (key, sentence) in SLIPS.items():
            if close(got["out"], _recipe(x, seed, p, max_shift, slip)[0], 0):
                res.code, res.diagnosis = SHIFT[key], sentence
                return res
        if not np.array_equal(call()["out"], got["out"]):
            res.code, res.diagnosis = SHIFT["augment-ignores-rng"], (
                "two calls with the same seed gave different images: draw from the `rng` argument (rng.random, "
                "rng.integers), not from np.random, so that a seed reproduces a run.")
        elif None not in _identify(got["out"], x, max_shift):
            res.code, res.diagnosis = SHIFT["augment-draw-order"], RECIPE_HINT
        return res
    return run


def augment_valid(runner, rng):
    """Properties any correct augmentation has, whatever order it draws in."""
    N, p, m = 500, 0.5, 2
    x = rng.uniform(0.1, 1.0, (N, 1, 6, 6))
    try:
        got = runner.call("augment_with_seed", func="augment", x=x, seed=int(rng.integers(2**31)),
                          kwargs={"p": p, "max_shift": m})
    except StudentCodeError as exc:
        _narrow_frame(runner, exc, x, np.tile([[m, -m], [-m, m], [0, 0]], (N // 3 + 1, 1))[:N], retry=True)
        raise
    out = np.asarray(got["out"], dtype=float) if np.shape(got["out"]) == x.shape else None
    name, problem, key = f"augment on {N} images, p = {p}, max_shift = {m}", None, None
    found = None if out is None else _identify(out, x, m)
    if out is None:
        problem, key = f"augment must return the images' shape {x.shape}, got {np.shape(got['out'])}.", "malformed"
    elif not np.array_equal(got["x_after"], x):
        problem, key = IN_PLACE, "augment-in-place"
    elif None in found:
        problem, key = (f"{found.count(None)} of the {N} images are not a zero-filled shift of their input by at most "
                        f"max_shift = {m} pixels (or the input itself).", "augment-not-a-shift")
    else:
        unchanged = sum(f == (0, 0) for f in found) / N
        expect = (1 - p) + p / (2 * m + 1) ** 2
        dys, dxs = {f[0] for f in found}, {f[1] for f in found}
        if not {-m, m} <= dys or not {-m, m} <= dxs:
            problem, key = (f"no image was shifted by +{m} (or -{m}) along some axis: rng.integers(low, high) "
                            "excludes high, so use rng.integers(-max_shift, max_shift + 1)."), \
                "augment-integers-high-excluded"
        elif abs(unchanged - expect) > 0.12:
            problem, key = (f"{unchanged:.0%} of the images came back unchanged; with p = {p} about {expect:.0%} "
                            f"should (the 1 - p not chosen, plus the chosen ones that drew the offset (0, 0))."), \
                "augment-rate"
    return CheckResult(name, problem is None, 0.0 if problem is None else np.inf,
                       against="the properties of a random shift", diagnosis=problem,
                       code=SHIFT.get(key, key) if problem else None)


def digits_batch(rng, n):
    from backprop_lab.data import load_digits
    X = load_digits()[0]
    return X[rng.choice(len(X), n, replace=False)]
