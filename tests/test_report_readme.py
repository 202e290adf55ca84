"""The README's instructor walk-through, run as written on a copy of the course: its demo-class scores and
report summary are what grading really gives (nightly: real nbgrader, ~2 minutes).

The commands are read from the README's first ``bash`` block of the instructor section (demo-class,
collect, autograde, report); the numbers from its marked blocks. When grading or the diagnoses
change, regenerate the blocks with ``python tests/test_report_readme.py`` (it runs the same flow and
rewrites only the marked blocks).
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report_kit as rk

pytestmark = [pytest.mark.slow, pytest.mark.grading]

README = rk.ROOT / "README.md"
RUN = ("demo-class", "collect", "autograde", "report")
BLOCK = re.compile(r"<!-- demo-class:(\w+) -->\n(.*?)<!-- /demo-class:\1 -->", re.S)


def readme_commands(text: str) -> list[list[str]]:
    """The `backprop-lab` commands of the instructor section's bash block that need no release step."""
    section = text.split("## Instructors", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        argv = shlex.split(line.split("#", 1)[0])
        if argv[:1] == ["backprop-lab"] and argv[1] in RUN:
            commands.append(argv[1:])
    return commands


def run_walkthrough(root: Path) -> dict[str, str]:
    """Run the README's commands in `root`; return the blocks as the README should show them."""
    outputs = {}
    for argv in readme_commands(README.read_text()):
        proc = subprocess.run([sys.executable, "-m", "backprop_lab.coursekit.cli", *argv], cwd=root,
                              capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, f"{argv}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        outputs[argv[0]] = proc.stdout
    scores = re.findall(r"^(\S+)\s+([\d.]+) points", outputs["autograde"], re.M)
    assert scores, outputs["autograde"]
    summary = "\n".join(ln for ln in outputs["report"].splitlines() if not ln.startswith("wrote "))
    return {"scores": ", ".join(f"{s} {float(p):g}" for s, p in scores) + "\n",
            "report": "```text\n" + summary + "\n```\n"}


def readme_blocks(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in BLOCK.finditer(text)}


def test_readme_walkthrough_gives_the_numbers_it_shows(tmp_path):
    root = rk.course_copy(tmp_path / "course")
    expected = run_walkthrough(root)
    # every student was graded: an autograded notebook and a score for each graded cell
    from backprop_lab.coursekit.grading.export import scores

    columns, rows = scores(root, rk.A)
    assert len(rows) == 20
    for row in rows:
        assert (root / "autograder" / "autograded" / row["student"] / rk.A / f"{rk.A}.ipynb").is_file()
        assert all(row.get(c) is not None for c in columns if c.startswith(rk.A)), row
    assert (root / "autograder" / "reports" / rk.A / "report.html").is_file()
    shown = readme_blocks(README.read_text())
    for name, text in expected.items():
        assert shown.get(name) == text, (f"README's demo-class {name} block is stale; run `python "
                                         f"tests/test_report_readme.py` to regenerate it. It should be:\n{text}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        fresh = run_walkthrough(rk.course_copy(Path(tmp) / "course"))
    text = README.read_text()
    text = BLOCK.sub(lambda m: f"<!-- demo-class:{m[1]} -->\n{fresh[m[1]]}<!-- /demo-class:{m[1]} -->", text)
    README.write_text(text)
    print("README.md demo-class blocks updated:\n" + "\n".join(fresh.values()))
