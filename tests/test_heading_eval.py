#!/usr/bin/python3
"""test_heading_eval.py: tools/heading_eval.py's measures on planted headings: a rat that makes a
set fraction of each turn asked (gain and residual error known), one that runs straight on (gain
0), one that reaches commands near 180 deg the other way round (still a follower), headings that
cross +-180 deg mid-turn, and an episode's cut-short last period left out; bad files refused
without a traceback."""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import heading_eval as he  # noqa: E402
from pytool_check import check_cli_errors  # noqa: E402

T = 150      # steps per command period (3 s at 20 ms)
TAU = 10.0   # steps: the planted turn's time constant


def episodes(turns, follow, n_ep=6, periods=4, cut=40, seed=0):
    """n_ep episodes of `periods` whole periods and a last one cut after `cut` steps; each command
    is drawn from `turns` (rad, relative to the heading at its start); follow(asked) gives the turn
    the rat makes (reached with time constant TAU)."""
    rng = np.random.default_rng(seed)
    eps = []
    for _ in range(n_ep):
        yaw, cmd, h = [], [], rng.uniform(-math.pi, math.pi)
        for p in range(periods + 1):
            asked = turns[rng.integers(len(turns))]
            c = he.wrap(h + asked)
            made = follow(asked)
            for t in range(T if p < periods else cut):
                yaw.append(he.wrap(h + made * (1 - math.exp(-t / TAU))))
                cmd.append(c)
            h = yaw[-1]
        eps.append((np.array(yaw), np.array(cmd)))
    return eps


def check(name, got, want, tol):
    if abs(got - want) > tol:
        sys.exit("%s: %g, want %g +- %g" % (name, got, want, tol))


def main():
    turns = np.radians([-110, -80, -45, -20, 20, 45, 80, 110])
    # a partial follower: 0.6 of every turn; error in the second half = 0.4 |asked|
    m = he.measure(episodes(turns, lambda a: 0.6 * a))
    check("whole periods", len(m["asked"]), 6 * 4, 0)
    check("full period", m["full"], T, 0)
    check("partial gain", m["gain"], 0.6, 1e-3)
    check("partial error", m["err2"].mean(), 0.4 * np.abs(m["asked"]).mean(), 1e-3)
    # straight on: gain 0, error = the turn asked
    m = he.measure(episodes(turns, lambda a: 0.0))
    check("straight gain", m["gain"], 0.0, 1e-12)
    check("straight error", m["err2"].mean(), np.abs(m["asked"]).mean(), 1e-9)
    # a follower that goes the other way round for commands beyond 150 deg: the gain is fitted on
    # the turns of at most 120 deg (1), and the error is 0 either way
    wide = np.radians([-170, -160, -90, -30, 30, 90, 160, 170])
    other_way = lambda a: a - math.copysign(2 * math.pi, a) if abs(a) > math.radians(150) else a
    m = he.measure(episodes(wide, other_way, n_ep=10))
    assert np.any(np.abs(m["asked"]) > math.radians(150)), "no command beyond 150 deg drawn"
    check("other-way gain", m["gain"], 1.0, 1e-3)
    check("other-way error", m["err2"].mean(), 0.0, 1e-3)
    # the heading's wrap at +-180 deg is not seen: the same follower turned by 3 rad throughout,
    # so that its turns cross +-180 deg
    shift = lambda a: he.wrap(a + 3.0)
    m = he.measure([(shift(y), shift(c)) for y, c in episodes(turns, lambda a: 0.6 * a)])
    check("wrapped gain", m["gain"], 0.6, 1e-3)
    check_cli_errors("heading_eval.py")
    print("heading_eval: planted gains 0.6, 0, 1 (other way round) recovered")


if __name__ == "__main__":
    main()
