"""The report as one self-contained HTML page (inline CSS, figures as base64 PNG, no network)."""
from __future__ import annotations

from html import escape

from . import figures, similarity, tables

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 2px solid #ddd; }
h3 { margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; white-space: nowrap; }
.pass { background: #e3f4e8; } .fail { background: #fbe7e6; } .not_attempted, .missing { background: #f1f1f1; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 0.8em; }
.muted { color: #666; } code { background: #f3f5f7; padding: 0 3px; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
"""


def _img(png: str, alt: str) -> str:
    return f'<img class="figure" alt="{escape(alt)}" src="data:image/png;base64,{png}">'


def _table(head: list[str], rows: list[list[str]], nums: set[int] = frozenset()) -> str:
    """An HTML table; cells are already escaped HTML."""
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td class="num">{c}</td>' if i in nums else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>")
    return "\n".join(out) + "</table>"


def _scores(data: dict) -> str:
    checks = tables.hardest(data["checks"])
    rows = [[escape(c["exercise"]), escape(c["check"]), f"{c['points']:g}", f"{100 * c['pass_rate']:.0f}%",
             f"{c['mean_score']:.2f}", str(c["failed"]), str(c["not_attempted"])] for c in checks]
    return ("<h2>1. Scores and checks</h2>"
            + _img(figures.score_histogram([s["score"] for s in data["scores"]], data["points"]), "score histogram")
            + _img(figures.pass_rates(checks), "pass rate per check")
            + "<h3>Every check, hardest first</h3>"
            + _table(["exercise", "check", "points", "pass rate", "mean score", "failed", "not attempted"],
                     rows, {2, 3, 4, 5, 6}))


def _misconceptions(data: dict) -> str:
    out = ["<h2>2. Misconceptions</h2>",
           f"<p>Failed checks grouped by their diagnosis code (stable across students; "
           f"<code>docs/DIAGNOSES.md</code> lists every code), most common first. Percentages are of the "
           f"{data['students']} graded students; an exercise not attempted is not counted here.</p>"]
    groups = tables.by_exercise(data["misconceptions"])
    order = [c["exercise"] for c in data["checks"]]
    groups = dict(sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    if not groups:
        out.append("<p>No failed checks.</p>")
    for key, items in groups.items():
        out.append(f"<h3>{escape(key)}</h3>" + _img(figures.misconception_bars(key, items), f"{key} misconceptions"))
        rows = [[f"<b>{m['count']} students ({m['percent']:.0f}%)</b>", f"<code>{escape(m['code'])}</code>",
                 escape(m["diagnosis"]) + (f"<br><span class='muted'>e.g. {escape(m['example'])}</span>"
                                           if m["example"] and m["example"] != m["diagnosis"] else ""),
                 escape(", ".join(m["where"])), escape(", ".join(m["students"]))] for m in items]
        out.append(_table(["students", "code", "diagnosis", "seen in", "who"], rows))
    return "\n".join(out)


def _students(data: dict) -> str:
    keys = [e["exercise"] for e in data["scores"][0]["exercises"]] if data["scores"] else []
    rows = []
    for s in data["scores"]:
        cells = [f"<b>{escape(s['student'])}</b>", f"{s['score']:g} / {s['points']:g}"]
        for e in s["exercises"]:
            f = e["first_failure"]
            text = f"{e['earned']:g}/{e['points']:g}"
            if e["status"] in ("not_attempted", "missing"):
                text += " · not attempted" if e["status"] == "not_attempted" else " · no result stored"
            elif f is not None:
                text += (f" · {escape(f['check'])}: <code>{escape(str(f['code']))}</code> "
                         f"<span class='muted'>{escape(f['diagnosis'])}</span>")
            cells.append(f'<span class="{escape(e["status"])}">{text}</span>')
        rows.append(cells)
    return ("<h2>3. Students</h2><p>Score, and for each exercise the first check that fails (in the order the "
            "checks build on each other) with its diagnosis.</p>"
            + _table(["student", "score"] + keys, rows, {1}))


def _similar(data: dict, pairs: dict) -> str:
    s = similarity
    out = ["<h2>4. Similar submissions</h2>",
           '<p class="note"><b>A flag is for a human to look at, not a verdict.</b> Students may have worked '
           "together as allowed, or written the same short formula independently; read the two answers before "
           "drawing any conclusion.</p>",
           f"<p>Answers are compared with copydetect (winnowing over runs of {s.NOISE} normalized characters: names, "
           "strings, comments and layout do not count, so renaming variables changes nothing). Left out: the "
           "release's stub, and code common in the class (a fingerprint found in more than max(2, "
           f"{100 * s.COMMON_SHARE:.0f}%) of the answers is the usual way to write it). <b>Short formulaic answers</b> "
           f"are alike by nature, so an answer with fewer than {s.MIN_CHARS} normalized characters of distinctive "
           "code is not compared at all. A pair's similarity is the share of each one's distinctive code that "
           "the other also has (averaged). The baseline is the distribution over all pairs of the exercise: a pair "
           f"is flagged when it reaches max({s.FLOOR:g}, median + {s.K:g} &times; 1.4826 &times; MAD), i.e. it is "
           "an outlier in this class and shares most of its distinctive code. Grey bars: every pair with only the "
           "stub left out, to show how alike correct answers are anyway.</p>"]
    for key, res in pairs.items():
        b = res["baseline"]
        out.append(f"<h3>{escape(key)}</h3><p class='muted'>{b['compared']} answers compared ({len(res['short'])} "
                   f"too short or formulaic to compare), {b['pairs']} pairs; median {b['median']:.2f}, MAD "
                   f"{b['mad']:.2f}, flag at {b['threshold']:.2f}.</p>")
        out.append(_img(figures.similarity_histogram(key, res), f"{key} similarity distribution"))
        flagged = res["flagged"]
        rows = [[escape(" & ".join(p["students"])), f"{p['similarity']:.2f}", str(p["shared_chars"])]
                for p in flagged[:100]]
        out.append(_table(["pair", "similarity", "shared distinctive characters"], rows, {1, 2}) if rows
                   else "<p>No pair flagged.</p>")
        if len(flagged) > 100:
            out.append(f"<p>and {len(flagged) - 100} more pairs in report.json.</p>")
    return "\n".join(out)


def _reference(data: dict, refs: dict) -> str:
    rows = [[escape(r["student"]), escape(r["exercise"]), f"{r['similarity']:.2f}", escape(", ".join(r["files"]))]
            for r in data["reference_matches"]]
    return ("<h2>5. Copied from the reference</h2>"
            f"<p>Each answer (stub left out, at least {similarity.MIN_CHARS} normalized characters) against the "
            "library's own source (<code>backprop_lab/</code>: functional, nn, optim, scalar, ...). Independent "
            "correct answers share a formula or two with it; a paste shares whole functions. Flagged: at least "
            f"{100 * similarity.REF_FLOOR:.0f}% of the answer found in the library and an outlier in the class "
            f"(median + {similarity.K:g} &times; 1.4826 &times; MAD). Again: for a human to look at.</p>"
            + _img(figures.reference_strip(refs), "answers against the reference")
            + (_table(["student", "exercise", "share in the library", "library files"], rows, {2}) if rows
               else "<p>No answer flagged.</p>"))


def _flags(found: dict, join: str, limit: int = 6) -> str:
    """"fay & gus (03.linear, 03.mse); ..." for {who: [exercise, ...]}; "none" when empty."""
    items = [f"<b>{escape(join.join(who) if join else who)}</b> ({escape(', '.join(keys))})"
             for who, keys in list(found.items())[:limit]]
    more = f"; and {len(found) - limit} more" if len(found) > limit else ""
    return "; ".join(items) + more if items else "none flagged"


def render(data: dict, extra: dict) -> str:
    """The whole page."""
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in data["notes"])
    top = data["misconceptions"][:3]
    lead = "".join(f"<li><b>{m['count']} students ({m['percent']:.0f}%)</b>: {escape(m['diagnosis'])} "
                   f"<span class='muted'>({escape(m['exercise'])}, <code>{escape(m['code'])}</code>)</span></li>"
                   for m in top)
    pairs: dict[tuple, list[str]] = {}
    for p in data["similar_pairs"]:
        pairs.setdefault(tuple(p["students"]), []).append(p["exercise"])
    refs: dict[str, list[str]] = {}
    for r in data["reference_matches"]:
        refs.setdefault(r["student"], []).append(r["exercise"])
    glance = (f"<li>Similar submissions (section 4): {_flags(pairs, ' & ')}</li>"
              f"<li>Answers matching backprop_lab's source (section 5): {_flags(refs, '')}</li>")
    body = [f"<h1>{escape(data['assignment'])}: what the class got wrong</h1>",
            f"<p class='muted'>{data['students']} graded students, mean score {data['mean_score']:.1f} / "
            f"{data['points']:g}. Generated {escape(data['generated_at'])} from the check results stored at "
            "grading; no student code was run for this page.</p>", notes,
            f"<h3>To re-teach first</h3><ul>{lead or '<li>nothing: every attempted check passes</li>'}</ul>",
            f"<h3>To look at (a flag is not a verdict)</h3><ul>{glance}</ul>",
            _scores(data), _misconceptions(data), _students(data), _similar(data, extra["pairs"]),
            _reference(data, extra["reference"])]
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(data['assignment'])} "
            f"class report</title><style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
