"""`backprop-lab`: the course's command line (learners, instructors, maintainers)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """\
backprop_lab: backpropagation from the chain rule to a CNN.

Learners:
  lab                     open JupyterLab on the course (the first notebook opens by itself)
  progress [course/]      which exercises of your notebooks pass their checks, as a table
  check NOTEBOOK          run a notebook's visible checks outside Jupyter, with a points summary
  digits-demo             the small CNN on the digits in numpy, trained beside its torch twin
  bench                   numpy vs torch CPU speed ratios measured in one run

Instructors (run inside the repository; state lives in autograder/, git-ignored):
  demo-class [ASSIGNMENT] 0. write a synthetic class of 20 submissions to try the workflow on
  release [ASSIGNMENT]    1. regenerate course/ from solutions/ with nbgrader (only course/<assignment>/ is replaced)
  collect PATH            2. import a folder or .zip of submitted notebooks into autograder/submitted/
  autograde ASSIGNMENT    3. grade into autograder/gradebook.db (student code runs sandboxed; verdicts outside it)
  report ASSIGNMENT       4. what the class got wrong: misconceptions, similar submissions (HTML + JSON)
  feedback ASSIGNMENT     4. per-student HTML feedback in autograder/feedback/
  export [--csv PATH]     5. one row per student, a column per exercise, and the total
  export --canvas FILE    5. fill a Canvas gradebook export with the course's scores, for Canvas's import
  due ASSIGNMENT [DATE]   set (or show) a due date; late submissions lose 10% per started day
"""


def _root(args):
    from .release import find_root

    return find_root(getattr(args, "root", None))


def cmd_release(args):
    from .release import generate_release

    for path in generate_release(_root(args), [args.assignment] if args.assignment else None):
        print(f"wrote {path}")


def cmd_collect(args):
    from .grading.collect import collect

    rep = collect(_root(args), args.path, args.assignment)
    for student, assignment, dest in rep.imported:
        print(f"imported {student:<20} {assignment:<24} -> {dest}")
    for kept in rep.kept:
        print(f"kept the earlier copy as {kept}")
    for name, why in rep.unmatched:
        print(f"NOT imported: {name}: {why}")
    print(f"{len(rep.imported)} imported, {len(rep.unmatched)} not matched")


def cmd_autograde(args):
    from .grading.autograde import autograde, exit_code, summary

    root = _root(args)
    batch = autograde(root, args.assignment, args.student or None, workers=args.workers, scheduler=args.scheduler)
    print(summary(root, args.assignment, batch))
    return exit_code(batch)


def cmd_feedback(args):
    from .grading.feedback import feedback

    for path in feedback(_root(args), args.assignment):
        print(f"wrote {path}")


def cmd_export(args):
    from .grading.export import export_csv

    if args.canvas:
        return _export_canvas(args)
    text = export_csv(_root(args), args.csv, args.assignment)
    if args.csv:
        print(f"wrote {args.csv}")
    else:
        print(text, end="")


def _export_canvas(args):
    from .grading.lms import canvas_import

    res = canvas_import(_root(args), args.canvas, args.out, args.map, args.assignment)
    print(f"wrote {res.path}: scores of {len(res.filled)} student(s)"
          + (f"; new column(s) {', '.join(res.added)}" if res.added else ""))
    for student in res.course_only:
        print(f"NOT in the Canvas file: {student} (add them to --map, or check their Canvas login)")
    for who in res.canvas_only:
        print(f"no course scores for Canvas row: {who}")
    for warning in res.warnings:
        print(f"! {warning}")
    print("next: Canvas -> Grades -> Import, and upload the file")


def cmd_due(args):
    from .grading.autograde import ensure_in_gradebook
    from .grading.lateness import set_due
    from .release import check_assignment

    root = _root(args)
    ensure_in_gradebook(root, check_assignment(root, args.assignment))
    due = set_due(root, args.assignment, args.date)
    if due is None:
        print(f"{args.assignment} has no due date; set one: backprop-lab due {args.assignment} \"2026-12-10 17:00\"")
    else:
        print(f"{args.assignment} is due {due:%Y-%m-%d %H:%M} UTC (stored in the gradebook)")


def cmd_demo_class(args):
    from .grading.demo_class import make_class
    from .release import CourseError, check_assignment

    root = _root(args)
    if args.n < 1:
        raise CourseError(f"--n must be at least 1 (got {args.n})")
    dest = Path(args.out) if args.out else root / "autograder" / "demo_class"
    paths = make_class(root, check_assignment(root, args.assignment), dest, n=args.n)
    print(f"wrote {len(paths)} synthetic submissions to {dest}; next: backprop-lab collect {dest}")


def cmd_report(args):
    from .report.build import write_report

    _, _, text = write_report(_root(args), args.assignment)
    print(text)


def cmd_check(args):
    from .grading.selfcheck import check_notebook

    reports, notes = check_notebook(args.notebook, hidden=False, timeout=args.timeout)
    earned = sum(r.earned for r in reports)
    total = sum(r.points for r in reports)
    for rep in reports:
        print(rep.text())
    for note in notes:
        print(f"note: {note}")
    print(f"\nvisible checks: {earned:g} / {total:g} points (hidden checks run only when your work is graded)")
    return 0 if earned == total else 1


def cmd_lab(args):
    import os

    from .lab import lab_command

    argv, env = lab_command(_root(args), instructor=args.instructor, port=args.port,
                            open_browser=not args.no_browser)
    print("starting:", " ".join(argv[2:]))
    os.execvpe(argv[0], argv, env)  # JupyterLab takes over this process (Ctrl-C stops it)


def cmd_progress(args):
    from .grading.selfcheck import NotebookError, check_notebook, summary_table

    folder = Path(args.folder)
    notebooks = sorted(folder.glob("*/*.ipynb")) or sorted(folder.glob("*.ipynb"))
    notebooks = [p for p in notebooks if ".ipynb_checkpoints" not in p.parts]
    if not notebooks:
        raise NotebookError(f"{folder}: no notebooks found; give the course folder (course/) or a notebook folder")
    rows, problems = [], []
    for path in notebooks:
        try:
            reports, _ = check_notebook(path, hidden=False, timeout=args.timeout)
        except NotebookError as exc:
            problems.append(str(exc))
            continue
        rows += [(path.stem, rep) for rep in reports]
    print(summary_table(rows))
    for p in problems:
        print(f"! {p}")
    done = sum(rep.status == "pass" for _, rep in rows)
    print(f"\n{done} of {len(rows)} exercises pass their visible checks")
    if args.png:
        from .grading.selfcheck import plot_progress

        plot_progress(rows, args.png)
        print(f"wrote {args.png}")


def cmd_bench(args):
    from .bench import main as bench

    bench(as_json=args.json, quick=args.quick, memory=not args.no_memory)


def cmd_digits_demo(args):
    from .digits_demo import demo

    demo(epochs=args.epochs, compare_torch=not args.no_torch)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="backprop-lab", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, func, help_, **kw):
        sp = sub.add_parser(name, help=help_, description=help_, **kw)
        sp.set_defaults(func=func)
        return sp

    sp = add("release", cmd_release, "Regenerate the student release course/ from solutions/ with nbgrader.")
    sp.add_argument("assignment", nargs="?", help="one assignment (default: all), e.g. 01_chain_rule")
    sp = add("collect", cmd_collect, "Import submitted notebooks (a folder or .zip, one file per student).")
    sp.add_argument("path")
    sp.add_argument("--assignment", help="all files are this assignment (else matched by file name)")
    sp = add("autograde", cmd_autograde, "Grade submissions into autograder/gradebook.db (sandboxed, idempotent).")
    sp.add_argument("assignment")
    sp.add_argument("--student", action="append", help="grade only this student (repeatable)")
    sp.add_argument("--workers", type=int, default=1,
                    help="grade N students in parallel in local processes (in this process when there are "
                         "fewer than 2 submissions per worker)")
    sp.add_argument("--scheduler", help="address of a Dask scheduler (tcp://host:8786) to grade on a cluster; "
                                        "its workers need the package installed, not the course folder")
    sp = add("feedback", cmd_feedback, "Write per-student HTML feedback for an assignment.")
    sp.add_argument("assignment")
    sp = add("export", cmd_export, "Scores as CSV: one row per student, a column per exercise, the total.")
    sp.add_argument("--csv", help="write to this file (default: print)")
    sp.add_argument("--assignment", help="only this assignment")
    sp.add_argument("--canvas", metavar="GRADEBOOK.csv",
                    help="a gradebook exported from Canvas: write a copy with the course's scores filled in")
    sp.add_argument("--map", metavar="MAP.csv", help="with --canvas: match students by this file "
                    "(header `student,SIS Login ID` or `student,ID`); default: course id = Canvas login")
    sp.add_argument("--out", help="with --canvas: the file to write (default: GRADEBOOK-import.csv beside it)")
    sp = add("due", cmd_due, "Set (or show) an assignment's due date in the gradebook; late submissions lose "
             "points (autograder/nbgrader_config.py: 10%% of the score per started day).")
    sp.add_argument("assignment")
    sp.add_argument("date", nargs="?", help='"2026-12-10 17:00" (local time) or "2026-12-10 17:00 Europe/Berlin"')
    sp = add("report", cmd_report, "Class report from the stored check results: misconceptions by diagnosis "
             "code, hardest checks, similar submissions, answers copied from backprop_lab (no student code runs).")
    sp.add_argument("assignment")
    sp = add("demo-class", cmd_demo_class,
             "Write synthetic submissions (correct in several styles, classic bugs, blank, cheating, a copied "
             "pair, a copy of backprop_lab's source) to try grading and the report.")
    sp.add_argument("assignment", nargs="?", default="03_vectorized_layers")
    sp.add_argument("--n", type=int, default=20,
                    help="number of students (default 20: the planned cast; more adds random mixes of its answers)")
    sp.add_argument("--out", help="folder (default autograder/demo_class/)")
    sp = add("check", cmd_check, "Run a notebook's visible checks outside Jupyter and print a points summary.")
    sp.add_argument("notebook")
    sp.add_argument("--timeout", type=float, default=10.0, help="seconds per check (default 10)")
    sp = add("lab", cmd_lab,
             "Open JupyterLab on course/ with the course's settings (nbgrader configured, first notebook open).")
    sp.add_argument("--instructor", action="store_true",
                    help="open solutions/ (Formgrader works from the nbgrader menu)")
    sp.add_argument("--port", type=int)
    sp.add_argument("--no-browser", action="store_true")
    sp = add("progress", cmd_progress, "Run the self-checks of your notebooks and print a table of what passes.")
    sp.add_argument("folder", nargs="?", default="course")
    sp.add_argument("--timeout", type=float, default=10.0, help="seconds per check (default 10)")
    sp.add_argument("--png", help="also save the table as a picture")
    sp = add("bench", cmd_bench, "Benchmark numpy vs torch CPU in one run (ratios, medians, peak memory).")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sp.add_argument("--quick", action="store_true", help="shorter timing loops (noisier)")
    sp.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    sp = add("digits-demo", cmd_digits_demo,
             "Train the small CNN on the 8x8 digits with the numpy library, beside its torch twin.")
    sp.add_argument("--epochs", type=int, default=15)
    sp.add_argument("--no-torch", action="store_true", help="skip the side-by-side torch run")
    for sp in sub.choices.values():
        if sp.prog.split()[-1] in ("release", "collect", "autograde", "feedback", "export", "demo-class", "lab",
                                    "report", "due"):
            sp.add_argument("--root", help="course root (default: found from the current folder)")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if args.command == "digits-demo":
        # Small models run ~2x faster with one BLAS thread on a 2-core machine; set it before numpy loads.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    if args.command != "lab":  # a short-lived command: not the 1-2.5 s IRI grammar nbformat's jsonschema builds
        from .grading.startup import skip_iri_grammar

        skip_iri_grammar()
    from .release import CourseError

    try:
        return int(args.func(args) or 0)
    except (CourseError, KeyError) as exc:
        print(f"backprop-lab {args.command}: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
