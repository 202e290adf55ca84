"""Where a wrong array is wrong: the last resort of `backprop_lab.gradcheck.diagnose_with_code`.

When no known bug fits (a factor, a transpose, a sign, ...), the learner still needs to know where to
look: which entries, rows, columns; whether only the border is wrong, or only the entries that should
be exactly 0; whether every row is off by the same amount (a bias). `localize` says that in one
sentence, with a stable code from `backprop_lab.gradcheck.DIAGNOSES`.
"""
from __future__ import annotations

import numpy as np


def _list(idx, limit: int = 6) -> str:
    """"0, 3, 4" (and "... (9 in all)" beyond `limit`)."""
    idx = [int(i) for i in idx]
    text = ", ".join(map(str, idx[:limit]))
    return text + (f", ... ({len(idx)} in all)" if len(idx) > limit else "")


def _index(i: tuple) -> str:
    return "[" + ", ".join(map(str, i)) + "]"


def _rows_and_columns(wrong: np.ndarray) -> list[str]:
    """Phrases naming the rows (axis 0) and columns (last axis) that hold every wrong entry, when
    those are a proper subset. `wrong`: bool array, ndim >= 2."""
    parts = []
    rows = np.flatnonzero(wrong.reshape(wrong.shape[0], -1).any(axis=1))
    if 0 < len(rows) < wrong.shape[0]:
        parts.append(f"row{'s' if len(rows) > 1 else ''} {_list(rows)} of {wrong.shape[0]} (axis 0)")
    cols = np.flatnonzero(wrong.reshape(-1, wrong.shape[-1]).any(axis=0))
    if 0 < len(cols) < wrong.shape[-1]:
        parts.append(f"column{'s' if len(cols) > 1 else ''} {_list(cols)} of {wrong.shape[-1]} (last axis)")
    return parts


def localize(c: np.ndarray, e: np.ndarray, name: str, tol: float) -> tuple[str, str]:
    """(code, sentence) saying where `c` differs from `e` (same shape, finite, float64).

    Codes: "wrong-value" (a single number), "constant-offset", "row-offset" (2-D: the same error in
    every row of the batch), "wrong-where-zero", "border" (3-D and up: only the edges of the last two
    axes), "partly-wrong" (under half the entries), "differs" (the rest, still localised).
    """
    d = c - e
    scale = max(float(np.max(np.abs(e))), float(np.max(np.abs(c))), 1e-12)
    atol = 10 * tol * scale
    if c.size == 1:
        got, want = float(c.reshape(-1)[0]), float(e.reshape(-1)[0])
        return "wrong-value", (f"{name} is {got:.6g} but should be {want:.6g} (off by {got - want:+.4g}). One "
                               "number shows no pattern: recompute it step by step, checking each factor "
                               "of the chain rule.")
    wrong = np.abs(d) > atol
    if not wrong.any():  # within 10x the tolerance everywhere: only the normwise error is too large
        wrong = np.abs(d) >= 0.5 * float(np.max(np.abs(d)))
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(d)), d.shape))
    example = f"at index {_index(worst)}: got {c[worst]:.4g}, expected {e[worst]:.4g}"
    if np.ptp(d) <= atol:
        return "constant-offset", (f"{name} is off by the same amount ({d.reshape(-1)[0]:+.4g}) in every entry: "
                                   "a constant term added or left out.")
    if c.ndim == 2 and c.shape[0] > 1 and np.all(np.abs(d - d[:1]) <= atol):
        return "row-offset", (f"{name} is off by the same values in every row (along axis 0), {example}: a term "
                              "added to or missing from every row of the batch, such as a bias.")
    zero = e == 0
    if zero[wrong].all() and not zero.all():
        return "wrong-where-zero", (f"{name} is wrong only where the expected value is exactly 0 "
                                    f"({int(wrong.sum())} entries, e.g. {example}): something gets through "
                                    "where it must be blocked (a mask, x > 0 vs x >= 0, a missing branch).")
    if c.ndim >= 3 and min(c.shape[-2:]) >= 3:  # images: (C, H, W) or (N, C, H, W)
        inner = np.zeros(c.shape, dtype=bool)
        inner[..., 1:-1, 1:-1] = True
        if not (wrong & inner).any():
            return "border", (f"{name} is right inside but wrong at the border (the first or last rows or "
                              f"columns of the last two axes), {example}: check the padding, the crop and the "
                              "loop bounds at the edges.")
    where = _rows_and_columns(wrong) if c.ndim >= 2 else []
    where_text = (" (all in " + " and ".join(where) + ")") if where else ""
    how = ""
    if np.all(c[wrong] == 0):
        how = "; yours are 0 there (a contribution never written or added)"
    elif np.all(np.abs(c[wrong] + e[wrong]) <= atol):
        how = "; yours have the opposite sign there"
    frac = float(wrong.mean())
    if frac < 0.5:
        return "partly-wrong", (f"{name} is right in {100 * (1 - frac):.0f}% of the entries but wrong in the rest"
                                f"{where_text}{how}, e.g. {example}: look for a missing case (a mask, a branch "
                                "for negative inputs, a tie, the border).")
    return "differs", (f"{name} is wrong in {int(wrong.sum())} of {wrong.size} entries{where_text}{how}; the "
                       f"largest difference is {example}.")
