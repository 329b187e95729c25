#!/usr/bin/python3
"""water_latency.py: the water maze's latency by search, paired within episodes (docs/tasks.md,
water-maze and water-plane), from a trial table:

    animat trials FILE.rollout --out trials.csv
    /usr/bin/python3 tools/water_latency.py trials.csv

A search is a trial (condition `search`, its number in the episode); its latency is the trial's
duration (a timeout counts as search_time). Only complete trials count. Printed:
  - per search: trials, share that found the goal, mean latency;
  - search 1 against search 2, paired over the episodes that have both: the mean latencies, the
    mean difference with a 95 % bootstrap interval, and a two-sided sign-flip permutation test of
    the mean difference (exchanging the two searches within an episode; numpy only);
  - over the episodes with every search up to the last one any episode reached: the mean latency
    per search, and the first against the mean of the later ones, tested the same way;
  - the searches after the first, split by whether an earlier search of the episode found the goal:
    how many and the share that found it (the memory's effect: a network that remembers where the
    goal was goes back there after a find).
The resamplings use a fixed seed (--seed), so the output is reproducible."""
import argparse
import collections
import csv
import sys

import numpy as np


def load(path):
    """{episode: {search: (latency s, found)}} from an `animat trials --out` CSV."""
    by = collections.defaultdict(dict)
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        need = {"episode", "search", "duration", "success", "complete"}
        if not rows.fieldnames or not need <= set(rows.fieldnames):
            missing = sorted(need - set(rows.fieldnames or []))
            raise ValueError(f"{path}: not a water-maze trial table (missing columns {missing})")
        for line, r in enumerate(rows, start=2):
            try:
                if r["complete"] != "1":
                    continue
                by[int(r["episode"])][int(float(r["search"]))] = (float(r["duration"]),
                                                                  r["success"] == "1")
            except ValueError as e:
                raise ValueError(f"{path}: line {line}: {e}") from None
    if not by:
        raise ValueError(f"{path}: no complete trials")
    return by


def paired(a, b, rng, n=20000):
    """Mean of a and b, mean of a - b, its 95 % bootstrap interval and the two-sided sign-flip
    permutation p-value of the mean difference (add-one estimate)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    boot = d[rng.integers(0, len(d), (n, len(d)))].mean(1)
    flips = rng.choice([-1.0, 1.0], (n, len(d)))
    null = np.abs((flips * d).mean(1))
    p = (np.count_nonzero(null >= abs(d.mean()) - 1e-12) + 1) / (n + 1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(np.mean(a)), float(np.mean(b)), float(d.mean()), float(lo), float(hi), p


def fmt_p(p, n=20000):
    """A permutation p-value; at its floor (no resample as extreme) as a bound."""
    return f"< {1 / n:.0e}" if p <= 1.5 / (n + 1) else f"= {p:.2g}"


def after_find(by):
    """Searches after the first: (n, found share) after an earlier find in the episode, and after
    misses only."""
    out = {True: [], False: []}
    for v in by.values():
        seen = False
        for k in sorted(v):
            if k > 1:
                out[seen].append(v[k][1])
            seen = seen or v[k][1]
    return {key: (len(x), float(np.mean(x)) if x else float("nan")) for key, x in out.items()}


def report(by, seed=1, out=sys.stdout):
    rng = np.random.default_rng(seed)
    last = max(max(v) for v in by.values())
    for k in range(1, last + 1):
        x = [v[k] for v in by.values() if k in v]
        print(f"search {k}: {len(x)} trials, found {100 * np.mean([f for _, f in x]):.1f} %, "
              f"latency {np.mean([t for t, _ in x]):.2f} s", file=out)
    both = [v for v in by.values() if 1 in v and 2 in v]
    if both:
        m1, m2, d, lo, hi, p = paired([v[1][0] for v in both], [v[2][0] for v in both], rng)
        print(f"search 1 against 2, {len(both)} episodes: {m1:.2f} against {m2:.2f} s, "
              f"difference {d:.2f} s (95 % CI {lo:.2f} to {hi:.2f}), permutation p {fmt_p(p)}",
              file=out)
    full = [v for v in by.values() if all(k in v for k in range(1, last + 1))]
    if full and last > 1:
        lat = np.array([[v[k][0] for k in range(1, last + 1)] for v in full])
        m1, m2, d, lo, hi, p = paired(lat[:, 0], lat[:, 1:].mean(1), rng)
        print(f"episodes with all {last} searches: {len(full)}; latency by search "
              f"{', '.join(f'{x:.2f}' for x in lat.mean(0))} s; first against the later ones' "
              f"mean {m1:.2f} against {m2:.2f} s (95 % CI of the difference {lo:.2f} to {hi:.2f}), "
              f"permutation p {fmt_p(p)}", file=out)
    af = after_find(by)
    print(f"later searches after a find in the episode: {af[True][0]}, found "
          f"{100 * af[True][1]:.1f} %; after misses only: {af[False][0]}, found "
          f"{100 * af[False][1]:.1f} %", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", help="trial table of a water-maze or water-plane recording "
                                "(animat trials FILE --out CSV)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the resamplings (default 1)")
    a = ap.parse_args()
    try:
        by = load(a.csv)
    except (OSError, ValueError) as e:
        print(f"water_latency: {e}", file=sys.stderr)
        return 1
    report(by, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
