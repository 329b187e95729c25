# mante_figure.py: docs/img/mante-psychometric.png from four `animat analyze psychometric` runs
# on a mante-reach recording (docs/tasks.md, mante-reach), run in the directory holding them:
#   for c in 0 1; do for x in motion colour; do animat analyze psychometric mante-eval.rollout \
#       --by $x --where context=$c --out mante-psy-c$c-$x; done; done
#   /usr/bin/python3 tools/mante_figure.py mante-psychometric.png
import csv, sys, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
fig, axs = plt.subplots(1, 2, figsize=(8, 3.4), sharey=True)
for ax, ctx, name in [(axs[0], 0, 'motion context'), (axs[1], 1, 'colour context')]:
    for x, col in [('motion', 'C0'), ('colour', 'C3')]:
        rows = list(csv.DictReader(open(f'mante-psy-c{ctx}-{x}/psychometric.csv')))
        xs = [float(r[x]) for r in rows]; ys = [float(r['p_right']) for r in rows]
        es = [float(r['sem']) for r in rows]
        rel = (x == 'motion') == (ctx == 0)
        ax.errorbar(xs, ys, yerr=es, color=col, marker='o' if rel else 's', ls='-' if rel else '--',
                    label=f'vs {x} ({"relevant" if rel else "irrelevant"})')
    ax.axhline(0.5, color='0.7', lw=0.8); ax.set_title(name); ax.set_xlabel('signed coherence')
    ax.set_ylim(0, 1); ax.legend(fontsize=8, loc='upper left')
axs[0].set_ylabel('P(right)')
fig.suptitle('mante-reach, 2000 fresh trials (deterministic policy)')
fig.tight_layout(); fig.savefig(sys.argv[1], dpi=90)
