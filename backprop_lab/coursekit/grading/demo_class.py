"""A synthetic class of submissions: for the README walk-through, the class report, tests and benchmarks.

Each student's notebook is the assignment's release with its exercise cells filled in, following
the student's plan in `demo_answers.SPECS` (about 20 students for 03_vectorized_layers and
01_chain_rule): correct answers in several styles, classic bugs planted by editing the code (a
transposed dweight, a missing 1/N, a flipped sign, ...), blanks, a student who patches numpy's
comparisons, a student who copies another's answers with renamed variables and new comments, and one
who pastes `backprop_lab`'s own source. Assignments without a spec get the generic cast (model
answers, blanks, the cheater, the copy, the reference paste where the library has the functions).
"""
from __future__ import annotations

import ast
import inspect
import io
import random
import re
import textwrap
import tokenize
from pathlib import Path

import nbformat

from .demo_answers import SPECS, Variant

CHEAT = "\nimport numpy\nnumpy.allclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
NAMES = ["ada", "ben", "cyd", "dee", "eli", "fay", "gus", "hal", "ivy", "jon", "kim", "lou", "max", "ned",
         "oli", "pam", "quin", "ray", "sue", "tom"]
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
GENERIC_CAST = {"ada": "model", "ben": "model", "cyd": "blank", "dee": "cheat", "eli": "model", "fay": "model",
                "gus": "copy:fay", "hal": "reference"}


def _cells(nb) -> dict:
    """{grade_id: cell} of the notebook's exercise (solution) cells, in order."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def model_answer(source: str) -> str:
    """A solution cell without nbgrader's ``### BEGIN/END SOLUTION`` lines."""
    marks = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(ln for ln in source.splitlines() if not any(m in ln for m in marks))


def fill(stub: str, variant: Variant) -> str:
    """The release cell `stub` with each function's ``raise NotImplementedError()`` replaced by its body."""
    out = variant.prelude + stub
    for name, body in variant.bodies.items():
        start = out.index(f"def {name}(")
        at = out.index(STUB, start)
        out = out[:at] + textwrap.indent(body, "    ") + out[at + len(STUB):]
    return out


def apply_edits(source: str, edits, what: str) -> str:
    """Exact replacements; each `old` must occur exactly once (a bug never silently stops applying)."""
    for old, new in edits:
        if source.count(old) != 1:
            raise ValueError(f"demo class: {what}: {old!r} occurs {source.count(old)} times, not once")
        source = source.replace(old, new)
    return source


def rename_locals(source: str, suffix: str = "_v") -> str:
    """The code a copier hands in: local variables renamed, comments reworded, layout kept.

    Only names assigned inside a function are renamed (never parameters, globals, attributes or
    keyword arguments), so the copy computes exactly what the original does.
    """
    tree = ast.parse(source)
    spans = []  # (first line, last line, local names) of each function
    for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        local = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - params
        spans.append((fn.lineno, fn.end_lineno, local))
    lines = source.splitlines(keepends=True)
    edits = []  # (row, start col, end col, new text)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    depth = 0  # bracket depth: a NAME followed by "=" inside brackets is a keyword argument
    for i, tok in enumerate(tokens):
        row, col = tok.start
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.COMMENT:
            edits.append((row, col, tok.end[1], "# (see my notes)"))
        elif tok.type == tokenize.NAME and (i == 0 or tokens[i - 1].string != "."):
            keyword_arg = depth > 0 and i + 1 < len(tokens) and tokens[i + 1].string == "="
            if not keyword_arg and any(a <= row <= b and tok.string in names for a, b, names in spans):
                edits.append((row, col, tok.end[1], tok.string.lower() + suffix))
    for row, start, end, text in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + text + line[end:]
    return "# my answer\n" + "".join(lines)


def _library_functions() -> dict:
    """{name: function} of every public function of the library (not the course kit)."""
    import importlib
    import pkgutil

    import backprop_lab

    found = {}
    for mod in pkgutil.walk_packages(backprop_lab.__path__, "backprop_lab."):
        if ".coursekit" in mod.name or mod.name.endswith(("torch_ref", "testing")):
            continue
        module = importlib.import_module(mod.name)
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                found.setdefault(name, obj)
    return found


def _with_helpers(fn, seen: set) -> list[str]:
    """The source of `fn` after that of the library functions and classes (a cache's NamedTuple) it
    uses (each once)."""
    out = []
    for helper in inspect.getclosurevars(fn).globals.values():
        ours = getattr(helper, "__module__", "").startswith("backprop_lab") and helper.__name__ not in seen
        if ours and inspect.isfunction(helper):
            seen.add(helper.__name__)
            out += _with_helpers(helper, seen)
        elif ours and inspect.isclass(helper):
            seen.add(helper.__name__)
            source = inspect.getsource(helper)
            out.append(("from typing import NamedTuple\n\n\n" if "(NamedTuple)" in source else "") + source)
    return out + [inspect.getsource(fn)]


def reference_paste(stub: str, model: str, seen: set, library: dict) -> str:
    """The cell as a student who pastes `backprop_lab`'s source writes it (the model answer when the
    library has none of the cell's functions)."""
    names = [n.name for n in ast.parse(stub).body if isinstance(n, ast.FunctionDef)]
    if not any(n in library for n in names):
        return model
    parts = []
    for name in names:
        if name in library:
            seen.add(name)
            parts += _with_helpers(library[name], seen)
    return "\n\n".join(parts)


def _plan_cells(plan: str, ids: list[str]) -> dict[str, str]:
    tokens = plan.split()
    if len(tokens) != len(ids):
        raise ValueError(f"demo class: plan {plan!r} has {len(tokens)} cells; the assignment has {len(ids)}")
    return dict(zip(ids, tokens))


def _groups(bodies: dict) -> dict[str, list[str]]:
    """Functions that share a cache (``relu_forward``, ``relu_backward``) form one group."""
    out: dict[str, list[str]] = {}
    for name in bodies:
        out.setdefault(re.sub(r"_(forward|backward)$", "", name), []).append(name)
    return out


def mixed(variants: dict, name: str, edits, seed: str, shared=("A", "C", "D")) -> Variant:
    """Variant `name`, with each group of functions that `edits` do not touch written in a style drawn
    at random (seeded by `seed`) from the `shared` variants: students rarely write a whole cell alike.
    A variant that is not shared is one student's own style and stays whole."""
    base = variants[name]
    if name not in shared:
        return base
    rng = random.Random(seed)
    bodies = dict(base.bodies)
    groups = _groups(base.bodies)
    for group in groups.values() if len(groups) > 1 else ():
        if any(old in textwrap.indent(base.bodies[f], "    ") for f in group for old, _ in edits):
            continue
        pick = variants[rng.choice([v for v in shared if v in variants])]
        if all(f in pick.bodies for f in group):
            bodies.update({f: pick.bodies[f] for f in group})
    return Variant(bodies, base.prelude, base.bugs)


def _answer(token: str, gid: str, stub: str, model: str, spec, student: str) -> str:
    if token == "-":
        return stub
    name, _, bug = token.partition("+")
    if name == "M":
        source, bugs = model, (spec.model_bugs.get(gid, {}) if spec else {})
    else:
        variants = spec.variants[gid]
        edits = variants[name].bugs[bug] if bug else ()
        source, bugs = fill(stub, mixed(variants, name, edits, f"{student}/{gid}", spec.shared)), variants[name].bugs
    return apply_edits(source, bugs[bug], f"{gid} {token}") if bug else source


def _random_plan(rng: random.Random, ids: list[str], spec) -> str:
    tokens = []
    for gid in ids:
        names = ["M"] + [v for v in spec.shared if v in spec.variants.get(gid, {})] if spec else ["M"]
        name = rng.choice(names)
        bugs = list(spec.model_bugs.get(gid, {}) if name == "M" else spec.variants[gid][name].bugs) if spec else []
        roll = rng.random()
        tokens.append("-" if roll < 0.1 else f"{name}+{rng.choice(bugs)}" if bugs and roll < 0.4 else name)
    return " ".join(tokens)


def cast(assignment: str, n: int, ids: list[str], seed: int = 0) -> dict[str, str]:
    """{student: plan} of the first `n` students: the assignment's cast, then random mixes."""
    spec = SPECS.get(assignment)
    plans = dict(spec.cast) if spec else dict(GENERIC_CAST)
    names = [name for name in NAMES if name in plans] + [name for name in plans if name not in NAMES]
    names += [name for name in NAMES if name not in names]
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        name = names[i] if i < len(names) else f"student{i:03d}"
        out[name] = plans[name] if name in plans else _random_plan(rng, ids, spec)
    return out


def make_class(root: Path, assignment: str, dest: Path, n: int = 20, seed: int = 0) -> list[Path]:
    """Write `n` submissions ``<dest>/<student>_<assignment>.ipynb`` (an LMS-style download).

    The first students follow the assignment's cast (ada answers everything, ben has one bug,
    cyd hands in the blank release, dee patches numpy; see `demo_answers`); students beyond the
    cast get random mixes of the same answers and bugs (seeded by `seed`).
    """
    release = nbformat.read(str(root / "course" / assignment / f"{assignment}.ipynb"), as_version=4)
    source = nbformat.read(str(root / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)
    stubs = {gid: c.source for gid, c in _cells(release).items()}
    models = {gid: model_answer(c.source) for gid, c in _cells(source).items()}
    ids = list(stubs)
    spec = SPECS.get(assignment)
    plans = cast(assignment, n, ids, seed)
    answers: dict[str, dict[str, str]] = {}
    library = _library_functions()
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for student, plan in plans.items():
        if plan in ("blank", "cheat"):
            cells = dict(stubs)
            if plan == "cheat":
                cells[ids[0]] = CHEAT + cells[ids[0]]
        elif plan == "model":
            cells = dict(models)
        elif plan == "reference":
            seen: set = set()
            cells = {gid: reference_paste(stubs[gid], models[gid], seen, library) for gid in ids}
        elif plan.startswith("copy:"):
            original = answers[plan.split(":", 1)[1]]
            cells = {gid: rename_locals(src) if src != stubs[gid] else src for gid, src in original.items()}
        else:
            cells = {gid: _answer(tok, gid, stubs[gid], models[gid], spec, student)
                     for gid, tok in _plan_cells(plan, ids).items()}
        answers[student] = cells
        nb = nbformat.read(str(root / "course" / assignment / f"{assignment}.ipynb"), as_version=4)
        for gid, cell in _cells(nb).items():
            cell.source = cells[gid]
        path = dest / f"{student}_{assignment}.ipynb"
        nbformat.write(nb, str(path))
        out.append(path)
    return out


def planted(assignment: str, n: int = 20) -> dict[str, list[str]]:
    """{bug name: students who have it} among the first `n` of the cast (copies included)."""
    spec = SPECS.get(assignment)
    if spec is None:
        return {}
    plans = cast(assignment, n, list(spec.variants), 0)
    out: dict[str, list[str]] = {}
    for student, plan in plans.items():
        source = plans[plan.split(":", 1)[1]] if plan.startswith("copy:") else plan
        for token in source.split():
            if "+" in token:
                out.setdefault(token.split("+", 1)[1], []).append(student)
    return {bug: sorted(students) for bug, students in sorted(out.items())}
