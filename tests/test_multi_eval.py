#!/usr/bin/python3
"""test_multi_eval.py: tools/multi_eval.py on planted rat-multi trial tables: the members read from
the event columns in order, each measure counted by hand, incomplete episodes left out, the Wilson
interval against a known value, a two-member composite, and tables without the columns or with a
task_id past the members refused naming the file."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import multi_eval as me  # noqa: E402

MEMBERS = {"run-gaps": ["gap_crossed", "fall"], "escape-bowl": ["escaped", "fall"],
           "forage-maze": ["target_collected", "all_collected"],
           "two-tap": ["touch_first", "touch_second", "too_soon"]}


def table(members, rows):
    """rows: (task_id, complete, forward_speed, {"MEMBER.EVENT": (count, first time)})."""
    cols = ["episode", "env", "trial", "duration", "complete", "success", "outcome", "task_id",
            "forward_speed"]
    for m in members:
        for e in MEMBERS[m]:
            cols += [f"t_{m}.{e}", f"step_{m}.{e}", f"n_{m}.{e}"]
    cols += ["t_success", "step_success", "n_success"]
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    f.write(",".join(cols) + "\n")
    for i, (tid, complete, speed, ev) in enumerate(rows):
        vals = {"episode": i, "env": i, "trial": 0, "duration": 5, "complete": complete,
                "success": 0, "outcome": "x", "task_id": tid, "forward_speed": speed,
                "n_success": 0, "t_success": "", "step_success": ""}
        for m in members:
            for e in MEMBERS[m]:
                n, t = ev.get(f"{m}.{e}", (0, None))
                vals[f"n_{m}.{e}"] = n
                vals[f"t_{m}.{e}"] = "" if t is None else t
                vals[f"step_{m}.{e}"] = "" if t is None else int(t * 100)
        f.write(",".join(str(vals[c]) for c in cols) + "\n")
    f.close()
    return f.name


def test_four_members():
    rows = [
        (0, 1, 0.5, {"run-gaps.gap_crossed": (2, 1.0)}),
        (0, 1, 0.3, {"run-gaps.gap_crossed": (1, 1.2), "run-gaps.fall": (1, 3.0)}),
        (0, 1, 0.1, {"run-gaps.fall": (1, 0.5)}),
        (0, 0, 9.0, {"run-gaps.gap_crossed": (9, 0.1)}),  # incomplete: left out
        (1, 1, 0.0, {"escape-bowl.escaped": (1, 4.0)}),
        (1, 1, 0.0, {"escape-bowl.escaped": (1, 8.0)}),
        (1, 1, 0.0, {}),
        (1, 1, 0.0, {"escape-bowl.escaped": (1, 6.0)}),
        (2, 1, 0.0, {"forage-maze.target_collected": (3, 2.0)}),
        (2, 1, 0.0, {"forage-maze.target_collected": (1, 9.0)}),
        (3, 1, 0.0, {"two-tap.touch_first": (4, 1.0), "two-tap.touch_second": (1, 1.8),
                     "two-tap.too_soon": (2, 1.2)}),
        (3, 1, 0.0, {"two-tap.touch_first": (2, 3.0), "two-tap.touch_second": (1, 3.8)}),
    ]
    members, by = me.load(table(list(MEMBERS), rows))
    assert members == list(MEMBERS), members
    s = {x["member"]: x for x in me.summary(members, by)}
    g = s["run-gaps"]
    assert g["episodes"] == 3
    assert abs(g["gaps_per_episode"][0] - 1.0) < 1e-12
    assert g["without_fall"][:2] == (1, 3)
    assert abs(g["forward_speed"][0] - 0.3) < 1e-12
    assert abs(g["forward_speed"][1] - 0.2 / 3 ** 0.5) < 1e-12  # sd 0.2 over 3
    b = s["escape-bowl"]
    assert b["escaped"][:2] == (3, 4) and b["median_escape_s"] == 6.0
    assert s["forage-maze"]["targets_per_episode"][0] == 2.0
    t = s["two-tap"]
    assert t["in_window"][:2] == (2, 6) and t["too_soon"] == 2
    assert t["first_per_episode"][0] == 3.0


def test_wilson():
    lo, hi = me.wilson(5, 10)
    assert abs(lo - 0.2366) < 1e-4 and abs(hi - 0.7634) < 1e-4, (lo, hi)
    lo, hi = me.wilson(0, 25)
    assert lo == 0.0 and abs(hi - 0.1332) < 1e-4, hi


def test_two_members():
    rows = [(0, 1, 0.0, {"forage-maze.target_collected": (2, 1.0)}),
            (1, 1, 0.0, {"two-tap.touch_first": (1, 1.0)})]
    members, by = me.load(table(["forage-maze", "two-tap"], rows))
    assert members == ["forage-maze", "two-tap"]
    s = me.summary(members, by)
    assert [x["member"] for x in s] == members
    assert s[0]["targets_per_episode"][0] == 2.0 and s[1]["in_window"][:2] == (0, 1)


def test_refused():
    bad = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    bad.write("episode,duration\n0,1\n")
    bad.close()
    try:
        me.load(bad.name)
        raise AssertionError("a table without task_id was read")
    except ValueError as e:
        assert bad.name in str(e) and "task_id" in str(e), e
    path = table(["forage-maze"], [(3, 1, 0.0, {})])
    try:
        me.load(path)
        raise AssertionError("task_id past the members was read")
    except ValueError as e:
        assert path in str(e) and "task_id 3" in str(e) and "line 2" in str(e), e
    assert me.main([bad.name]) == 1


if __name__ == "__main__":
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print(name, "ok")
