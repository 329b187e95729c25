#!/usr/bin/env python3
"""dnms_curves.py: trials to criterion and learning curves of runs on the dnms task (docs/biology.md,
"Node perturbation (Miconi 2017)").

    python3 tools/dnms_curves.py --out dnms.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]

Reads each run's metrics.csv (one row per iteration: `episodes` trials ended, `success` the
fraction correct, `mean_return` minus their mean trial error; dnms has one trial per episode).
Trials are counted in order; an iteration's trials are its `episodes`. Criterion (Miconi 2017,
Fig. 1): 95 % of 100 successive trials correct (trial error < 1). It is checked at the end of every
iteration over the last 100 trials (an iteration that straddles the window's start counts pro
rata), so the count has the resolution of one iteration (1 trial for learner = hebbian with one
env, 16 for the PPO and ES configs). Prints one line per run and the median per label; draws the
mean trial error (100-trial bins) and the fraction correct over the last 100 trials against
trials, one line per run, one colour per label. What it is not: a reader of recordings.
"""
import argparse
import csv
import os
import statistics
import sys


def load(run_dir):
    path = os.path.join(run_dir, "metrics.csv")
    trials, correct, err = [], [], []  # per iteration: trials, correct trials, summed trial error
    with open(path) as f:
        for r in csv.DictReader(f):
            n = int(r["episodes"] or 0)
            if n == 0:
                continue
            trials.append(n)
            correct.append(float(r["success"]) * n)
            err.append(-float(r["mean_return"]) * n)
    if not trials:
        sys.exit(f"dnms_curves: {path} has no finished trials")
    return trials, correct, err


def windowed(trials, correct, window=100):
    """(trials so far, fraction correct over the last `window`) at the end of each iteration."""
    cum_n, cum_c = [0.0], [0.0]
    for n, c in zip(trials, correct):
        cum_n.append(cum_n[-1] + n)
        cum_c.append(cum_c[-1] + c)
    out = []
    j = 0
    for i in range(1, len(cum_n)):
        if cum_n[i] < window:
            continue
        start = cum_n[i] - window
        while cum_n[j + 1] <= start:
            j += 1
        # successes before `start`: those of the iterations before j, and part of iteration j
        frac = (start - cum_n[j]) / (cum_n[j + 1] - cum_n[j])
        before = cum_c[j] + frac * (cum_c[j + 1] - cum_c[j])
        out.append((cum_n[i], (cum_c[i] - before) / window))
    return out


def criterion(trials, correct, level=0.95):
    for n, f in windowed(trials, correct):
        if f >= level - 1e-9:
            return int(round(n))
    return None


def binned_error(trials, err, size=100):
    xs, ys, acc_n, acc_e, done = [], [], 0, 0.0, 0
    for n, e in zip(trials, err):
        acc_n += n
        acc_e += e
        if acc_n >= size:
            done += acc_n
            xs.append(done)
            ys.append(acc_e / acc_n)
            acc_n, acc_e = 0, 0.0
    return xs, ys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    ap.add_argument("--out", help="figure (.png or .svg)")
    ap.add_argument("--max-trials", type=int, default=0, help="x-axis limit (0: all)")
    a = ap.parse_args()
    by_label = {}
    data = []
    for spec in a.runs:
        if "=" not in spec:
            sys.exit(f"dnms_curves: '{spec}' is not LABEL=RUN_DIR")
        label, d = spec.split("=", 1)
        t, c, e = load(d)
        ttc = criterion(t, c)
        total = int(sum(t))
        last = windowed(t, c)[-1][1]
        print(f"{label:12s} {d}: {total} trials, criterion (95 % of 100 correct) at "
              f"{ttc if ttc is not None else 'not reached'}, last 100 trials {100 * last:.0f} % "
              f"correct, mean error {sum(e[-max(1, len(e) // 20):]) / sum(t[-max(1, len(t) // 20):]):.3f} "
              f"over the last 5 % of iterations")
        by_label.setdefault(label, []).append(ttc)
        data.append((label, t, c, e))
    for label, v in by_label.items():
        got = [x for x in v if x is not None]
        med = statistics.median(got) if len(got) == len(v) else None
        print(f"{label:12s} {len(v)} runs: trials to criterion {v}; median "
              f"{med if med is not None else 'n/a (not every run reached it)'}")
    if not a.out:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]
    col = {lab: colours[i % len(colours)] for i, lab in enumerate(by_label)}
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    seen = set()
    for label, t, c, e in data:
        xs, ys = binned_error(t, e)
        kw = {"color": col[label], "lw": 1.2, "alpha": 0.8}
        if label not in seen:
            kw["label"] = label
            seen.add(label)
        ax[0].plot(xs, ys, **kw)
        w = windowed(t, c)
        ax[1].plot([p[0] for p in w], [100 * p[1] for p in w], color=col[label], lw=1.0, alpha=0.8)
    ax[0].set_ylabel("trial error (mean |output - target|, 100-trial bins)")
    ax[1].set_ylabel("% correct over the last 100 trials")
    ax[1].axhline(95, color="k", ls=":", lw=1)
    ax[1].text(0.99, 0.02, "criterion 95 %", transform=ax[1].transAxes, ha="right", fontsize=8)
    for x in ax:
        x.set_xlabel("trials")
        if a.max_trials:
            x.set_xlim(0, a.max_trials)
        x.spines["top"].set_visible(False)
        x.spines["right"].set_visible(False)
    ax[0].set_ylim(bottom=0)
    ax[1].set_ylim(0, 102)
    ax[0].legend(frameon=False)
    ax[0].set_title("delayed non-match-to-sample: trial error")
    ax[1].set_title("fraction correct (error < 1)")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"figure: {a.out}")


if __name__ == "__main__":
    main()
