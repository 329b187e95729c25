#!/usr/bin/python3
"""test_water_latency.py: tools/water_latency.py on planted trial tables: a memory (search 1 slow,
later ones fast) is found with the planted difference inside the interval and a small p; the same
distribution in every search gives a large p; the after-a-find split counted by hand; incomplete
trials left out; a table without the columns refused naming the file."""
import io
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import water_latency as wl  # noqa: E402

HEAD = "episode,env,trial,search,duration,complete,success,outcome\n"


def table(rows):
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    f.write(HEAD)
    for ep, k, dur, ok, complete in rows:
        f.write(f"{ep},0,{k - 1},{k},{dur},{complete},{1 if ok else 0},x\n")
    f.close()
    return f.name


def planted(n_ep, first, later, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for ep in range(n_ep):
        for k in range(1, 5):
            mu = first if k == 1 else later
            dur = min(10.0, max(0.5, rng.normal(mu, 1.5)))
            rows.append((ep, k, round(dur, 3), dur < 10, 1))
    return rows


def test_memory():
    path = table(planted(200, 8.0, 5.0, 1))
    by = wl.load(path)
    a = [v[1][0] for v in by.values()]
    b = [v[2][0] for v in by.values()]
    m1, m2, d, lo, hi, p = wl.paired(a, b, np.random.default_rng(1))
    assert abs(d - (np.mean(a) - np.mean(b))) < 1e-9
    assert lo < 3.0 < hi and lo > 2.0, (lo, hi)
    assert p < 1e-3, p
    out = io.StringIO()
    wl.report(by, out=out)
    text = out.getvalue()
    assert "search 1: 200 trials" in text and "episodes with all 4 searches: 200" in text, text
    assert "permutation p < 5e-05" in text, text
    os.unlink(path)


def test_no_memory():
    path = table(planted(200, 6.0, 6.0, 2))
    by = wl.load(path)
    a = [v[1][0] for v in by.values()]
    b = [v[2][0] for v in by.values()]
    *_, lo, hi, p = wl.paired(a, b, np.random.default_rng(1))
    assert lo < 0 < hi and p > 0.05, (lo, hi, p)
    # under the null the test's p is about uniform: over 200 null tables about 5 % fall below 0.05
    rng = np.random.default_rng(3)
    small = 0
    for _ in range(200):
        x, y = rng.normal(6, 1.5, 40), rng.normal(6, 1.5, 40)
        small += wl.paired(x, y, rng, n=2000)[-1] < 0.05
    assert 2 <= small <= 22, small
    os.unlink(path)


def test_after_find_and_incomplete():
    rows = [(0, 1, 10, False, 1), (0, 2, 3, True, 1), (0, 3, 2, True, 1), (0, 4, 10, False, 1),
            (1, 1, 4, True, 1), (1, 2, 10, False, 1), (1, 3, 5, True, 0),   # incomplete: left out
            (2, 1, 10, False, 1), (2, 2, 10, False, 1)]
    by = wl.load(table(rows))
    assert 3 not in by[1]
    af = wl.after_find(by)
    # after a find: ep 0 searches 3, 4 (found, missed); ep 1 search 2 (missed) -> 3, 1/3
    # after misses only: ep 0 search 2 (found), ep 2 search 2 (missed) -> 2, 1/2
    assert af[True][0] == 3 and abs(af[True][1] - 1 / 3) < 1e-12, af
    assert af[False][0] == 2 and abs(af[False][1] - 0.5) < 1e-12, af


def test_bad_table():
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    f.write("a,b\n1,2\n")
    f.close()
    try:
        wl.load(f.name)
    except ValueError as e:
        assert f.name in str(e) and "search" in str(e), e
    else:
        raise AssertionError("accepted a table without the columns")
    bad = table([(0, 1, "x", True, 1)])
    try:
        wl.load(bad)
    except ValueError as e:
        assert "line 2" in str(e), e
    else:
        raise AssertionError("accepted a duration 'x'")


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
