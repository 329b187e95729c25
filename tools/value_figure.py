# value_figure.py: P(choose B) against log(qB/qA) of several `animat analyze psychometric --by
# log_ratio --chosen b_side` outputs, one per relative value rho, with each logistic fit and the
# set indifference point log(rho) (docs/tasks.md, value-choice and value-reach):
#   /usr/bin/python3 tools/value_figure.py OUT.png "TITLE" RHO:DIR [RHO:DIR ...]
import csv, json, math, sys, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
if len(sys.argv) < 4:
    sys.exit('usage: value_figure.py OUT.png TITLE RHO:DIR [RHO:DIR ...]')
fig, ax = plt.subplots(figsize=(5.6, 3.8))
for k, arg in enumerate(sys.argv[3:]):
    rho, d = arg.split(':', 1)
    rows = list(csv.DictReader(open(f'{d}/psychometric.csv')))
    fit = json.load(open(f'{d}/psychometric.json'))
    xs = [float(r['log_ratio']) for r in rows]
    ys = [float(r['p_right']) for r in rows]
    es = [float(r['sem']) for r in rows]
    col = f'C{k}'
    ax.errorbar(xs, ys, yerr=es, color=col, marker='o', ls='none',
                label=f'rho {rho}: fitted indifference {math.exp(fit["bias"]):.2f}')
    b, s, l = fit['bias'], fit['slope'], fit['lapse']
    fx = [min(xs) + (max(xs) - min(xs)) * i / 400 for i in range(401)]
    fy = [l / 2 + (1 - l) / (1 + math.exp(max(-50, min(50, -(x - b) / s)))) for x in fx]
    ax.plot(fx, fy, color=col, lw=1.2)
    ax.axvline(math.log(float(rho)), color=col, ls='--', lw=0.8)
ax.axhline(0.5, color='0.7', lw=0.8)
ax.set_xlabel('log(qB / qA)  (dashed: log rho, the set indifference point)')
ax.set_ylabel('P(choose B)')
ax.set_ylim(-0.02, 1.02)
ax.set_title(sys.argv[2], fontsize=10)
ax.legend(fontsize=8, loc='upper left')
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=90)
