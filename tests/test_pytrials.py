#!/usr/bin/python3
"""test_pytrials.py ANIMAT: the Python reader's trial table (Dataset.trials, export_meta) against
`animat trials --out trials.csv`: the same rows and values, column by column."""
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import animat_dataset as ad  # noqa: E402


def run(animat, *args):
    r = subprocess.run([animat, *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit("animat %s failed: %s" % (" ".join(args), r.stderr))


def main():
    animat = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        ds_path = os.path.join(d, "r.rollout")
        run(animat, "record", "--random", "--task", "reach-center-out", "--task-param", "trials=3",
            "--episodes", "6", "--envs", "2", "--out", ds_path, "--quiet")
        run(animat, "trials", ds_path, "--out", os.path.join(d, "t.csv"), "--quiet")
        with open(os.path.join(d, "t.csv")) as f:
            rows = list(csv.DictReader(f))
        assert len(rows) >= 6, "a random arm gives at least one trial per episode"
        with ad.Dataset(ds_path) as ds:
            tr = ds.trials(animat=animat)
        run(animat, "export", ds_path, "--out", os.path.join(d, "x"), "--episodes", "0-2")
        meta = ad.export_meta(os.path.join(d, "x"))
        ex = meta["trials"]
        n_ex = sum(1 for r in rows if int(r["episode"]) <= 2)
        assert len(ex["episode"]) == n_ex, (len(ex["episode"]), n_ex)
        for name in rows[0]:
            col = tr[name]
            assert len(col) == len(rows), name
            for i, r in enumerate(rows):
                want = r[name]
                if col.dtype.kind == "U":
                    assert col[i] == want, (name, i, col[i], want)
                elif want == "":
                    assert np.isnan(col[i]), (name, i, col[i])
                else:
                    assert col[i] == float(want), (name, i, col[i], want)
            for i in range(n_ex):
                a, b = ex[name][i], col[i]
                assert a == b or (a != a and b != b), ("export", name, i, a, b)
        assert meta["events"][0] == "trial_start" and "condition" in meta["conditions"]
        # a bad file is a DatasetError naming it
        try:
            ad.trials(os.path.join(d, "none.rollout"), animat=animat)
            raise AssertionError("no error for a missing file")
        except ad.DatasetError as x:
            assert "none.rollout" in str(x)
    print("test_pytrials: %d trials, %d columns agree" % (len(rows), len(rows[0])))


if __name__ == "__main__":
    main()
