"""Similar submissions and answers copied from the reference library, found with copydetect (winnowing).

Every answer cell is tokenized by copydetect: names become V, strings S, comments and layout vanish,
so renamed variables and reworded comments change nothing. Its fingerprints are the hashes of every
run of `NOISE` normalized characters. Three kinds of fingerprints are left out, so that what remains
is what a student wrote *differently* from the class:

* the release's stub (the def lines and docstrings every student starts from);
* code common in the class: a fingerprint found in more than ``max(2, 10%)`` of the answers to that
  exercise is the usual way to write it (MOSS ignores such passages the same way); copying within
  a larger group than that is not this tool's job;
* then an answer with fewer than `MIN_CHARS` distinctive normalized characters is not compared at
  all: a short formulaic answer (``return dout * (x > 0)``) is alike in every class by nature.

The similarity of a pair is copydetect's: the share of each answer's distinctive code that the
other answer also has, averaged over the two. A pair is flagged when its similarity reaches
``max(FLOOR, median + K * 1.4826 * MAD)`` of all pairs of that exercise: an outlier against the
class's own baseline, and a majority of the distinctive code shared.

Reference matches compare each answer (stub left out, class-common code kept: many students
pasting the same library code is still pasting) with `backprop_lab`'s own source. Independent
correct answers share formulas with it; a paste shares whole functions.
"""
from __future__ import annotations

import io
import random
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..release import CourseError

try:
    from copydetect import CodeFingerprint
    from copydetect.utils import get_copied_slices
except ImportError:  # pragma: no cover - copydetect is in the course extra
    raise CourseError('the class report needs copydetect: pip install -e ".[course]"') from None

NOISE = 25         # k-gram length in normalized characters (copydetect's default noise threshold)
WINDOW = 1         # winnowing window: guarantee threshold 25 - noise 25 + 1 (copydetect's default)
MIN_CHARS = 100    # distinctive normalized characters an answer needs to be compared
COMMON_SHARE = 0.1  # a fingerprint in more than max(2, 10%) of the answers is common
FLOOR = 0.8        # a flagged pair shares at least 80% of its distinctive code ...
K = 3.0            # ... and lies K robust standard deviations above the median pair
REF_FLOOR = 0.6    # a reference match: 60% of the answer's own code is in the library ...
RAW_SAMPLE = 3000  # pairs drawn for the "before removing common code" histogram


def fingerprint(source: str, boilerplate=()) -> CodeFingerprint:
    """copydetect's fingerprint of Python `source`, without the hashes in `boilerplate`."""
    return CodeFingerprint("answer.py", NOISE, WINDOW, boilerplate=np.array(sorted(boilerplate), dtype=np.int64),
                           language="python", fp=io.StringIO(source))


def refingerprint(fp: CodeFingerprint, boilerplate) -> CodeFingerprint:
    """The same code's fingerprint with more boilerplate (from its already normalized text)."""
    return CodeFingerprint("answer.py", NOISE, WINDOW, boilerplate=np.array(sorted(boilerplate), dtype=np.int64),
                           filter=False, fp=io.StringIO(fp.filtered_code))


def covered(fp: CodeFingerprint, shared) -> float:
    """Normalized characters of `fp` covered by the fingerprints in `shared` (copydetect's slices)."""
    idx = [i for h in shared for i in fp.hash_idx.get(h, ())]
    if not idx:
        return 0.0
    starts, ends = get_copied_slices(np.array(idx), fp.k)
    return float(np.sum(ends - starts))


def share(fp: CodeFingerprint, shared) -> float:
    """The share (0..1) of `fp`'s fingerprinted code that `shared` covers."""
    return min(1.0, covered(fp, shared) / fp.token_coverage) if fp.token_coverage else 0.0


def robust_threshold(values, floor: float) -> dict:
    """median, MAD and the flag threshold ``max(floor, median + K * 1.4826 * MAD)`` of `values`."""
    v = np.asarray(values, dtype=float)
    median = float(np.median(v)) if v.size else 0.0
    mad = float(np.median(np.abs(v - median))) if v.size else 0.0
    return {"median": median, "mad": mad, "threshold": max(floor, median + K * 1.4826 * mad)}


def answer_fingerprints(answers: dict[str, str], stub: str) -> tuple[set, dict]:
    """(the stub's hashes, {student: fingerprint of the answer without the stub}) of one exercise's
    answers {student: source}; identical answers are tokenized once."""
    stub_hashes = fingerprint(stub).hashes
    done: dict[str, CodeFingerprint] = {}
    out = {}
    for student, source in answers.items():
        if source not in done:
            done[source] = fingerprint(source, stub_hashes)
        out[student] = done[source]
    return stub_hashes, out


def similar_pairs(base: dict, stub_hashes: set, seed: int = 0) -> dict:
    """Pairs of one exercise's answers, from `answer_fingerprints`.

    Returns: pairs (every compared pair: students, similarity, shared characters), flagged (those
    over the threshold, most similar first), baseline (median, mad, threshold, compared, pairs),
    short (students with too little distinctive code to compare), raw (a sample of similarities with
    only the stub left out, for the histogram).
    """
    counts = Counter(h for fp in base.values() for h in fp.hashes)
    limit = max(2, COMMON_SHARE * len(base))
    common = {h for h, c in counts.items() if c > limit}
    boilerplate = stub_hashes | common
    done: dict[int, CodeFingerprint] = {}
    for fp in base.values():
        if id(fp) not in done:
            done[id(fp)] = refingerprint(fp, boilerplate)
    dist = {s: done[id(fp)] for s, fp in base.items()}
    long_enough = sorted(s for s, fp in dist.items() if fp.token_coverage >= MIN_CHARS)
    short = sorted(set(dist) - set(long_enough))
    pairs = []
    for i, a in enumerate(long_enough):
        for b in long_enough[i + 1:]:
            shared = dist[a].hashes & dist[b].hashes
            sim = (share(dist[a], shared) + share(dist[b], shared)) / 2 if shared else 0.0
            pairs.append({"students": [a, b], "similarity": round(sim, 4),
                          "shared_chars": int(covered(dist[a], shared)) if shared else 0})
    baseline = robust_threshold([p["similarity"] for p in pairs], FLOOR)
    baseline.update(compared=len(long_enough), pairs=len(pairs), common_fingerprints=len(common))
    flagged = sorted((p for p in pairs if p["similarity"] >= baseline["threshold"]),
                     key=lambda p: -p["similarity"])
    everyone = sorted(base)
    all_pairs = [(a, b) for i, a in enumerate(everyone) for b in everyone[i + 1:]]
    sample = random.Random(seed).sample(all_pairs, min(RAW_SAMPLE, len(all_pairs)))
    raw = [(share(base[a], base[a].hashes & base[b].hashes) + share(base[b], base[a].hashes & base[b].hashes)) / 2
           for a, b in sample]
    return {"pairs": pairs, "flagged": flagged, "baseline": baseline, "short": short, "raw": raw}


def library_root() -> Path:
    import backprop_lab

    return Path(backprop_lab.__file__).parent


@lru_cache(maxsize=2)
def library_fingerprints(package_dir: str) -> tuple:
    """(every fingerprint hash of the library, {"backprop_lab/<file>": hashes}): the library's
    source files under `package_dir`, without the course kit."""
    root = Path(package_dir)
    files = sorted(p for p in root.rglob("*.py") if "coursekit" not in p.relative_to(root).parts)
    per_file = {f"{root.name}/{p.relative_to(root)}": fingerprint(p.read_text()).hashes for p in files}
    return set().union(*per_file.values()), per_file


def reference_matches(base: dict, package_dir: str | None = None) -> dict:
    """How much of each answer (fingerprints from `answer_fingerprints`) is `backprop_lab`'s own source.

    Returns: scores ({student: similarity} of every long-enough answer), flagged (list of student,
    similarity, files: the library file sharing the most, and the next one if it shares
    at least 30% as much), baseline (median, mad, threshold).
    """
    library, per_file = library_fingerprints(str(package_dir or library_root()))
    scores, fps = {}, {}
    for student, fp in base.items():
        if fp.token_coverage >= MIN_CHARS:
            fps[student] = fp
            scores[student] = round(share(fp, fp.hashes & library), 4)
    baseline = robust_threshold(list(scores.values()), REF_FLOOR)
    flagged = []
    for student, sim in sorted(scores.items(), key=lambda kv: -kv[1]):
        if sim >= baseline["threshold"]:
            hits = sorted(((len(fps[student].hashes & h), f) for f, h in per_file.items()), reverse=True)[:2]
            files = [f for n, f in hits if n >= 0.3 * hits[0][0]]
            flagged.append({"student": student, "similarity": sim, "files": files})
    return {"scores": scores, "flagged": flagged, "baseline": baseline}
