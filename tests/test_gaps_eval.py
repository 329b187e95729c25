#!/usr/bin/python3
"""test_gaps_eval.py: tools/gaps_eval.py on planted corridors: the corridor read back from mocap
rows (parked pairs skipped, pieces out of order), a rat that clears every gap shorter than 0.12 m
and falls into the first longer one, one that falls on a platform, and one that stops short of
the next gap without falling, one that falls back into a gap its torso had passed; approach
speeds of gaps crossed and not; --each's line; the time the torso tips past 90 deg from planted
quaternions; bad files refused without a traceback."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gaps_eval as ge  # noqa: E402
from pytool_check import check_cli_errors  # noqa: E402


def fail(msg):
    sys.exit("test_gaps_eval: " + msg)


def mocap_row(platforms, parked=2):
    """Mocap positions of (start, end) platforms as two 0.4 m boxes each, in reverse order, with
    `parked` pairs deep below."""
    rows = []
    for s, e in reversed(platforms):
        rows += [[s + 0.2, 0, -0.25], [e - 0.2, 0, -0.25]]
    rows += [[0, 0, -50]] * (2 * parked)
    return np.array(rows).ravel()


def main():
    rng = np.random.default_rng(3)
    eps, want_reached, want_crossed, want_fell = [], np.zeros(6, int), np.zeros(6, int), np.zeros(6, int)
    for e in range(40):
        x, plats = 5.5, []
        while x < 40:
            L, g = rng.uniform(0.4, 0.8), rng.uniform(0.05, 0.2)
            plats.append((x, x + L))
            x += L + g
        gaps = ge.corridor(mocap_row(plats))
        if len(gaps) != len(plats) - 1:
            fail("corridor: %d gaps from %d platforms" % (len(gaps), len(plats)))
        for (a, b), p, q in zip(gaps, plats, plats[1:]):
            if abs(a - p[1]) > 1e-9 or abs(b - q[0]) > 1e-9:
                fail("corridor: gap (%g, %g), planted (%g, %g)" % (a, b, p[1], q[0]))
        # the rat clears gaps < 0.12 m and drops into the first longer one, 0.03 m past its edge
        xs, fell = [5.0], False
        for a, b in gaps:
            k = max(i for i in range(6) if ge.BINS[i] <= b - a)  # the bin [lo, hi) holding it
            want_reached[k] += 1
            if b - a < 0.12:
                want_crossed[k] += 1
                xs.append(b + 0.3)
            else:
                want_fell[k] += 1
                xs.append(a + 0.03)
                fell = True
                break
        eps.append((gaps, np.array(xs), fell))
    m = ge.measure(eps)
    for key, want in (("reached", want_reached), ("crossed", want_crossed), ("fell_at", want_fell)):
        if not np.array_equal(m[key], want):
            fail("%s %s, want %s" % (key, m[key], want))
    if m["on_platform"] != 0:
        fail("on_platform %d, want 0" % m["on_platform"])
    # --each's line for those episodes: every one fell, the planted counts
    line = ge.curve_line("x.rollout (step 7)", eps, [0.5] * 40, 40, 0.02)
    want = ("x.rollout (step 7): 40 episodes, 0 without a fall, 0.500 m/s, %.2f gaps crossed per "
            "episode, %d of %d gaps reached crossed (%.0f %%)"
            % (want_crossed.sum() / 40, want_crossed.sum(), want_reached.sum(),
               100.0 * want_crossed.sum() / want_reached.sum()))
    if line != want:
        fail("curve line %r, want %r" % (line, want))
    if not (want_crossed[1:3].all() and want_fell.sum() == 40 and want_crossed[4:].sum() == 0):
        fail("the planted corridors do not span the bins")
    # a fall on a platform (every reached gap crossed), and a rat that stops 0.2 m short of a gap
    gaps = [(6.0, 6.1), (6.7, 6.85)]
    m = ge.measure([(gaps, np.array([5.0, 6.2, 6.4]), True), (gaps, np.array([5.0, 6.3, 6.5]), False)])
    if m["on_platform"] != 1 or m["fell_at"].sum() != 0:
        fail("platform fall: on_platform %d, at gaps %d" % (m["on_platform"], m["fell_at"].sum()))
    if m["reached"].sum() != 2 or m["crossed"].sum() != 2 or list(m["crossed_per_episode"]) != [1, 1]:
        fail("short of a gap: reached %d crossed %d" % (m["reached"].sum(), m["crossed"].sum()))
    # a torso 0.1 m past a gap's far edge whose rat then falls back in: the gap is not crossed,
    # the fall is charged to it; the same path without a fall crosses it
    gaps = [(6.0, 6.1), (6.7, 6.85)]
    back = np.array([5.0, 6.2, 6.15])
    m = ge.measure([(gaps, back, True), (gaps, back, False)])
    if m["crossed"].sum() != 1 or m["fell_at"].sum() != 1 or m["on_platform"] != 0:
        fail("fell back: crossed %d, falls at gaps %d, on platforms %d, want 1, 1, 0"
             % (m["crossed"].sum(), m["fell_at"].sum(), m["on_platform"]))
    # approach speeds: rows of 0.02 s; a 0.15 m gap reached at 1.2 m/s and crossed, and reached
    # at 0.6 m/s and not; a 0.06 m gap reached 0.1 s after the start has no approach speed
    gaps = [(6.0, 6.15)]
    run = lambda v, stop: np.minimum(5.0 + v * 0.02 * np.arange(200), stop)  # noqa: E731
    m = ge.measure([(gaps, run(1.2, 7.0), False), (gaps, run(0.6, 6.0), True),
                    ([(5.2, 5.26)], run(1.0, 5.5), False)])
    k = 4  # 0.14-0.17
    if abs(m["approach_crossed"][k] - 1.2) > 1e-6 or abs(m["approach_not"][k] - 0.6) > 1e-6:
        fail("approach speeds %g, %g, want 1.2, 0.6" % (m["approach_crossed"][k], m["approach_not"][k]))
    if not np.isnan(m["approach_crossed"][1]) or m["crossed"][1] != 1:
        fail("a gap reached at the start: approach %g, crossed %d" % (m["approach_crossed"][1], m["crossed"][1]))
    # tipping: upright for 50 rows of 0.02 s, then rolling about x at 1 deg per row from 1.5 deg
    # (89.5 deg at row 138, 90.5 at row 139) or pitching about y to 80 deg only (never); a heading
    # turn alone is not a tip
    ang = np.radians(np.concatenate([np.zeros(50), np.arange(1, 121) + 0.5]))
    roll = np.stack([np.cos(ang / 2), np.sin(ang / 2), 0 * ang, 0 * ang], axis=1)
    pitch = np.stack([np.cos(np.minimum(ang, np.radians(80)) / 2), 0 * ang,
                      np.sin(np.minimum(ang, np.radians(80)) / 2), 0 * ang], axis=1)
    yaw = np.stack([np.cos(ang), 0 * ang, 0 * ang, np.sin(ang)], axis=1)
    t = ge.tip_time(roll, 0.02)
    if t is None or abs(t - 139 * 0.02) > 1e-9:
        fail("rolled over: tip time %s, want %g" % (t, 139 * 0.02))
    if ge.tip_time(pitch, 0.02) is not None or ge.tip_time(yaw, 0.02) is not None:
        fail("pitched to 80 deg or turned: tipped at %s, %s" % (ge.tip_time(pitch, 0.02), ge.tip_time(yaw, 0.02)))
    # which way: the roll onto its side; pitching about +y past 90 deg (nose down) and about -y
    # (backwards); the same nose-first pitch by a rat heading along +y (about the world's -x)
    over = np.radians(np.concatenate([np.zeros(50), np.linspace(0, 120, 60)]))
    c, s_ = np.cos(over / 2), np.sin(over / 2)
    z0 = 0 * over
    nose = np.stack([c, z0, s_, z0], axis=1)
    back = np.stack([c, z0, -s_, z0], axis=1)
    h = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])  # yaw 90 deg
    pitch_x = np.stack([c, -s_, z0, z0], axis=1)  # about the world's -x: nose (+y) down
    north = np.array([[a[0] * b[0] - a[1:] @ b[1:], *(a[0] * b[1:] + b[0] * a[1:] + np.cross(a[1:], b[1:]))]
                      for a, b in zip(pitch_x, [h] * len(pitch_x))])
    got = []
    for qs in (roll, nose, back, north):
        row = ge.tip_row(qs)
        got.append(None if row is None else ge.tip_way(qs, row))
    if got != ["side", "nose", "back", "nose"]:
        fail("tip ways %s, want side, nose, back, nose" % got)
    check_cli_errors("gaps_eval.py")
    print("test_gaps_eval: ok")


if __name__ == "__main__":
    main()
