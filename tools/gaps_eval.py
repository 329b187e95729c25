# gaps_eval.py: how a rat fares on run-gaps' corridor (docs/tasks.md, docs/rodent.md), from a
# recording of the task run-gaps:
#   /usr/bin/python3 tools/gaps_eval.py FILE.rollout [FILE.rollout ...] [--png OUT.png]
#   /usr/bin/python3 tools/gaps_eval.py --each RUN/recordings/step-*.rollout   # a line per file
# The corridor of each episode is read from the platforms' mocap bodies in its first row (platform
# j is the pair of 0.4 m boxes 2j, 2j+1; parked pairs lie deep below). A gap is reached when the
# torso (the root) comes within REACH m of its near edge, crossed when the torso gets CLEAR m past
# its far edge and the rat does not fall back into it. An episode's fall is charged to the gap
# where the torso ends (from REACH m before its near edge to BACK m past its far edge: the hind
# legs still over it), which then counts as not crossed; failing that, to the first gap it reached
# and did not cross, or to a platform when it crossed every gap it reached. Printed: episodes,
# falls, the mean forward speed (per episode, then over episodes, as `animat trials`), gaps crossed
# per episode, and per gap length bin: gaps reached, the share crossed, the falls charged there,
# and the approach speed (the torso's mean forward speed over the APPROACH s before it reached the
# gap) of the gaps crossed and of those not; then the episodes in which the torso tipped past 90
# deg (its up axis below horizontal: the rat on its side or back, which the published task does not
# count as a fall), when and which way (onto its side, nose first or backwards, relative to its
# heading just before), and the episodes without a fall in which it never did. With --png: the
# share crossed against the gap length. With --each: instead, one line per recording (episodes,
# without a fall, speed, gaps per episode, gaps reached crossed) in the order of its policy's
# training step.
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from animat_dataset import Dataset

REACH = 0.15  # m before a gap's near edge: the head is over it (the torso is ~0.06 m behind the nose)
CLEAR = 0.05  # m past its far edge: the hind legs are across
BACK = 0.1  # m past its far edge within which a torso whose rat fell has its hind legs in the gap
APPROACH = 0.3  # s before reaching a gap over which its approach speed is taken
BINS = [0.0, 0.05, 0.08, 0.11, 0.14, 0.17, 0.2]


def corridor(mocap_row):
    """Gaps [(near edge, far edge), ...] in x order from one row of the platforms' mocap
    positions (n x 3)."""
    mp = np.asarray(mocap_row).reshape(-1, 3)
    starts, ends = [], []
    for k in range(len(mp) // 2):
        if mp[2 * k, 2] > -1:  # placed, not parked
            starts.append(mp[2 * k, 0] - 0.2)
            ends.append(mp[2 * k + 1, 0] + 0.2)
    order = np.argsort(starts)
    starts, ends = np.array(starts)[order], np.array(ends)[order]
    return [(ends[j], starts[j + 1]) for j in range(len(starts) - 1)]


def measure(eps, bins=BINS, dt=0.02):
    """eps: a list of (gaps, x, fell) per episode (gaps as corridor() gives them, x the root's x
    per step of dt s, fell whether it ended in a fall). Per bin of gap length: gaps reached,
    crossed, and falls charged there, and the mean approach speed of the gaps crossed and of those
    not (NaN where none; a gap reached within APPROACH s of the start has none); and the falls
    charged to a platform."""
    nb = len(bins) - 1
    reached, crossed, fell_at = np.zeros(nb, int), np.zeros(nb, int), np.zeros(nb, int)
    speeds = [([], []) for _ in range(nb)]  # per bin: approach speeds of the crossed, the others
    lag = int(round(APPROACH / dt))
    on_platform, per_ep = 0, []
    for gaps, x, fell in eps:
        xmax, charged, n = float(np.max(x)), False, 0
        # the gap the rat fell into: the one the torso ends at
        into = next((i for i, (a, b) in enumerate(gaps) if a - REACH < x[-1] <= b + BACK), None) \
            if fell else None
        for i, (a, b) in enumerate(gaps):
            if xmax <= a - REACH:
                break
            k = min(nb - 1, max(0, int(np.searchsorted(bins, b - a, side='right')) - 1))
            reached[k] += 1
            t = int(np.argmax(x > a - REACH))  # the first step past the reach line
            ok = xmax > b + CLEAR and i != into
            if t >= lag:
                speeds[k][0 if ok else 1].append((x[t] - x[t - lag]) / (lag * dt))
            if ok:
                crossed[k] += 1
                n += 1
            elif fell and not charged:
                fell_at[k] += 1
                charged = True
            if i == into:
                break
        on_platform += int(fell and not charged)
        per_ep.append(n)
    mean = lambda v: float(np.mean(v)) if v else float('nan')  # noqa: E731
    return {'reached': reached, 'crossed': crossed, 'fell_at': fell_at, 'on_platform': on_platform,
            'crossed_per_episode': np.array(per_ep),
            'approach_crossed': np.array([mean(c) for c, _ in speeds]),
            'approach_not': np.array([mean(f) for _, f in speeds])}


def tip_row(quat):
    """The first row in which the torso's up axis points below horizontal, from the root's
    quaternions (w, x, y, z per row); None if it never does."""
    q = np.asarray(quat)
    up_z = 1 - 2 * (q[:, 1] ** 2 + q[:, 2] ** 2)  # the z of the body's z axis in the world
    below = np.nonzero(up_z < 0)[0]
    return int(below[0]) if len(below) else None


def tip_time(quat, dt):
    """tip_row's row as a time (s) at dt s per row; None if the torso never tips."""
    row = tip_row(quat)
    return None if row is None else float(row * dt)


def tip_way(quat, row, before=5):
    """Which way the torso went over at `row` (tip_row's): 'side' when its up axis then points
    more across the heading it had `before` rows earlier than along it, else 'nose' (up axis
    forward: nose first, head down) or 'back'."""
    w, x, y, z = np.asarray(quat[max(row - before, 0)], dtype=float)
    fwd = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + w * z)])  # the body's x axis, level
    fwd /= max(np.linalg.norm(fwd), 1e-12)
    w, x, y, z = np.asarray(quat[row], dtype=float)
    up = np.array([2 * (x * z + w * y), 2 * (y * z - w * x)])  # the body's z axis, level part
    along, across = up @ fwd, up @ np.array([-fwd[1], fwd[0]])
    if abs(across) >= abs(along):
        return 'side'
    return 'nose' if along > 0 else 'back'


def read_episodes(paths):
    """(corridor, root x per row, fell) per episode, mean forward speed per episode, falls, the
    control step, and per episode when and which way the torso tipped past 90 deg ((time, tip_way)
    or None: tip_row), from recordings
    of run-gaps; DatasetError (a ValueError) or ValueError naming the file otherwise."""
    eps, speed, falls, dt, tips = [], [], 0, None, []
    for path in paths:
        with Dataset(path) as ds:
            if ds.meta.get('task.name') != 'run-gaps':
                raise ValueError('%s: task %s, not run-gaps' % (path, ds.meta.get('task.name')))
            names = {c.name: c for c in ds.channels}
            for need in ('mocap_pos', 'qpos', 'qvel', 'events'):
                if need not in names:
                    raise ValueError('%s: no channel %s (record with the default channels)' % (path, need))
            ev_fall = 1 << names['events'].labels.index('fall')
            step = float(ds.meta.get('control_dt', 0.02))
            if dt is not None and step != dt:
                raise ValueError('%s: control_dt %g, not the %g of the files before' % (path, step, dt))
            dt = step
            for e in range(len(ds.episodes)):
                ep = ds.episode(e)
                fell = bool(np.any(ep['events'].astype(np.int64) & ev_fall))
                falls += fell
                eps.append((corridor(ep['mocap_pos'][0]), ep['qpos'][:, 0], fell))
                speed.append(float(np.mean(ep['qvel'][:, 0])))
                quat = ep['qpos'][:, 3:7]
                row = tip_row(quat)
                tips.append(None if row is None else (row * step, tip_way(quat, row)))
    return eps, speed, falls, dt if dt is not None else 0.02, tips


def curve_line(label, eps, speed, falls, dt):
    """One line of the published measures of a recording (--each): episodes, those without a fall,
    the mean forward speed, gaps crossed per episode and the share of the gaps reached crossed."""
    m = measure(eps, dt=dt)
    n, r, c = len(eps), int(m['reached'].sum()), int(m['crossed'].sum())
    return ('%s: %d episodes, %d without a fall, %.3f m/s, %.2f gaps crossed per episode, '
            '%d of %d gaps reached crossed (%s)'
            % (label, n, n - falls, np.mean(speed), m['crossed_per_episode'].mean(), c, r,
               '%.0f %%' % (100.0 * c / r) if r else '-'))


def each(paths):
    """--each: a line per recording, in the order of the policy's training step (policy.step): the
    learning curve of `animat train --record-every` recordings."""
    rows = []
    for path in paths:
        with Dataset(path) as ds:
            step = int(ds.meta.get('policy.step', -1))
        eps, speed, falls, dt, _ = read_episodes([path])
        if not eps:
            raise ValueError('%s: no episodes' % path)
        rows.append((step, curve_line('%s (step %d)' % (path, step), eps, speed, falls, dt)))
    for _, line in sorted(rows, key=lambda r: r[0]):
        print(line)


def main():
    ap = argparse.ArgumentParser(description="How a rat fares on run-gaps' corridor (docs/rodent.md).")
    ap.add_argument('rollout', nargs='+', help='recordings of the task run-gaps')
    ap.add_argument('--png', help='also plot the share of reached gaps crossed by gap length')
    ap.add_argument('--each', action='store_true',
                    help='one line per recording, in order of training step, instead of the pooled '
                    'report (the learning curve of train --record-every)')
    a = ap.parse_args()
    png = a.png
    try:
        if a.each:
            if png:
                raise ValueError('--png is for the pooled report, not --each')
            each(a.rollout)
            return 0
        eps, speed, falls, dt, tips = read_episodes(a.rollout)
    except ValueError as e:  # DatasetError is one
        print('gaps_eval.py: %s' % e, file=sys.stderr)
        return 1
    if not eps:
        print('gaps_eval.py: %s: no episodes' % ', '.join(a.rollout), file=sys.stderr)
        return 1
    m = measure(eps, dt=dt)
    n = len(eps)
    print('%d episodes: %d without a fall (%.0f %%); forward speed %.3f m/s (sd %.3f); '
          'gaps crossed per episode %.2f' % (n, n - falls, 100.0 * (n - falls) / n, np.mean(speed),
                                             np.std(speed), m['crossed_per_episode'].mean()))
    print('falls charged to a gap %d, to a platform %d' % (m['fell_at'].sum(), m['on_platform']))
    print('gap length (m)  reached  crossed  falls there  approach m/s: crossed, not')
    for k in range(len(BINS) - 1):
        r, c = m['reached'][k], m['crossed'][k]
        share = '%5.1f %%' % (100.0 * c / r) if r else '    -  '
        ap = ['%5.2f' % v if v == v else '    -' for v in (m['approach_crossed'][k], m['approach_not'][k])]
        print('  %.2f-%.2f     %5d  %s  %5d        %s  %s' % (BINS[k], BINS[k + 1], r, share,
                                                        m['fell_at'][k], ap[0], ap[1]))
    times = [t[0] for t in tips if t is not None]
    ways = [t[1] for t in tips if t is not None]
    upright = sum(1 for t, (_, _, fell) in zip(tips, eps) if t is None and not fell)
    print('torso tipped past 90 deg in %d episodes%s; without a fall and never tipped: %d'
          % (len(times), ' (median at %.2f s, %.2f-%.2f; onto its side %d, nose first %d, '
             'backwards %d)' % (np.median(times), min(times), max(times), ways.count('side'),
                                ways.count('nose'), ways.count('back')) if times else '', upright))
    if png:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        mids = [(BINS[k] + BINS[k + 1]) / 2 for k in range(len(BINS) - 1)]
        share = [m['crossed'][k] / m['reached'][k] if m['reached'][k] else np.nan
                 for k in range(len(mids))]
        ax.bar(mids, share, width=0.025, color='C0')
        for x, s, r in zip(mids, share, m['reached']):
            if r:
                ax.text(x, s + 0.02, 'n=%d' % r, ha='center', fontsize=8)
        ax.set_ylim(0, 1.1)
        ax.set_xlabel('gap length (m)')
        ax.set_ylabel('share of reached gaps crossed')
        ax.set_title('%d episodes, %d without a fall, %.2f m/s' % (n, n - falls, np.mean(speed)),
                     fontsize=9)
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        print('wrote %s' % png)
    return 0


if __name__ == '__main__':
    sys.exit(main())
