"""`backprop-lab report` on a synthetic class: the planted misconceptions with their exact students, the
copied pair and the reference paste flagged (an independent correct answer not), report.json's shape,
and the time for 300 students (slow)."""
import json
import time

import nbformat
import pytest
import report_kit as rk  # tests/ is on sys.path (rootdir-relative test modules)

from backprop_lab.coursekit.checking.diagnoses import catalogue
from backprop_lab.coursekit.cli import main
from backprop_lab.coursekit.grading.demo_class import planted, rename_locals
from backprop_lab.coursekit.release import CourseError
from backprop_lab.coursekit.report import similarity
from backprop_lab.coursekit.report.build import build_report, write_report

A = rk.A


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = rk.demo_class(tmp_path_factory.mktemp("class"))
    json_path, html_path, text = write_report(root, A)
    return root, json.loads(json_path.read_text()), html_path, text


def _group(data, exercise, code):
    found = [m for m in data["misconceptions"] if m["exercise"] == exercise and m["code"] == code]
    assert len(found) == 1, [(m["exercise"], m["code"]) for m in data["misconceptions"]]
    return found[0]


@pytest.mark.parametrize("bug, exercise, code", [
    ("dweight-transposed", "03.linear", "transposed"),
    ("ce-missing-1/N", "03.cross_entropy", "factor-of-N"),
    ("mse-wrong-sign", "03.mse", "wrong-sign"),
])
def test_planted_misconception_has_exactly_its_students(report, bug, exercise, code):
    _, data, _, text = report
    students = planted(A)[bug]
    assert len(students) >= 3
    group = _group(data, exercise, code)
    assert group["students"] == students
    assert group["count"] == len(students)
    assert group["percent"] == pytest.approx(100 * len(students) / data["students"], abs=0.05)
    assert group["diagnosis"] == catalogue()[code]
    assert f"{exercise} {code}" in text or len(data["misconceptions"]) > 5  # the summary shows the top five


def test_misconceptions_are_sorted_by_count_and_leave_out_not_attempted(report):
    _, data, _, _ = report
    counts = [m["count"] for m in data["misconceptions"]]
    assert counts == sorted(counts, reverse=True)
    assert all(m["code"] != "not-attempted" for m in data["misconceptions"])


def test_copied_pair_and_reference_paste_are_flagged_and_nothing_else(report):
    _, data, _, _ = report
    pairs = {(tuple(p["students"]), p["exercise"]) for p in data["similar_pairs"]}
    # fay's answers are her own style; gus copied them with renamed variables and new comments.
    # mse is too short to compare (a formulaic three-line answer).
    assert pairs == {(("fay", "gus"), key) for key in ("03.linear", "03.activations", "03.cross_entropy")}
    baseline = data["similarity_baseline"]
    assert all(p["similarity"] >= baseline[p["exercise"]]["threshold"] for p in data["similar_pairs"])
    assert {r["student"] for r in data["reference_matches"]} == {"hal"}
    assert {r["exercise"] for r in data["reference_matches"]} >= {"03.linear", "03.activations"}
    assert any("backprop_lab/functional/" in f for r in data["reference_matches"] for f in r["files"])


def test_the_reference_paste_earns_full_marks(report):
    # The README's story: the grader cannot tell a pasted copy of the library from a right answer (it
    # imports nothing); only the report points hal out. A paste that misses a helper would lose points.
    from backprop_lab.coursekit.grading.records import read_records

    root = report[0]
    hal = read_records(root, A)["hal"]["exercises"]
    assert hal and all(e["status"] == "pass" and e["earned"] == e["points"] for e in hal), \
        [(e["exercise"], e["status"]) for e in hal]


def test_independent_correct_answer_is_not_flagged(report):
    _, data, _, _ = report
    indie = next(s for s in data["scores"] if s["student"] == "indie")
    assert indie["score"] == indie["points"] == data["points"]  # correct, like ada, fay and oli
    assert all("indie" not in p["students"] for p in data["similar_pairs"])
    assert all(r["student"] != "indie" for r in data["reference_matches"])


def test_report_json_has_the_promised_keys_and_types(report):
    _, data, _, _ = report
    assert data["students"] == 21 and isinstance(data["students"], int)
    for row in data["checks"]:
        assert {"exercise", "check", "points", "pass_rate"} <= set(row)
        assert isinstance(row["exercise"], str) and isinstance(row["check"], str)
        assert isinstance(row["points"], float) and 0.0 <= row["pass_rate"] <= 1.0
    for m in data["misconceptions"]:
        assert {"exercise", "code", "diagnosis", "students"} <= set(m)
        assert isinstance(m["students"], list) and all(isinstance(s, str) for s in m["students"])
    for p in data["similar_pairs"]:
        assert set(p) >= {"students", "exercise", "similarity"} and len(p["students"]) == 2
        assert 0.0 <= p["similarity"] <= 1.0
    for r in data["reference_matches"]:
        assert set(r) >= {"student", "exercise", "similarity"} and 0.0 <= r["similarity"] <= 1.0


def test_checks_table_counts_every_graded_student(report):
    _, data, _, _ = report
    ada_ben_cyd = [c for c in data["checks"] if c["exercise"] == "03.linear" and c["check"].startswith("dweight on a")]
    for row in ada_ben_cyd:
        assert row["passed"] + row["failed"] + row["not_attempted"] == data["students"]
        assert row["pass_rate"] == pytest.approx(row["passed"] / data["students"])


def test_per_student_first_failing_check_in_check_order(report):
    root, data, _, _ = report
    ben = next(s for s in data["scores"] if s["student"] == "ben")
    linear = next(e for e in ben["exercises"] if e["exercise"] == "03.linear")
    record = json.loads((root / "autograder" / "results" / A / "ben.json").read_text())
    checks = next(e for e in record["exercises"] if e["exercise"] == "03.linear")["checks"]
    first = next(c for c in checks if c["status"] != "pass")
    assert linear["first_failure"]["check"] == first["check"] and first["check"].startswith("dweight")
    assert linear["first_failure"]["code"] == "transposed"
    assert all(e["first_failure"] is None for e in ben["exercises"] if e["exercise"] != "03.linear")


def test_page_is_self_contained_and_says_a_flag_is_not_a_verdict(report):
    _, data, html_path, _ = report
    page = html_path.read_text()
    assert "not a verdict" in page and "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") >= 2 + 2 * 4  # scores, checks, per-exercise bars and histograms
    for m in data["misconceptions"][:3]:
        assert ", ".join(m["students"]) in page


def test_cli_prints_the_summary(report, capsys):
    root, data, _, _ = report
    assert main(["report", A, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"{A}: 21 students" in out and "fay & gus" in out and "hal" in out and "report.html" in out


def test_report_before_grading_says_what_to_run(tmp_path, capsys):
    root = rk.course_copy(tmp_path)
    with pytest.raises(CourseError, match="backprop-lab autograde 03_vectorized_layers"):
        build_report(root, A)
    assert main(["report", A, "--root", str(root)]) == 2
    assert "autograde" in capsys.readouterr().err


def test_renamed_copy_is_identical_to_copydetect_and_short_answers_are_not_compared():
    original = ("def f(x, w):\n    hidden = x @ w.T  # the layer\n    scale = hidden.sum(axis=0)\n"
                "    out = np.einsum('nd,md->nm', hidden, w) * scale\n    return out, (hidden, scale)\n")
    copy = rename_locals(original)
    assert "hidden_v = x @ w.T" in copy and "hidden =" not in copy and "the layer" not in copy
    stub_hashes, fps = similarity.answer_fingerprints({"a": original, "b": copy, "c": "def f(x, w):\n    return x\n"},
                                                      "def f(x, w):\n    raise NotImplementedError()\n")
    shared = fps["a"].hashes & fps["b"].hashes
    assert similarity.share(fps["a"], shared) == pytest.approx(1.0)
    assert fps["c"].token_coverage < similarity.MIN_CHARS  # too short to say anything


@pytest.mark.slow
def test_time_for_300_students(tmp_path):
    """Prints how long the report takes for 300 students (the demo cast and random mixes of its answers,
    with synthetic check results: no grading). A worst case too: every answer unique (a comment per
    student), so none is tokenized only once."""
    root = rk.course_copy(tmp_path / "c")
    from backprop_lab.coursekit.grading.collect import collect
    from backprop_lab.coursekit.grading.demo_class import make_class

    make_class(root, A, root / "inbox", n=300)
    collect(root, root / "inbox")
    assert rk.synthetic_records(root) == 300
    start = time.perf_counter()
    _, html_path, text = write_report(root, A)
    first = time.perf_counter() - start
    for path in (root / "autograder" / "submitted").glob(f"*/{A}/{A}.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = f"# written by {path.parent.parent.name}\n" + cell.source
        nbformat.write(nb, str(path))
    start = time.perf_counter()
    write_report(root, A)
    unique = time.perf_counter() - start
    print(f"\nreport for 300 students: {first:.1f} s (demo mixes), {unique:.1f} s (every answer unique); "
          f"page {html_path.stat().st_size / 1e6:.1f} MB")
    assert "300 students" in text
