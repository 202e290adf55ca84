"""Print, per notebook, how many catalogue bugs the visible self-check catches and names.

    python tests/bugs/measure.py            # the catalogue written with the diagnoses (bugs_NN.py)
    python tests/bugs/measure.py fresh      # the fresh set (fresh_NN.py), named = keywords matched

caught: the visible checks fail. named: for catalogue bugs, a failing visible check has the
bug's code; for fresh bugs, the visible report's text contains one of the bug's keywords and its
code is a specific one (not "differs"). leak: the visible checks pass but the hidden ones fail.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exercise_kit import edit, report, solution_cells

from bugs import load

VAGUE = {"differs", "constant-factor", "partly-wrong", "wrong-value", None}


def verdict(bug, seed: int = 11) -> dict:
    cells = edit(solution_cells(bug.assignment), bug.cell, *bug.edits)
    visible = report(bug.exercise, cells, seed=None, hidden=False)
    caught = visible.status != "pass"
    codes = [o.code for o in visible.outcomes if o.status != "pass"]
    text = visible.text().lower()
    if bug.code is not None:
        named = bug.code in codes
    else:
        named = caught and any(k.lower() in text for k in bug.keywords) and any(c not in VAGUE for c in codes)
    leak = False
    if not caught:
        leak = report(bug.exercise, cells, seed=seed, hidden=True).status != "pass"
    return {"caught": caught, "named": named, "leak": leak, "codes": codes, "text": visible.text()}


def main(kind: str = "bugs", verbose: bool = False) -> None:
    rows = Counter()
    for bug in load(kind):
        v = verdict(bug)
        nb = bug.exercise[:2]
        rows[nb, "planted"] += 1
        rows[nb, "caught"] += v["caught"]
        rows[nb, "named"] += v["named"]
        rows[nb, "leak"] += v["leak"]
        if verbose and not v["named"]:
            print(f"--- {bug.exercise} {bug.id}: caught={v['caught']} codes={v['codes']}\n{v['text']}\n")
    print(f"{'notebook':<9}{'planted':>8}{'caught':>8}{'named':>8}{'leaks':>7}")
    total = Counter()
    for nb in sorted({k[0] for k in rows}):
        vals = [rows[nb, k] for k in ("planted", "caught", "named", "leak")]
        total.update(dict(zip(("planted", "caught", "named", "leak"), vals)))
        print(f"{nb:<9}" + "".join(f"{v:>8}" for v in vals[:3]) + f"{vals[3]:>7}")
    print(f"{'all':<9}{total['planted']:>8}{total['caught']:>8}{total['named']:>8}{total['leak']:>7}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    main(args[0] if args else "bugs", verbose="-v" in sys.argv)
