"""The catalogue of learner bugs: deliberately broken variants of the solution cells.

Each notebook has ``tests/bugs/bugs_NN.py`` (written with the diagnoses; each names the diagnosis
code it must get) and may have ``tests/bugs/fresh_NN.py`` (written from the release's prose alone by
someone who had not read the checker; each says the cause in words and the keywords a correct
diagnosis would use). Both define ``BUGS = [Bug(...), ...]``.

tests/test_bug_catalogue.py asserts, for every bug: the visible self-check catches it (or, at the
very least, never passes a bug that the hidden checks then fail), and the catalogue's bugs get
their code. ``python tests/bugs/measure.py`` prints planted / caught / named per notebook.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

ASSIGNMENTS = {
    "01": "01_chain_rule", "02": "02_computational_graph", "03": "03_vectorized_layers",
    "04": "04_training_an_mlp", "05": "05_optimizers", "06": "06_vanishing_exploding",
    "07": "07_convolutions", "08": "08_full_training", "09": "09_autoencoder",
}


@dataclass(frozen=True)
class Bug:
    """One broken variant of one exercise cell.

    Attributes:
        id: unique within its file ("dweight_transposed").
        exercise: the exercise key ("03.linear").
        cell: the grade_id of the solution cell to break ("linear").
        edits: exact ``(old, new)`` replacements; each `old` must occur exactly once in the cell.
        code: the diagnosis code the visible checks must give (see docs/DIAGNOSES.md); None when
            the bug only has to be caught.
        cause: the bug in words, as a learner would make it (required for fresh bugs).
        keywords: words (lower case) of which at least one must appear in a diagnosis that names
            this cause correctly ("stride", "transpos"); used to score fresh bugs.
        category: a tag for the closing table ("stride", "in-place", "classic", ...).
    """

    id: str
    exercise: str
    cell: str
    edits: tuple
    code: str | None = None
    cause: str = ""
    keywords: tuple = field(default_factory=tuple)
    category: str = ""

    @property
    def assignment(self) -> str:
        return ASSIGNMENTS[self.exercise[:2]]


def load(kind: str = "bugs") -> list[Bug]:
    """Every Bug of ``tests/bugs/<kind>_NN.py`` ("bugs" or "fresh"), in notebook order."""
    out = []
    for path in sorted(Path(__file__).parent.glob(f"{kind}_[0-9][0-9].py")):
        out += importlib.import_module(f"bugs.{path.stem}").BUGS
    return out
