"""Rebuild a submitted notebook against the gradebook's record of its source, before nbgrader sees it.

Students delete, move, duplicate, split and merge cells, and rename files. nbgrader copes with few of
these (a deleted test cell next to a locked check cell crashes its `OverwriteCells`, and the whole
notebook scores 0). So every submission is rebuilt on a *staged copy* (the submitted file is never
touched) from `cell_metadata_truth`, the gradebook's record of the assignment's cells:

* **Locked cells** (setup, checks, tests, locked prose): always the source's text, in the source's
  order, once each: one deleted, edited, moved or duplicated comes back as released. Nothing a student
  does to a locked cell changes the score, either way.
* **Answer cells** (solution cells) are matched by ``grade_id`` wherever they stand and put in the
  source's place. Several cells with one ``grade_id``:

  - *split* (Jupyter's "split cell" copies the tag to each part): the parts define different names, or
    only their concatenation is valid Python -> graded joined, in notebook order;
  - *duplicated*: otherwise -> the **last copy whose code differs from the starting code** is graded
    (the first copy when none does); the note says which copy.
* **Merged cells** (Jupyter's "merge" keeps the first cell's tag): a locked cell's text found inside an
  answer is taken out of the answer (the locked cell comes back on its own); an answer found inside a
  locked cell (the answer's own cell is missing) is graded from there.
* An answer cell that lost its tag is found by the names it defines (``def d_square``...).
* Untagged cells (the student's own) stay where they were, ungraded (nbgrader's "### BEGIN HIDDEN
  TESTS" markers in them are defused: they would stop the feedback); cells tagged with an id this
  assignment does not have (another assignment's) are left out of the graded copy.

Each case gives one line (`rebuild` returns them): the CLI prints them, the record keeps them, and a
"Notes from the grader" cell at the top of the graded notebook shows them to the student.

`match_notebooks` maps submitted file names to the assignment's notebooks ("01_chain_rule (1).ipynb",
"Copy of 01_Chain_Rule.ipynb", "01_chain_rule-Copy1.ipynb").
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell

NOTES_KEY = "backprop_lab"  # nb.metadata[NOTES_KEY]["grading_notes"]: the notes, for the grading step
_NEW_CELL = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}
_DELIMITER = re.compile(r"###\s*((BEGIN|END) (HIDDEN TESTS|SOLUTION))")
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def cell_metadata_truth(root: Path, assignment: str) -> dict:
    """{notebook: [cell, ...]}: every nbgrader cell of the release, in the source's order.

    Each cell is plain data: ``{"grade_id", "cell_type", "source", "locked", "grade", "solution",
    "task", "points", "checksum"}``; `source` is what the gradebook recorded (locked cells with their
    hidden tests, answer cells with the starting code).
    """
    from nbgrader.api import Gradebook

    truth: dict = {}
    with Gradebook("sqlite:///" + str(root / "autograder" / "gradebook.db")) as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            points = {c.name: float(c.max_score) for c in [*nb.grade_cells, *nb.task_cells]}
            grade = {c.name for c in nb.grade_cells}
            solution = {c.name for c in nb.solution_cells}
            task = {c.name for c in nb.task_cells}
            truth[nb.name] = [{"grade_id": c.name, "cell_type": c.cell_type, "source": c.source,
                               "locked": bool(c.locked), "grade": c.name in grade, "solution": c.name in solution,
                               "task": c.name in task, "points": points.get(c.name), "checksum": c.checksum}
                              for c in nb.source_cells]  # nbgrader records them in notebook order
    return truth


def nbgrader_metadata(cell: dict) -> dict:
    """The nbgrader metadata the release gave `cell` (a truth entry)."""
    meta = {k: cell[k] for k in ("grade", "solution", "locked", "task", "grade_id", "checksum", "cell_type")}
    meta["schema_version"] = 3
    if cell["grade"] or cell["task"]:
        meta["points"] = cell["points"]
    return meta


def visible_source(source: str) -> str:
    """A locked cell's text as students see it (nbgrader's hidden-test blocks removed)."""
    return _HIDDEN.sub("", source or "")


def defined_names(source: str) -> set[str] | None:
    """Top-level names a cell defines (functions, classes, assignments); None if it is not valid Python."""
    lines = ["pass" if ln.lstrip().startswith(("%", "!")) else ln for ln in (source or "").splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return None
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _norm(text: str) -> str:
    return "\n".join(ln.rstrip() for ln in (text or "").strip().splitlines())


def _ids(gids) -> str:
    return ", ".join(f"`{g}`" for g in gids)


def _unmoved(order: list[int]) -> set[int]:
    """Indices of a longest increasing subsequence of `order`: the cells that did not move."""
    tails, prev, where = [], [None] * len(order), []
    for i, x in enumerate(order):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if order[tails[mid]] < x else (lo, mid)
        prev[i] = tails[lo - 1] if lo else None
        tails[lo:lo + 1] = [i]
        where.append(lo)
    keep, i = set(), tails[-1] if tails else None
    while i is not None:
        keep.add(i)
        i = prev[i]
    return keep


def _choose_answer(gid: str, copies: list, stub: str, notes: list) -> str:
    """The answer text for a solution cell that appears several times (split or duplicated)."""
    sources = [c.source for c in copies]
    names = [defined_names(s) for s in sources]
    joined = "\n".join(sources)
    disjoint = all(n is not None for n in names) and sum(len(n) for n in names) == len(set().union(*names))
    if (None in names and defined_names(joined) is not None) or disjoint:
        notes.append(f"answer cell `{gid}` was split into {len(copies)} cells: graded them joined, in order")
        return joined
    changed = [i for i, s in enumerate(sources) if _norm(s) != _norm(stub)]
    pick = changed[-1] if changed else 0
    notes.append(f"answer cell `{gid}` appears {len(copies)} times: graded copy {pick + 1} of {len(copies)} "
                 "(the last one changed from the starting code); the other copies were not graded")
    return sources[pick]


def rebuild(nb, truth: list | None, notes: list[str] | None = None) -> list[str]:
    """Make notebook `nb` (nbformat v4, changed in place) agree with `truth` (its cells, see
    `cell_metadata_truth`); return `notes` (e.g. about the file name) plus one line per thing that
    differed (see the module docstring).

    An empty `truth` (not a notebook of this assignment) only strips every nbgrader tag.
    """
    notes = list(notes or [])
    truth = truth or []
    by_id = {c["grade_id"]: c for c in truth}
    copies, extras, foreign, order = defaultdict(list), [], [], []
    anchor = None
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 0), 5)  # 4.5: cells have ids
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None  # nbgrader clears them anyway; 50 MB of plots cost time
        if gid in by_id:
            order += [] if gid in copies else [gid]
            copies[gid].append(cell)
            anchor = gid
        elif gid is not None:  # tagged for another assignment: left out of the graded copy
            foreign += [] if gid in foreign else [gid]
        else:
            cell.source = _DELIMITER.sub(lambda m: "# " + m.group(1).lower(), cell.source)  # not a test cell
            extras.append((anchor, cell))
    if nb.metadata.pop("orig_nbformat", 4) < 4:
        notes.append("the notebook was saved by an old Jupyter (format 3): converted to format 4 for grading")
    if foreign:
        notes.append(f"cells tagged {_ids(foreign)} are not part of this assignment: left out, not graded")
    if not truth:
        nb.cells = [cell for _, cell in extras]
        _store_notes(nb, notes)
        return notes

    locked = [c for c in truth if c["locked"] and not c["solution"]]
    answers = [c for c in truth if c["solution"]]
    deleted, edited, duplicated, merged_in, found_in = [], [], [], [], {}
    # Merged cells: locked text inside an answer comes out; an answer inside a locked cell is kept aside.
    for c in locked:
        text = _norm(visible_source(c["source"]))
        for cell in copies.get(c["grade_id"], []):
            mine = _norm(cell.source)
            if text and mine != text and text in mine:
                rest = _norm(mine.replace(text, "", 1))
                if rest:
                    found_in[c["grade_id"]] = rest
        for a in answers:
            for cell in copies.get(a["grade_id"], []):
                if text and a["grade_id"] != c["grade_id"] and text in _norm(cell.source) \
                        and c["grade_id"] not in copies:
                    cell.source = _norm(cell.source).replace(text, "").strip("\n")
                    merged_in.append((c["grade_id"], a["grade_id"]))
    for gid, other in merged_in:
        notes.append(f"cell `{gid}` was merged into your answer cell `{other}`: "
                     "its text was taken out of your answer and the cell put back")

    # Moved: locked cells present, out of the source's order.
    merged_answer = dict(found_in)
    position = {c["grade_id"]: i for i, c in enumerate(truth)}
    kept = _unmoved([position[g] for g in order])
    moved = [g for i, g in enumerate(order) if i not in kept and by_id[g]["locked"] and not by_id[g]["solution"]]

    rebuilt = {}
    for c in truth:
        gid, mine = c["grade_id"], copies.get(c["grade_id"], [])
        if c["locked"] and not c["solution"]:
            if not mine:
                deleted.append(gid)
            elif len(mine) > 1:
                duplicated.append(gid)
            elif _norm(mine[0].source) != _norm(visible_source(c["source"])) or mine[0].cell_type != c["cell_type"]:
                edited.append(gid)
            rebuilt[gid] = _restore(c, mine[0] if mine else None, c["source"])
            continue
        if len(mine) > 1:
            answer = _choose_answer(gid, mine, c["source"], notes)
        elif mine:
            answer = mine[0].source
        else:
            answer = _find_answer(c, truth, found_in, extras, notes)
        if mine and mine[0].cell_type != c["cell_type"]:
            notes.append(f"answer cell `{gid}` was turned into a {mine[0].cell_type} cell: graded as {c['cell_type']}")
        rebuilt[gid] = _restore(c, mine[0] if mine else None, answer)

    edited = [g for g in edited if not (g in merged_answer and g not in found_in)]  # the answer was graded
    deleted = [g for g in deleted if g not in {m for m, _ in merged_in}]  # said above
    if deleted:
        notes.append(f"locked cells deleted, put back from the assignment: {_ids(deleted)} "
                     "(this never changes a score)")
    if edited:
        notes.append(f"locked cells edited, graded with their original text: {_ids(edited)} "
                     "(this never changes a score)")
    if duplicated:
        notes.append(f"locked cells duplicated, kept once: {_ids(duplicated)}")
    if moved:
        notes.append(f"locked cells moved, put back in their place: {_ids(moved)}")

    cells = [cell for anchor_id, cell in extras if anchor_id is None and cell is not None]
    for c in truth:
        cells.append(rebuilt[c["grade_id"]])
        cells += [cell for anchor_id, cell in extras if anchor_id == c["grade_id"] and cell is not None]
    nb.cells = _unique_ids(cells)
    _store_notes(nb, notes)
    return notes


def _restore(truth_cell: dict, mine, source: str):
    """A cell of the release's type and tag with `source`, keeping the student's cell id and other
    metadata (as nbgrader's own autograde would: the release's ``deletable``, tags, ...)."""
    kind = truth_cell["cell_type"]
    cell = _NEW_CELL.get(kind, new_code_cell)(source=source)
    if mine is not None:
        if mine.get("id"):
            cell["id"] = mine["id"]
        cell.metadata.update({k: v for k, v in mine.metadata.items() if k != "nbgrader"})
    cell.metadata["nbgrader"] = nbgrader_metadata(truth_cell)
    if truth_cell["locked"]:
        cell.metadata.update(editable=False, deletable=False)
    return cell


def _find_answer(c: dict, truth: list, found_in: dict, extras: list, notes: list) -> str:
    """An answer whose cell is missing: in a locked cell it was merged into, or an untagged cell that
    defines the names of the starting code; else the starting code (not attempted)."""
    gid, wanted = c["grade_id"], defined_names(c["source"]) or set()
    at = next(i for i, t in enumerate(truth) if t["grade_id"] == gid)
    for neighbour in [t["grade_id"] for t in truth[max(at - 1, 0):at + 2]]:
        if neighbour in found_in and wanted & (defined_names(found_in[neighbour]) or set()):
            notes.append(f"your answer `{gid}` was merged into locked cell `{neighbour}`: graded the answer part")
            return found_in.pop(neighbour)
    for k in range(len(extras) - 1, -1, -1):
        anchor, cell = extras[k]
        names = defined_names(cell.source) if cell is not None and cell.cell_type == "code" else None
        if wanted and names and wanted & names:
            extras[k] = (anchor, None)
            notes.append(f"answer cell `{gid}` had lost its grading tag: graded the cell that defines "
                         f"{', '.join(sorted(wanted & names))}")
            return cell.source
    notes.append(f"answer cell `{gid}` was deleted: graded as not attempted")
    return c["source"]


def _unique_ids(cells: list) -> list:
    """Cells with unique ids (a duplicated cell keeps its twin's id in some front ends; v4.0-4.4 have none)."""
    import uuid

    seen = set()
    for cell in cells:
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell.get("id"))
    return cells


def _store_notes(nb, notes: list[str]) -> None:
    """Notes ride along in the staged notebook: in its metadata for the grading step, and as a first
    markdown cell the student reads in the feedback."""
    nb.metadata.pop(NOTES_KEY, None)  # whatever a submission put there is not ours
    if notes:
        nb.metadata[NOTES_KEY] = {"grading_notes": list(notes)}
        lines = "\n".join(f"* {n}" for n in notes)
        nb.cells.insert(0, new_markdown_cell(f"**Notes from the grader** about your notebook:\n\n{lines}"))
        _unique_ids(nb.cells)


def grading_notes(nb) -> list[str]:
    """The notes `rebuild` stored in a staged notebook (empty when there were none)."""
    return list(nb.metadata.get(NOTES_KEY, {}).get("grading_notes", []))


# ------------------------------------------------------------------------------ file names

def _normal_name(stem: str) -> str:
    s = stem.lower().strip()
    s = re.sub(r"^(copy of\s+)+", "", s)
    s = re.sub(r"(\s*\(\d+\))+$", "", s)              # "name (1)", browser downloads
    s = re.sub(r"([-_ ]copy\d*)+$", "", s)            # Jupyter's "name-Copy1"
    return re.sub(r"[\s\-]+", "_", s).strip("_")


def match_notebooks(names: list[str], expected: list[str], mtimes: dict | None = None) -> dict:
    """Map submitted notebook file names to the assignment's notebooks.

    Returns ``{file name: (notebook name or None, note or None)}``: a file named like a notebook of the
    assignment is that notebook; otherwise a name equal up to letter case, a copy suffix ("(1)",
    "-Copy1", "Copy of ") or extra words around it is matched, with a note; when several files match
    one notebook, the exact name wins, else the most recently modified (`mtimes`) file; the others
    are not graded (with a note).
    """
    mtimes = mtimes or {}
    out, claims = {}, defaultdict(list)
    for name in names:
        stem = Path(name).stem
        if stem in expected:
            claims[stem].append((2, name))
            continue
        norm = _normal_name(stem)
        hit = [e for e in expected if _normal_name(e) == norm] or [e for e in expected if _normal_name(e) in norm]
        if len(hit) == 1:
            claims[hit[0]].append((1, name))
        else:
            out[name] = (None, f"`{name}` is not a notebook of this assignment "
                               f"(expected {_ids(n + '.ipynb' for n in expected)}): not graded")
    for notebook, files in claims.items():
        files.sort(key=lambda f: (f[0], mtimes.get(f[1], 0.0)))
        rank, best = files[-1]
        out[best] = (notebook, None if rank == 2 else
                     f"graded `{best}` as `{notebook}.ipynb` (the file name differs from the assignment's)")
        for _, other in files[:-1]:
            out[other] = (None, f"`{other}` was also handed in: not graded (`{best}` is)")
    return out
