#!/usr/bin/python3
"""multi_eval.py: each member's published measure from a rat-multi trial table (docs/rodent.md,
"One rodent, four tasks"; docs/tasks.md, rat-multi):

    animat record RUN --episodes 200 --envs 200 --deterministic --seed 2 ... --out eval.rollout
    animat trials eval.rollout --out eval.csv
    /usr/bin/python3 tools/multi_eval.py eval.csv

In rat-multi an episode is a trial; its row holds task_id (the member's position in `tasks`) and,
for every event of every member, its count (`n_MEMBER.EVENT`). The members and their order are
read from those columns (they come in `tasks` order), so a composite of fewer members works too.
Only complete episodes count. Printed per member, with the number of episodes:
  - run-gaps: gaps crossed per episode, episodes without a fall, mean forward speed (m/s);
  - escape-bowl: episodes with an escape, and the median time to it;
  - forage-maze: targets collected per episode;
  - two-tap: first touches per episode, second touches in the window (the task's touch_second)
    per first touch, and the touches too soon;
shares with a 95 % Wilson interval, means with their standard error."""
import argparse
import collections
import csv
import math
import statistics
import sys


def wilson(k, n, z=1.96):
    """95 % Wilson score interval of a share k of n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def mean_se(xs):
    """Mean and standard error of xs (NaN where undefined)."""
    if not xs:
        return float("nan"), float("nan")
    m = statistics.fmean(xs)
    return m, statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")


def load(path):
    """(members in task_id order, {task_id: [row dict with floats]}) from an `animat trials` CSV."""
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        cols = rows.fieldnames or []
        if "task_id" not in cols or "complete" not in cols:
            raise ValueError(f"{path}: not a rat-multi trial table (no task_id or complete column)")
        members = []
        for c in cols:
            if c.startswith("n_") and "." in c:
                m = c[2:].split(".", 1)[0]
                if m not in members:
                    members.append(m)
        if not members:
            raise ValueError(f"{path}: no member event columns (n_MEMBER.EVENT)")
        by = collections.defaultdict(list)
        for line, r in enumerate(rows, start=2):
            if r["complete"] != "1":
                continue
            try:
                t = int(float(r["task_id"]))
                vals = {k: float(v) if v != "" else float("nan") for k, v in r.items()
                        if k.startswith(("n_", "t_")) or k == "forward_speed"}
            except ValueError as e:
                raise ValueError(f"{path}: line {line}: {e}") from None
            if not 0 <= t < len(members):
                raise ValueError(f"{path}: line {line}: task_id {t} outside the {len(members)} "
                                 f"members ({', '.join(members)})")
            by[t].append(vals)
    if not by:
        raise ValueError(f"{path}: no complete episodes")
    return members, by


def summary(members, by):
    """One dict per member that has episodes: its name, n, and its measures."""
    out = []
    for t, name in enumerate(members):
        rs = by.get(t, [])
        if not rs:
            continue
        n = len(rs)
        s = {"member": name, "episodes": n}
        if name == "run-gaps":
            s["gaps_per_episode"] = mean_se([r["n_run-gaps.gap_crossed"] for r in rs])
            k = sum(1 for r in rs if r["n_run-gaps.fall"] == 0)
            s["without_fall"] = (k, n, *wilson(k, n))
            s["forward_speed"] = mean_se([r["forward_speed"] for r in rs])
        elif name == "escape-bowl":
            esc = [r for r in rs if r["n_escape-bowl.escaped"] > 0]
            s["escaped"] = (len(esc), n, *wilson(len(esc), n))
            times = sorted(r["t_escape-bowl.escaped"] for r in esc)
            s["median_escape_s"] = statistics.median(times) if times else float("nan")
        elif name == "forage-maze":
            s["targets_per_episode"] = mean_se([r["n_forage-maze.target_collected"] for r in rs])
        elif name == "two-tap":
            first = sum(r["n_two-tap.touch_first"] for r in rs)
            second = sum(r["n_two-tap.touch_second"] for r in rs)
            s["first_per_episode"] = mean_se([r["n_two-tap.touch_first"] for r in rs])
            s["in_window"] = (int(second), int(first), *wilson(second, first))
            s["too_soon"] = int(sum(r.get("n_two-tap.too_soon", 0) for r in rs))
        out.append(s)
    return out


def fmt_share(v):
    k, n, lo, hi = v
    return f"{k} of {n} ({100 * k / n if n else float('nan'):.0f} %, 95 % {100 * lo:.0f}-{100 * hi:.0f} %)"


def fmt_mean(v, unit=""):
    return f"{v[0]:.2f}{unit} (se {v[1]:.2f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", help="trial table of a rat-multi recording (animat trials --out)")
    a = ap.parse_args(argv)
    try:
        members, by = load(a.csv)
        rows = summary(members, by)
    except (OSError, ValueError) as e:
        print(f"multi_eval: {e}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"multi_eval: {a.csv}: no column {e} (a member's event missing from the table)",
              file=sys.stderr)
        return 1
    for s in rows:
        head = f"{s['member']:<12} {s['episodes']:>4} episodes: "
        if s["member"] == "run-gaps":
            print(head + f"gaps crossed per episode {fmt_mean(s['gaps_per_episode'])}, without a fall "
                  f"{fmt_share(s['without_fall'])}, forward speed {fmt_mean(s['forward_speed'], ' m/s')}")
        elif s["member"] == "escape-bowl":
            med = s["median_escape_s"]
            print(head + f"escaped {fmt_share(s['escaped'])}" +
                  (f", median time to escape {med:.2f} s" if med == med else ""))
        elif s["member"] == "forage-maze":
            print(head + f"targets per episode {fmt_mean(s['targets_per_episode'])}")
        elif s["member"] == "two-tap":
            w = s["in_window"]
            share = fmt_share(w) if w[1] else "no first touch"
            print(head + f"first touches per episode {fmt_mean(s['first_per_episode'])}, second touch "
                  f"in the window {share}, too soon {s['too_soon']}")
        else:
            print(head + "(no published measure known for this member)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
