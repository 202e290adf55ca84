"""The layout is enforced, not only described (docs/ARCHITECTURE.md).

* the library (`backprop_lab`, outside `backprop_lab.coursekit`) never imports the course kit;
* no two modules import each other, directly or through others (imports inside functions count);
* no module imports another module's private name (``from x import _y``);
* the library half imports and runs without torch.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "backprop_lab"
KIT = "backprop_lab.coursekit"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports(name: str, path: Path):
    """(imported module, imported names, line) for every import in the file, functions included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield base, [a.name for a in node.names], node.lineno


def resolve(target: str, names: list[str], known: dict) -> list[str]:
    """The project modules an import statement loads (``from pkg import mod`` loads pkg.mod)."""
    out = [target] if target in known else []
    out += [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {m: set() for m in known}
    for name, path in known.items():
        for target, names, _ in imports(name, path):
            for dep in resolve(target, names, known):
                # a package's __init__ importing its own submodules (and a module importing its own
                # package for a sibling) is how packages are built, not a cycle between ideas
                if dep != name and not dep.startswith(name + ".") and not name.startswith(dep + "."):
                    edges[name].add(dep)
    return edges


def test_library_never_imports_the_course_kit():
    bad = []
    for name, path in modules().items():
        if name == KIT or name.startswith(KIT + "."):
            continue
        for target, names, line in imports(name, path):
            if any(t == KIT or t.startswith(KIT + ".") for t in [target, *(f"{target}.{n}" for n in names)]):
                bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {target}")
    assert not bad, "the library must not depend on the course kit:\n" + "\n".join(bad)


def test_no_import_cycles():
    edges = graph()
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(edges[node]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_name_imported_across_modules():
    bad = []
    files = list(modules().items()) + [(f"tests.{p.stem}", p) for p in PKG.parent.joinpath("tests").glob("*.py")]
    for name, path in files:
        for target, names, line in imports(name, path):
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {n} from {target}")
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)


def test_the_layer_test_can_fail(tmp_path):
    """The checks above see what they claim to see: a cycle and a private import planted in a copy."""
    a = tmp_path / "a.py"
    a.write_text("from .b import _hidden\n")
    found = list(imports("backprop_lab.a", a))
    assert found == [("backprop_lab.b", ["_hidden"], 1)]
    known = {"backprop_lab.a": a, "backprop_lab.b": a}
    assert resolve("backprop_lab", ["a", "b"], known) == ["backprop_lab.a", "backprop_lab.b"]


LIBRARY_WITHOUT_TORCH = r"""
import builtins, sys
real_import = builtins.__import__
def no_torch(name, *args, **kwargs):
    if name == "torch" or name.startswith("torch."):
        raise ImportError("No module named 'torch' (hidden by the test)")
    return real_import(name, *args, **kwargs)
builtins.__import__ = no_torch
from backprop_lab.testing import OPS, run_numpy
import numpy as np
rng = np.random.default_rng(0)
for spec in OPS.values():
    inputs, kwargs = spec.make_inputs(rng, np.float64)
    run_numpy(spec, inputs, kwargs)
from backprop_lab import data, gradcheck, nn, optim, scalar
model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
out = model(np.ones((5, 4)))
model.backward(np.ones_like(out))
optim.Adam(model.parameters(), lr=1e-3).step()
assert "torch" not in sys.modules
try:
    import backprop_lab.torch_ref
except ImportError as exc:
    assert "backprop_lab[torch]" in str(exc), exc
else:
    raise AssertionError("torch_ref imported without torch")
print("ok", len(OPS))
"""


def test_library_runs_without_torch():
    """Every op's forward and backward, a module and an optimizer, with torch hidden from imports."""
    out = subprocess.run([sys.executable, "-c", LIBRARY_WITHOUT_TORCH], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stdout + out.stderr


@pytest.mark.parametrize("name", sorted(n for n in modules() if not n.startswith(KIT)))
def test_library_module_imports_without_torch(name):
    if name in ("backprop_lab.torch_ref",):
        pytest.skip("the torch twins are torch by design; tested above for their ImportError")
    hide_torch = LIBRARY_WITHOUT_TORCH.split("from backprop_lab.testing")[0]
    code = hide_torch + f"import {name}\nassert 'torch' not in sys.modules\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_diagnosis_codes_documented():
    """docs/DIAGNOSES.md is generated from the catalogue and up to date."""
    from backprop_lab.coursekit.checking import diagnoses

    doc = PKG.parent / "docs" / "DIAGNOSES.md"
    assert doc.read_text() == diagnoses.markdown(), (
        "docs/DIAGNOSES.md is stale: python -m backprop_lab.coursekit.checking.diagnoses > docs/DIAGNOSES.md")
