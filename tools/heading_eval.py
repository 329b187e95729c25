# heading_eval.py: how well a rat follows heading commands (task run with heading_time > 0,
# docs/tasks.md and docs/rodent.md), from a recording:
#   /usr/bin/python3 tools/heading_eval.py FILE.rollout [--png OUT.png]
# A command period is a run of steps with the same `command` variable. Per period: the turn asked
# (the command relative to the torso's heading at the first step), the turn made (the heading's
# change from the first step to the last, unwrapped) and the heading error |heading - command| over the
# period's second half. Printed: episodes and falls, mean velocity along the command and planar
# speed, mean error, the share of periods whose second-half error stays under 20 deg, and the
# turn gain (least-squares slope of turn made on turn asked, over periods asking at most 120 deg,
# where the way round is not in doubt: 1 follows, 0 keeps going straight).
# With --png: a few episodes' paths with their commands, and the error against time in a period.
import argparse, math, os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from animat_dataset import Dataset


def wrap(a):
    return np.arctan2(np.sin(a), np.cos(a))


def yaw_of(qpos):  # the torso's (root's) forward axis in the plane, from its quaternion
    w, x, y, z = qpos[:, 3], qpos[:, 4], qpos[:, 5], qpos[:, 6]
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def measure(eps):
    """Per whole command period of episodes eps (a list of (yaw, cmd) arrays per step, rad): the
    turn asked, the turn made (unwrapped), the error over the second half and its time course;
    and the turn gain over the periods asking at most 120 deg."""
    segs = []
    for e, (yaw, cmd) in enumerate(eps):
        cuts = [0] + [t for t in range(1, len(cmd)) if cmd[t] != cmd[t - 1]] + [len(cmd)]
        segs.extend(zip(cuts[:-1], cuts[1:], [e] * (len(cuts) - 1)))
    # whole periods only: an episode's end cuts its last one short
    full = max(b - a for a, b, _ in segs)
    asked, made, err2, curve = [], [], [], []
    for a, b, e in segs:
        if b - a >= 0.9 * full:
            yaw, cmd = eps[e]
            err = np.abs(wrap(yaw[a:b] - cmd[a]))
            asked.append(wrap(cmd[a] - yaw[a]))
            made.append(np.sum(wrap(np.diff(yaw[a:b]))))
            err2.append(err[(b - a) // 2:].mean())
            curve.append(err)
    asked, made, err2 = np.array(asked), np.array(made), np.array(err2)
    # the gain over turns asked within +-120 deg: nearer 180 either way round reaches the command
    # (a rat asked 170 deg that turns 190 deg the other way follows it)
    sel = np.abs(asked) <= math.radians(120)
    gain = float(np.dot(asked[sel], made[sel]) / np.dot(asked[sel], asked[sel]))
    return dict(asked=asked, made=made, err2=err2, curve=curve, gain=gain, full=full)


def main():
    ap = argparse.ArgumentParser(description='How well a rat follows heading commands (docs/rodent.md).')
    ap.add_argument('rollout', help='a recording of the task run with heading_time > 0')
    ap.add_argument('--png', help="also plot a few episodes' paths and the error against time")
    a = ap.parse_args()
    try:
        return report(a.rollout, a.png)
    except ValueError as e:  # DatasetError is one
        print('heading_eval.py: %s' % e, file=sys.stderr)
        return 1


def report(path, png):
    with Dataset(path) as ds:
        names = {c.name: c for c in ds.channels}
        for need in ('time', 'task_vars', 'events', 'qpos', 'qvel'):
            if need not in names:
                raise ValueError('%s: no channel %s (record task run with the default channels)' % (path, need))
        labels = names['task_vars'].labels
        if 'command' not in labels:
            raise ValueError('%s: no task variable "command" (record task run with heading_time > 0)' % path)
        ic, iv = labels.index('command'), labels.index('v_command')
        ev_fall = 1 << names['events'].labels.index('fall')
        dt = None
        falls, v_cmd, speed, paths, eps = 0, [], [], [], []
        n_ep = len(ds.episodes)
        if n_ep == 0:
            raise ValueError('%s: no episodes' % path)
        for e in range(n_ep):
            ep = ds.episode(e)
            if len(ep['time']) < 2:
                raise ValueError('%s: episode %d has %d rows (a command period needs more)' % (path, e, len(ep['time'])))
            if dt is None:
                dt = float(ep['time'][1] - ep['time'][0])
            tv, qpos, qvel = ep['task_vars'], ep['qpos'], ep['qvel']
            falls += int(np.any(ep['events'].astype(np.int64) & ev_fall))
            v_cmd.append(tv[:, iv])
            speed.append(np.hypot(qvel[:, 0], qvel[:, 1]))
            yaw, cmd = yaw_of(qpos), tv[:, ic]
            cuts = [0] + [t for t in range(1, len(cmd)) if cmd[t] != cmd[t - 1]] + [len(cmd)]
            eps.append((yaw, cmd))
            if len(paths) < 6:
                paths.append((qpos[:, 0], qpos[:, 1], cmd, cuts))
    m = measure(eps)
    asked, gain, err2, curve, full = m['asked'], m['gain'], m['err2'], m['curve'], m['full']
    print('%s: %d episodes, %d with a fall; %d whole command periods of %.2f s' %
          (path, n_ep, falls, len(asked), full * dt))
    print('velocity along the command %.3f m/s (planar speed %.3f m/s)' %
          (np.concatenate(v_cmd).mean(), np.concatenate(speed).mean()))
    print('turn asked |%.1f| deg on average; turn gain %.2f (1: follows, 0: straight on)' %
          (np.degrees(np.abs(asked).mean()), gain))
    print('heading error over each period\'s second half %.1f deg (median %.1f); periods under 20 '
          'deg %.2f' % (np.degrees(err2.mean()), np.degrees(np.median(err2)), np.mean(err2 < math.radians(20))))
    if png:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
        for k, (x, y, cmd, cuts) in enumerate(paths):
            a1.plot(x, y, color='C%d' % k, lw=1)
            for a in cuts[:-1]:
                a1.annotate('', xy=(x[a] + 0.5 * math.cos(cmd[a]), y[a] + 0.5 * math.sin(cmd[a])),
                            xytext=(x[a], y[a]), arrowprops=dict(arrowstyle='->', color='C%d' % k, lw=0.8))
        a1.set_aspect('equal', adjustable='datalim')
        a1.set_xlabel('x (m)')
        a1.set_ylabel('y (m)')
        a1.set_title('paths and commands (arrows, 0.5 m) of %d episodes' % len(paths), fontsize=9)
        n = min(len(c) for c in curve)
        m = np.degrees(np.mean([c[:n] for c in curve], axis=0))
        a2.plot(np.arange(n) * dt, m, color='k')
        a2.set_xlabel('time since the command (s)')
        a2.set_ylabel('|heading - command| (deg), mean')
        a2.set_ylim(0, max(10, m.max() * 1.1))
        a2.set_title('turn gain %.2f, second-half error %.1f deg' % (gain, np.degrees(err2.mean())), fontsize=9)
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        print('wrote %s' % png)
    return 0


if __name__ == '__main__':
    sys.exit(main())
