#!/usr/bin/python3
"""pulse_response.py: the corrective response to a mechanical pulse (docs/agents.md, Perturbations).

Compares a reaching recording with a force pulse (`animat record RUN --perturb kind=force,...`)
against the same command's recording without it. With --deterministic and the same --seed and
--envs, the k-th episode of env i is the same trial in both files and is identical up to the
pulse (checked), so each pulsed trial has its exact unperturbed counterpart. Per pair, from the
pulse's first step:

  dev(t)     the hand's (cursor's) perpendicular distance from the straight start-target line
             minus the counterpart's at the same step (m; positive to the left of the reach);
  peak       the largest |dev(t)| (m);
  halfway    the time from the pulse's onset until |dev(t)|, past its peak, is back to half of
             the peak (the correction's speed; NaN when it never is);
  final      |dev| at the last step both trials have (what is left when a trial ends);
  to target  the time from the pulse's onset to target_reached, pulsed and unperturbed;
  success    hold_complete reached, pulsed and unperturbed.

Prints a table per target (condition) and over all pulsed trials, and draws the hand paths of
the chosen targets (pulsed vs unperturbed) and their dev(t) into one PNG figure.

A free body (the rat: no cursor among the task variables) is compared episode by episode instead:
the root's linear velocity (qvel of the free joint, world frame) pulsed minus unperturbed, the
recorded push and the generalized force qfrc_applied on the free joint's dofs around each pulse.

usage: pulse_response.py BASE.rollout PULSED.rollout --out FIG.png [--targets 0,4] [--mass KG]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from animat_dataset import Dataset  # noqa: E402


def by_env(ds):
    """(env, k) -> episode index: the k-th episode env started."""
    count, out = {}, {}
    for i, e in sorted(enumerate(ds.episodes), key=lambda x: x[1].id):
        k = count.get(e.env, 0)
        count[e.env] = k + 1
        out[(e.env, k)] = i
    return out


def trial(ds, i):
    labels = {c.name: c.labels for c in ds.channels}
    tv, ev = labels["task_vars"], labels["events"]
    e = ds.episode(i)
    v = e["task_vars"]
    first = {}
    for k, name in enumerate(ev):
        hit = np.nonzero(e["events"] & (1 << k))[0]
        first[name] = int(hit[0]) if len(hit) else None
    start = v[-1, [tv.index("start_x"), tv.index("start_y")]].astype(float)
    target = v[-1, [tv.index("target_x"), tv.index("target_y")]].astype(float)
    hand = np.stack([v[:, tv.index("cursor_x")], v[:, tv.index("cursor_y")]], 1).astype(float)
    u = (target - start) / np.linalg.norm(target - start)
    rel = hand - start
    return {"cond": int(v[-1, tv.index("condition")]), "catch": int(v[-1, tv.index("catch")]),
            "hand": rel, "perp": rel[:, 0] * -u[1] + rel[:, 1] * u[0], "first": first,
            "target": target - start,
            "qpos": e["qpos"], "success": first.get("hold_complete") is not None,
            "pulse": np.nonzero(e["perturb"])[0] if "perturb" in e else np.array([], int)}


def same_until(b, p, s, key):
    if len(b) < s or not np.array_equal(b[:s], p[:s]):
        sys.exit("pulse_response: episode %d of env %d differs before the pulse: record both files "
                 "with the same flags (and --deterministic for a policy)" % (key[1], key[0]))


def save(fig, out):
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, out)
    print("wrote", out)


def free_body(a, db, dp):
    """The rat: the root's velocity change and the applied force around each pulse."""
    dt = float(dp.meta["control_dt"])
    spec = dp.meta.get("perturb.0", "")
    kb, kp = by_env(db), by_env(dp)
    rows = []
    for key in sorted(set(kb) & set(kp)):
        eb, ep = db.episode(kb[key]), dp.episode(kp[key])
        w = np.nonzero(ep["perturb"])[0]
        if not len(w):
            continue
        same_until(eb["qpos"], ep["qpos"], w[0], key)
        lo, hi = w[0] - 5, min(w[-1] + 31, len(eb["qvel"]), len(ep["qvel"]))
        rows.append({"w": w, "t": (np.arange(lo, hi) - w[0] + 1) * dt,
                     "dv": ep["qvel"][lo:hi, :3] - eb["qvel"][lo:hi, :3],
                     "push": ep["push"][lo:hi, 0, :3], "qf": ep["qfrc_applied"][lo:hi, :, :3],
                     "end": w[-1] - lo})
    if not rows:
        sys.exit("pulse_response: no pulse")
    f = rows[0]["push"][rows[0]["end"]]
    imp = f * len(rows[0]["w"]) * dt
    print("%s: %d pushes, each against the same episode unpushed" % (spec, len(rows)))
    print("push (N)  %s; impulse %s N s" % (np.round(f, 3), np.round(imp, 4)))
    inside = np.concatenate([r["qf"][5:5 + len(r["w"])].reshape(-1, 3) for r in rows])
    outside = np.concatenate([np.delete(r["qf"], range(5, 5 + len(r["w"])), 0).reshape(-1, 3)
                              for r in rows])
    print("qfrc_applied on the free joint's x y z dofs: in the window %s .. %s, outside: max |.| %g" % (
        np.round(inside.min(0), 6), np.round(inside.max(0), 6), np.abs(outside).max()))
    dv = np.array([r["dv"][r["end"]] for r in rows])
    dv30 = np.array([r["dv"][-1] for r in rows if len(r["dv"]) == 5 + len(r["w"]) + 30])
    print("root velocity change at the pulse's end (m/s): x %+.3f +- %.3f  y %+.3f +- %.3f  "
          "z %+.3f +- %.3f" % tuple(v for k in range(3) for v in (dv[:, k].mean(), dv[:, k].std())))
    if len(dv30):
        print("... and 0.3 s after the pulse's start: x %+.3f  y %+.3f  z %+.3f (m/s, mean)" %
              tuple(dv30.mean(0)))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for i, r in enumerate(rows):
        t = 1e3 * r["t"]
        lab = i == 0
        ax[0].step(t, r["push"][:, 1], where="pre", color="k", lw=1, label="push f_y" if lab else None)
        ax[0].plot(t, r["qf"][:, 0, 1], "o", ms=2.5, color="tab:orange",
                   label="qfrc_applied, root y dof (1st physics step)" if lab else None)
        ax[1].plot(t, r["dv"][:, 1], color="tab:red", lw=0.7, alpha=0.6,
                   label="each episode" if lab else None)
    n = min(len(r["t"]) for r in rows)
    ax[1].plot(1e3 * rows[0]["t"][:n], np.mean([r["dv"][:n, 1] for r in rows], 0), color="k", lw=2,
               label="mean")
    ax[1].axhline(imp[1] / float(a.mass), color="0.4", ls="--", lw=1,
                  label="impulse / body mass (free body)") if a.mass else None
    for x in ax:
        x.axvspan(0, 1e3 * len(rows[0]["w"]) * dt, color="0.9", zorder=0)
    ax[0].set_ylabel("force (N)")
    ax[0].legend(fontsize=8, loc="upper right")
    ax[1].set_ylabel("root velocity y, pushed - unpushed (m/s)")
    ax[1].set_xlabel("time from push onset (ms)")
    ax[1].legend(fontsize=8, loc="upper right")
    fig.suptitle("%s\n%d episodes of a random policy, each against itself unpushed" % (spec, len(rows)),
                 fontsize=9)
    fig.tight_layout()
    save(fig, a.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("pulsed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--targets", default="0,4", help="targets (conditions) drawn")
    ap.add_argument("--mass", help="free body: the body's mass (kg), for impulse / mass")
    a = ap.parse_args()
    pairs = []
    with Dataset(a.base) as db, Dataset(a.pulsed) as dp:
        labels = {c.name: c.labels for c in dp.channels}
        if "cursor_x" not in labels.get("task_vars", []):
            return free_body(a, db, dp)
        dt = float(dp.meta["control_dt"])
        spec = dp.meta.get("perturb.0", "")
        params = dict(kv.split("=", 1) for kv in dp.meta.get("task.params", "").split() if "=" in kv)
        radius = float(params.get("target_radius", 0.02))  # the task's default
        kb, kp = by_env(db), by_env(dp)
        for key in sorted(set(kb) & set(kp)):
            b, p = trial(db, kb[key]), trial(dp, kp[key])
            if p["catch"] or not len(p["pulse"]):
                continue
            s = p["pulse"][0]
            same_until(b["qpos"], p["qpos"], s, key)
            n = min(len(b["perp"]), len(p["perp"]))
            dev = p["perp"][s:n] - b["perp"][s:n]
            k = int(np.argmax(np.abs(dev)))
            peak = abs(dev[k])
            back = np.nonzero(np.abs(dev[k:]) <= peak / 2)[0]
            rec = (k + back[0] + 1) * dt if len(back) else np.nan
            tt = [x["first"].get("target_reached") for x in (b, p)]
            pairs.append({"cond": p["cond"], "b": b, "p": p, "s": s, "dev": dev, "peak": peak,
                          "signed": dev[k], "rec": rec, "final": abs(dev[-1]),
                          "tt": [np.nan if t is None else (t - s + 1) * dt for t in tt]})
    if not pairs:
        sys.exit("pulse_response: no pulsed trial")
    print("%s: %d pulsed trials, each against the same trial unperturbed" % (spec, len(pairs)))
    print("target  trials  success base/pulsed  peak dev (mm)  halfway (ms)  final |dev| (mm)  "
          "to target base/pulsed (ms)")

    def row(name, ps):
        sb = 100 * np.mean([x["b"]["success"] for x in ps])
        sp = 100 * np.mean([x["p"]["success"] for x in ps])
        pk = 1e3 * np.array([x["signed"] for x in ps])
        rc = 1e3 * np.array([x["rec"] for x in ps])
        fi = 1e3 * np.array([x["final"] for x in ps])
        tb = 1e3 * np.array([x["tt"][0] for x in ps])
        tp = 1e3 * np.array([x["tt"][1] for x in ps])
        print("%6s  %6d  %6.1f%% / %5.1f%%  %+6.1f +- %4.1f  %4.0f +- %3.0f  %8.1f  %16.0f / %4.0f" % (
            name, len(ps), sb, sp, pk.mean(), pk.std(), np.nanmean(rc), np.nanstd(rc),
            fi.mean(), np.nanmean(tb), np.nanmean(tp)))
    for c in sorted({x["cond"] for x in pairs}):
        row(str(c), [x for x in pairs if x["cond"] == c])
    row("all", pairs)
    absd = 1e3 * np.array([x["peak"] for x in pairs])
    print("peak |dev| over all targets: %.1f +- %.1f mm; never back to half the peak: %d trials" % (
        absd.mean(), absd.std(), int(np.sum(np.isnan([x["rec"] for x in pairs])))))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    show = [int(c) for c in a.targets.split(",")]
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    fig, ax = plt.subplots(2, 1, figsize=(8, 7.5), gridspec_kw={"height_ratios": [1, 1.15]})
    for x in pairs:
        if x["cond"] not in show:
            continue
        col = colors[show.index(x["cond"]) % len(colors)]
        hb, hp = 100 * x["b"]["hand"], 100 * x["p"]["hand"]
        ax[0].plot(*hb.T, color="0.55", lw=0.7, alpha=0.6)
        ax[0].plot(*hp.T, color=col, lw=0.7, alpha=0.6)
        w = x["p"]["pulse"]
        ax[0].plot(*hp[w[0] - 1:w[-1] + 1].T, color="k", lw=1.6)
        t = (np.arange(len(x["dev"])) + 1) * dt * 1e3
        ax[1].plot(t, 1e3 * x["dev"], color=col, lw=0.7, alpha=0.6)
    for c in sorted({x["cond"] for x in pairs}):  # the target zones
        x = next(x for x in pairs if x["cond"] == c)
        ax[0].add_patch(plt.Circle(100 * x["p"]["target"], 100 * radius, fill=False, color="0.3",
                                   lw=0.8))
    ends = np.concatenate([100 * x["p"]["hand"] for x in pairs if x["cond"] in show])
    ax[0].set_xlim(ends[:, 0].min() - 3, ends[:, 0].max() + 3)
    ax[0].set_ylim(ends[:, 1].min() - 3, ends[:, 1].max() + 3)
    ax[0].set_aspect("equal")
    ax[0].set_xlabel("x from start (cm)")
    ax[0].set_ylabel("y from start (cm)")
    ax[0].set_title("hand paths to targets %s: unperturbed grey, pulsed in colour (black: while "
                    "the pulse acts); circles: target zones" % a.targets, fontsize=9)
    dur = max(len(x["p"]["pulse"]) for x in pairs) * dt * 1e3
    ax[1].axvspan(0, dur, color="0.88", zorder=0, label="pulse")
    ax[1].axhline(0, color="k", lw=0.5)
    ax[1].set_xlim(0, 1e3 * dt * max(len(x["dev"]) for x in pairs if x["cond"] in show) + 10)
    ax[1].set_xlabel("time from pulse onset (ms)")
    ax[1].set_ylabel("deviation from its twin (mm, + left)")
    ax[1].set_title(", ".join("target %d %s" % (c, colors[i].split(":")[1]) for i, c in enumerate(show)),
                    fontsize=9)
    fig.suptitle(spec, fontsize=9)
    fig.tight_layout()
    save(fig, a.out)


if __name__ == "__main__":
    main()
