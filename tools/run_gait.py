#!/usr/bin/python3
"""run_gait.py: how a recorded rat moves on `run` (or any rat task): speed, posture, falls.

    tools/animat record runs/rat-run --episodes 20 --deterministic --out rat.rollout
    python3 tools/run_gait.py rat.rollout [--skip 1.0]

Per episode and overall: duration, whether it ended in a fall (terminated), forward distance,
mean forward speed over the steps (root x velocity, qvel[0]), forward speed over the full episode
time (distance / the task's episode_time: a fall counts as standing still for the rest), the
torso's up-axis z (1 upright, 0 on its side, -1 on its back; from the root quaternion
qpos[3:7]), the share of steps with the torso within 30 / 60 deg of vertical, and the root height.
--skip S leaves out each episode's first S seconds from the posture figures (the start).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from animat_dataset import Dataset  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--skip", type=float, default=0.0, help="seconds left out of posture figures")
    a = ap.parse_args(argv)
    ds = Dataset(a.dataset)
    dt = float(ds.meta.get("control_dt", "0.02"))
    max_steps = ds.meta.get("task.max_steps")
    rows = []
    for i in range(len(ds.episodes)):
        qpos = ds.read(i, "qpos")
        qvel = ds.read(i, "qvel")
        n = len(qpos)
        try:
            term = int(ds.read(i, "terminated")[-1]) != 0
        except Exception:  # noqa: BLE001  (datasets without the channel)
            term = False
        q = qpos[:, 3:7]
        upz = 1 - 2 * (q[:, 1] ** 2 + q[:, 2] ** 2)
        s = min(int(round(a.skip / dt)), n - 1)
        rows.append(dict(steps=n, fall=term, dist=qpos[-1, 0] - qpos[0, 0],
                         vx=float(np.mean(qvel[:, 0])), upz=float(np.mean(upz[s:])),
                         up30=float(np.mean(upz[s:] > np.cos(np.pi / 6))),
                         up60=float(np.mean(upz[s:] > 0.5)), z=float(np.mean(qpos[s:, 2]))))
    T = (int(max_steps) if max_steps else max(r["steps"] for r in rows)) * dt
    print(f"{a.dataset}: {len(rows)} episodes, control dt {dt:g} s, episode time {T:g} s")
    print(" ep  time(s) fall  dist(m)  vx(m/s)  dist/T  up-z  <30deg  <60deg  root z(m)")
    for k, r in enumerate(rows):
        print(f"{k:3d}  {r['steps'] * dt:7.2f} {'yes' if r['fall'] else ' no'}  {r['dist']:7.3f}"
              f"  {r['vx']:7.3f}  {r['dist'] / T:6.3f}  {r['upz']:5.2f}  {r['up30']:6.2f}"
              f"  {r['up60']:6.2f}  {r['z']:9.4f}")
    steps = np.array([r["steps"] for r in rows], float)
    w = steps / steps.sum()

    def avg(key):
        return float(np.sum(w * np.array([r[key] for r in rows])))
    dist = np.array([r["dist"] for r in rows])
    print(f"all: falls {sum(r['fall'] for r in rows)}/{len(rows)}, mean time {steps.mean() * dt:.2f} s,"
          f" mean speed over steps {avg('vx'):.3f} m/s, distance / episode time"
          f" {np.mean(dist) / T:.3f} m/s (sd {np.std(dist / T):.3f}),"
          f" up-axis z {avg('upz'):.2f}, within 30 deg {avg('up30'):.2f}, within 60 deg"
          f" {avg('up60'):.2f}, root z {avg('z'):.4f} m")


if __name__ == "__main__":
    main(sys.argv[1:])
