#!/usr/bin/python3
"""test_nwb.py: `animat export FILE --nwb OUT.nwb` against the NWB 2.7.0 core schema and the
recording it came from.

Usage: test_nwb.py ANIMAT   (ctest: test_nwb; needs python3-h5py and an animat built with HDF5,
                            both installed by tools/setup.sh; exits 77, skipped, without them)

Makes three small recordings: a reacher policy trained for 2048 steps with rate RNN modules under
Dale's law (network channels), reach-center-out with a random policy (trial events), and the rat
running with a random policy (a free-moving body: Position). Exports each and checks:
  - structure, from the NWB core schema (nwb.file.yaml, nwb.base.yaml, nwb.behavior.yaml,
    nwb.epoch.yaml) and hdmf-common (table.yaml): the root's attributes and required datasets
    and groups; every typed object's neurodata_type, namespace and a unique version-4 object_id;
    each TimeSeries' data with its unit (and conversion, offset, resolution as float32), and
    exactly one time base (starting_time with rate and unit "seconds", or timestamps as long as
    data); SpatialSeries of 1 to 3 columns; ProcessingModules with a description and only typed
    members; BehavioralTimeSeries, BehavioralEvents and Position holding the series types the
    schema allows; DynamicTables (and TimeIntervals) with colnames, description, an id of
    ElementIdentifiers and VectorData columns of one length, each with a description; the
    series' data chunked and gzip-compressed;
  - with python3-hdmf (when installed): hdmf's own validator on every DynamicTable against the
    hdmf-common schema it ships (with a planted error, to show it catches one);
  - values: every exported channel equals the episodes of the .rollout (tools/animat_dataset.py)
    laid end to end, bit for bit; the time bases and the epochs table (ids, envs, steps, rows,
    start and stop times, ends, initial states) match; the trials table holds the rows and values
    of `animat trials` (the trial table), its times on the file's timeline; the units table has
    one row per unit with round(0.8 H) excitatory units first; body positions by forward kinematics agree
    with the fingertip position the reacher task records, and the rat's root position with its
    qpos;
  - errors: --nwb with --out, an existing output without --force (kept as it was), a missing or
    damaged input (nothing left behind), --force replacing an earlier file; the same export twice
    gives the same ids.
"""
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FAILS = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)
    return cond


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def iso(s):
    return datetime.datetime.fromisoformat(text(s).replace("Z", "+00:00"))


# ---------------------------------- structure (NWB core 2.7.0) -----------------------------------

def check_structure(f, h5py, np, name):
    a = f.attrs
    check(text(a.get("neurodata_type")) == "NWBFile" and text(a.get("namespace")) == "core",
          "%s: root is NWBFile in core" % name)
    check(text(a.get("nwb_version")) == "2.7.0", "%s: nwb_version 2.7.0" % name)
    for d in ("identifier", "session_description", "session_start_time",
              "timestamps_reference_time"):
        check(d in f and f[d].shape == () and isinstance(text(f[d][()]), str),
              "%s: required text dataset /%s" % (name, d))
    fcd = f.get("file_create_date")
    check(fcd is not None and fcd.ndim == 1 and len(fcd) >= 1, "%s: file_create_date 1-D" % name)
    for s in [fcd[0], f["session_start_time"][()], f["timestamps_reference_time"][()]]:
        check(iso(s).tzinfo is not None, "%s: ISO 8601 time with a zone: %r" % (name, s))
    for g in ("acquisition", "analysis", "general", "processing", "stimulus/presentation",
              "stimulus/templates"):
        check(isinstance(f.get(g), h5py.Group), "%s: required group /%s" % (name, g))
    ids = {}
    typed = {}

    def visit(path, o):
        t = o.attrs.get("neurodata_type")
        if t is None:
            return
        t = text(t)
        typed[path] = t
        ns = text(o.attrs.get("namespace"))
        hdmf = t in ("DynamicTable", "VectorData", "ElementIdentifiers")
        want = "hdmf-common" if hdmf else "core"
        check(ns == want, "%s: %s %s has namespace %s, not %s" % (name, path, t, ns, want))
        oid = text(o.attrs.get("object_id", ""))
        check(UUID4.match(oid) is not None, "%s: %s object_id %r is a UUID4" % (name, path, oid))
        check(oid not in ids, "%s: object_id of %s repeats %s" % (name, path, ids.get(oid)))
        ids[oid] = path

    visit("/", f)
    f.visititems(visit)
    for path, t in typed.items():
        o = f[path]
        if t in ("TimeSeries", "SpatialSeries"):
            check_series(o, path, t, h5py, np, name)
        elif t == "ProcessingModule":
            check(isinstance(text(o.attrs.get("description")), str),
                  "%s: %s ProcessingModule description" % (name, path))
            for k, c in o.items():
                check("neurodata_type" in c.attrs, "%s: %s/%s is typed" % (name, path, k))
        elif t in ("BehavioralTimeSeries", "BehavioralEvents", "Position"):
            want = ("SpatialSeries",) if t == "Position" else ("TimeSeries", "SpatialSeries")
            check(len(o) >= (1 if t == "Position" else 0), "%s: %s has members" % (name, path))
            for k, c in o.items():
                check(text(c.attrs.get("neurodata_type")) in want,
                      "%s: %s/%s is one of %s" % (name, path, k, want))
        elif t in ("DynamicTable", "TimeIntervals"):
            check_table(o, path, t, h5py, name)
        elif t == "Subject":
            check(path == "general/subject", "%s: Subject at /general/subject" % name)
    for k, c in f["stimulus/presentation"].items():
        check(text(c.attrs.get("neurodata_type")) == "TimeSeries",
              "%s: stimulus/presentation/%s is a TimeSeries" % (name, k))
    return typed


def check_series(o, path, t, h5py, np, name):
    d = o.get("data")
    if not check(isinstance(d, h5py.Dataset), "%s: %s has data" % (name, path)):
        return
    unit = d.attrs.get("unit")
    check(unit is not None and text(unit) != "", "%s: %s/data has a unit" % (name, path))
    for k in ("conversion", "offset", "resolution"):
        if k in d.attrs:
            check(d.attrs[k].dtype == np.float32, "%s: %s/data %s is float32" % (name, path, k))
    check(1 <= d.ndim <= 4, "%s: %s/data has 1 to 4 dims" % (name, path))
    check(d.compression == "gzip" and d.chunks is not None,
          "%s: %s/data is chunked and gzip-compressed" % (name, path))
    st, ts = o.get("starting_time"), o.get("timestamps")
    check((st is None) != (ts is None), "%s: %s has starting_time or timestamps" % (name, path))
    if st is not None:
        check(st.shape == () and st.dtype == np.float64, "%s: %s starting_time f64" % (name, path))
        r = st.attrs.get("rate")
        check(r is not None and r.dtype == np.float32 and r > 0, "%s: %s rate" % (name, path))
        check(text(st.attrs.get("unit")) == "seconds", "%s: %s starting_time unit" % (name, path))
    if ts is not None:
        check(ts.ndim == 1 and len(ts) == d.shape[0], "%s: %s timestamps length" % (name, path))
        check(text(ts.attrs.get("unit")) == "seconds" and ts.attrs.get("interval") == 1,
              "%s: %s timestamps attributes" % (name, path))
    if t == "SpatialSeries":
        check(d.ndim == 1 or (d.ndim == 2 and 1 <= d.shape[1] <= 3),
              "%s: %s SpatialSeries data (T,) or (T, 1..3)" % (name, path))


def check_table(o, path, t, h5py, name):
    cols = [text(c) for c in o.attrs.get("colnames", [])]
    check(len(cols) > 0 and isinstance(text(o.attrs.get("description")), str),
          "%s: %s colnames and description" % (name, path))
    idd = o.get("id")
    if not check(isinstance(idd, h5py.Dataset) and idd.ndim == 1 and idd.dtype.kind == "i" and
                 text(idd.attrs.get("neurodata_type")) == "ElementIdentifiers",
                 "%s: %s id (ElementIdentifiers, int)" % (name, path)):
        return
    for c in cols:
        d = o.get(c)
        if check(isinstance(d, h5py.Dataset), "%s: %s column %s" % (name, path, c)):
            check(text(d.attrs.get("neurodata_type")) == "VectorData" and "description" in d.attrs,
                  "%s: %s/%s VectorData with a description" % (name, path, c))
            check(d.shape[0] == len(idd), "%s: %s/%s has one value per row" % (name, path, c))
    for k, d in o.items():
        if text(d.attrs.get("neurodata_type")) == "VectorData":
            check(k in cols, "%s: %s/%s listed in colnames" % (name, path, k))
    if t == "TimeIntervals":
        check(cols[:2] == ["start_time", "stop_time"], "%s: %s start/stop columns" % (name, path))
        check(o["start_time"].dtype.kind == "f" and (o["stop_time"][:] >= o["start_time"][:]).all(),
              "%s: %s stop_time >= start_time" % (name, path))


def hdmf_validate(path, typed, name):
    """hdmf's validator on every DynamicTable-based table (against the hdmf-common schema it
    ships): True when it ran."""
    try:
        from hdmf.backends.hdf5 import HDF5IO
        from hdmf.build import GroupBuilder
        from hdmf.common import get_manager, get_type_map
        from hdmf.validate import ValidatorMap
    except ImportError:
        return False
    vm = ValidatorMap(get_type_map().namespace_catalog.get_namespace("hdmf-common"))
    with HDF5IO(path, mode="r", manager=get_manager()) as io:
        root = io.read_builder()

        def retag(b):  # NWB names the type attribute neurodata_type; hdmf's own files data_type
            if b.attributes.get("namespace") == "hdmf-common":
                b.attributes["data_type"] = b.attributes["neurodata_type"]
            if isinstance(b, GroupBuilder):
                for c in list(b.groups.values()) + list(b.datasets.values()):
                    retag(c)
        retag(root)
        tables = [p for p, t in typed.items() if t in ("DynamicTable", "TimeIntervals")]
        for p in tables:
            b = root
            for part in p.strip("/").split("/"):
                b = b[part]
            b.attributes["data_type"] = "DynamicTable"  # TimeIntervals is a core DynamicTable
            errs = vm.validate(b)
            check(errs == [], "%s: hdmf validates %s: %s" % (name, p, errs))
        if tables:  # a planted error: the validator must see it
            b.attributes.pop("colnames")
            check(vm.validate(b) != [], "%s: hdmf catches a table without colnames" % name)
    return True


# ---------------------------------- values --------------------------------------------------------

def series_path(ch):
    n = ch.name.replace("/", "_")
    if ch.group == "body":
        return "processing/behavior/BehavioralTimeSeries/" + n
    if ch.group == "obs":
        return "stimulus/presentation/" + n
    if ch.group == "network":
        return "processing/network/" + n
    if ch.name == "events":
        return "processing/task/BehavioralEvents/events"
    return "processing/task/BehavioralTimeSeries/" + ("episode_" if ch.group == "time" else "") + n


def check_trials(f, animat, rollout, csv_path, np, name):
    """intervals/trials against the trial table of `animat trials FILE --out trials.csv`: the
    same rows and values; times moved onto the file's timeline (the episode's start in it)."""
    import csv
    p = run([animat, "trials", rollout, "--out", csv_path, "--quiet"])
    if not check(p.returncode == 0, "%s: animat trials: %s" % (name, p.stderr)):
        return
    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    tr = f["intervals/trials"]
    if not check(len(rows) == len(tr["id"]) and len(rows) > 0,
                 "%s: %d trials, as animat trials (%d)" % (name, len(tr["id"]), len(rows))):
        return
    ep = f["intervals/epochs"]
    t0 = dict(zip(ep["id"][:], ep["start_time"][:]))
    start = np.array([t0[int(r["episode"])] + float(r["start_time"]) for r in rows])
    num = lambda v: float(v) if v != "" else np.nan  # noqa: E731
    same = lambda a, b: np.allclose(a, b, rtol=1e-8, atol=1e-9, equal_nan=True)  # noqa: E731
    check(same(tr["start_time"][:], start), "%s: trial start times" % name)
    check(same(tr["stop_time"][:], start + [float(r["duration"]) for r in rows]),
          "%s: trial stop times" % name)
    for col in ("episode", "env", "trial", "first_step", "last_step", "complete", "success"):
        check(list(tr[col][:]) == [int(r[col]) for r in rows], "%s: trials %s" % (name, col))
    check([text(x) for x in tr["outcome"][:]] == [r["outcome"] for r in rows],
          "%s: trial outcomes" % name)
    cols = [text(c) for c in tr.attrs["colnames"]]
    n_ev = 0
    for key in rows[0]:
        if key.startswith("t_"):  # event: its time on the timeline, and its count
            ev = key[2:]
            n_ev += 1
            check(same(tr[ev + "_time"][:], start + [num(r[key]) for r in rows]),
                  "%s: trials %s_time" % (name, ev))
            check(list(tr[ev + "_count"][:]) == [int(r["n_" + ev]) for r in rows],
                  "%s: trials %s_count" % (name, ev))
        elif key not in ("start_time", "duration", "outcome") and not key.startswith(("step_",
                                                                                       "n_")):
            check(key in cols and same(tr[key][:], [num(r[key]) for r in rows]),
                  "%s: trials %s" % (name, key))
    check(n_ev == sum(c.endswith("_count") for c in cols), "%s: every event" % name)


def check_values(f, ds, np, name):
    dt = float(ds.meta["control_dt"])
    n = len(ds.episodes)
    eps = [ds.episode(i, init=True) for i in range(n)]
    steps = [len(e["step"]) for e in eps]
    for ch in ds.channels:
        p = series_path(ch)
        if not check(p in f, "%s: channel %s exported as %s" % (name, ch.name, p)):
            continue
        want = np.concatenate([e[ch.name] for e in eps])
        got = f[p + "/data"][()]
        check(got.dtype == want.dtype and got.shape == want.shape and
              got.tobytes() == want.tobytes(), "%s: %s equals the .rollout bit for bit" % (name, p))
        t0 = 0.0 if ch.group in ("obs", "action", "network") else dt
        if "starting_time" in f[p]:
            st = f[p + "/starting_time"]
            check(st[()] == t0 and abs(1.0 / float(st.attrs["rate"]) - dt) < 1e-12,
                  "%s: %s time base (starting_time %r, rate %r)" % (name, p, st[()],
                                                                    st.attrs["rate"]))
        else:  # a rate that float32 cannot hold exactly: timestamps
            ts = f[p + "/timestamps"][()]
            check(np.allclose(ts, t0 + np.arange(len(want)) * dt, rtol=0, atol=1e-12),
                  "%s: %s timestamps" % (name, p))
    ep = f["intervals/epochs"]
    check(list(ep["id"][:]) == [e.id for e in ds.episodes], "%s: epoch ids" % name)
    check(list(ep["env"][:]) == [e.env for e in ds.episodes], "%s: epoch envs" % name)
    check(list(ep["steps"][:]) == steps, "%s: epoch steps" % name)
    rows = np.concatenate([[0], np.cumsum(steps)])
    check(list(ep["first_row"][:]) == list(rows[:-1]), "%s: epoch first rows" % name)
    check(np.allclose(ep["start_time"][:], rows[:-1] * dt, rtol=0, atol=1e-9) and
          np.allclose(ep["stop_time"][:], rows[1:] * dt, rtol=0, atol=1e-9),
          "%s: episodes laid end to end" % name)
    ends = ["terminated" if e.terminated else "truncated" if e.complete else "incomplete"
            for e in ds.episodes]
    check([text(x) for x in ep["end"][:]] == ends, "%s: epoch ends" % name)
    check(np.array_equal(ep["initial_state"][()], np.stack([e["__init__"] for e in eps])),
          "%s: initial states" % name)
    return eps


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    animat = os.path.abspath(argv[1])
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        print("test_nwb: skipped: %s (apt install python3-h5py python3-numpy, or tools/setup.sh)"
              % e)
        return 77
    p = run([animat, "export", "/nonexistent.rollout", "--nwb", "/nonexistent.nwb"])
    if "built without HDF5" in p.stderr:
        print("test_nwb: skipped: animat was built without HDF5 (apt install libhdf5-dev, rebuild)")
        return 77
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from animat_dataset import Dataset
    tmp = tempfile.mkdtemp(prefix="test_nwb.")
    try:
        j = lambda *a: os.path.join(tmp, *a)  # noqa: E731
        # 1. a policy with rate RNN modules under Dale's law: network channels and units
        p = run([animat, "train", "--task", "reacher", "--set", "core=rnn", "--set", "motor=rnn",
                 "--set", "dale=1", "--set", "core_hidden=16", "--set", "motor_hidden=8",
                 "--set", "total_steps=512", "--set", "num_envs=4", "--set", "minibatches=2",
                 "--set", "horizon=64", "--threads", "1", "--out", j("run")])
        assert p.returncode == 0, p.stdout + p.stderr
        p = run([animat, "record", j("run"), "--episodes", "3", "--envs", "2", "--threads", "1",
                 "--task-param", "episode_steps=30", "--quiet", "--out", j("r.rollout")])
        assert p.returncode == 0, p.stdout + p.stderr
        p = run([animat, "export", j("r.rollout"), "--nwb", j("r.nwb")])
        check(p.returncode == 0 and "exported 3 episodes (90 steps" in p.stdout,
              "reacher export: %s %s" % (p.stdout, p.stderr))
        check(oct(os.stat(j("r.nwb")).st_mode & 0o777) != "0o600", "r.nwb is not private")
        ds = Dataset(j("r.rollout"))
        with h5py.File(j("r.nwb"), "r") as f:
            typed = check_structure(f, h5py, np, "reacher")
            eps = check_values(f, ds, np, "reacher")
            check_trials(f, animat, j("r.rollout"), j("r.csv"), np, "reacher")
            u = f["processing/network/network_units"]
            mods = [text(x) for x in u["module"][:]]
            ei = [text(x) for x in u["ei"][:]]
            check(mods == ["core"] * 16 + ["motor"] * 8, "units: modules and sizes")
            check(list(u["index"][:]) == list(range(16)) + list(range(8)), "units: indices")
            check(ei == ["E"] * 13 + ["I"] * 3 + ["E"] * 6 + ["I"] * 2,
                  "units: E/I by Dale's law, round(0.8 H) excitatory first: %s" % ei)
            check(f["processing/network/core_state/data"].shape == (90, 16), "core_state shape")
            # forward kinematics: the reacher is a planar two-link arm whose joint angles are
            # qpos[0] and qpos[1]; link1 and the fingertip must sit at fixed distances along them
            names = text(f["processing/behavior/BehavioralTimeSeries/body_xpos"].attrs["comments"])
            names = names.split(",")
            xp = f["processing/behavior/BehavioralTimeSeries/body_xpos/data"][()]
            q = np.concatenate([e["qpos"] for e in eps])
            p1, p2 = xp[:, names.index("link1"), :2], xp[:, names.index("fingertip"), :2]
            d = p2 - p1
            ang = lambda v: np.angle(np.exp(1j * v))  # noqa: E731 (wrapped to (-pi, pi])
            check(np.allclose(ang(np.arctan2(p1[:, 1], p1[:, 0]) - q[:, 0]), 0, atol=1e-9) and
                  np.allclose(ang(np.arctan2(d[:, 1], d[:, 0]) - q[:, 0] - q[:, 1]), 0, atol=1e-9)
                  and np.ptp(np.hypot(*p1.T)) < 1e-12 and np.ptp(np.hypot(*d.T)) < 1e-12,
                  "body_xpos: the links' positions follow the recorded joint angles")
            # ... and near what the task recorded (its fingertip is the centre of mass, xipos, as
            # MuJoCo computed it before the last physics step's integration: within 2 mm)
            tv = np.concatenate([e["task_vars"] for e in eps])
            labels = ds.channels[ds.by_name["task_vars"]].labels
            fx = tv[:, [labels.index("fingertip_x"), labels.index("fingertip_y")]]
            check(np.abs(p2 - fx).max() < 2e-3, "body_xpos fingertip near task_vars fingertip")
            check(text(f["processing/behavior/BehavioralTimeSeries/qpos"].attrs["comments"]) ==
                  "joint0,joint1,target_x,target_y", "qpos entries named by the model's joints")
            for key in ("task.name", "policy.hash", "policy.config", "model.xml"):
                check(text(f["general/animat/" + key][()]) == ds.meta[key],
                      "metadata %s in general/animat" % key)
            mjb = ds.meta["model.mjb"]  # binary: bytes (text that is UTF-8 would be str)
            mjb = mjb if isinstance(mjb, bytes) else mjb.encode("utf-8", "surrogateescape")
            check(f["general/animat/model.mjb"].dtype == np.uint8 and
                  f["general/animat/model.mjb"][()].tobytes() == mjb, "model.mjb kept as bytes")
            ident = text(f["identifier"][()])
            oid = text(f.attrs["object_id"])
        if not hdmf_validate(j("r.nwb"), typed, "reacher"):
            print("test_nwb: note: python3-hdmf not installed: hdmf's validator not run")
        # the same export again: the same identifier and ids (only file_create_date may differ)
        p = run([animat, "export", j("r.rollout"), "--nwb", j("r2.nwb")])
        with h5py.File(j("r2.nwb"), "r") as f:
            check(text(f["identifier"][()]) == ident and text(f.attrs["object_id"]) == oid,
                  "the same export gives the same identifier and object ids")

        # 2. trials: reach-center-out, random policy
        p = run([animat, "record", "--random", "--task", "reach-center-out", "--episodes", "4",
                 "--envs", "2", "--threads", "1", "--quiet", "--out", j("rc.rollout")])
        assert p.returncode == 0, p.stdout + p.stderr
        p = run([animat, "export", j("rc.rollout"), "--nwb", j("rc.nwb")])
        check(p.returncode == 0, "reach-center-out export: %s %s" % (p.stdout, p.stderr))
        ds = rc = Dataset(j("rc.rollout"))
        with h5py.File(j("rc.nwb"), "r") as f:
            typed = check_structure(f, h5py, np, "reach-center-out")
            check_values(f, ds, np, "reach-center-out")
            check_trials(f, animat, j("rc.rollout"), j("rc.csv"), np, "reach-center-out")
            tr = f["intervals/trials"]
            go = tr["go_cue_time"][:]
            check(all(np.isnan(g) or s <= g <= e for g, s, e in
                      zip(go, tr["start_time"][:], tr["stop_time"][:])),
                  "trial event times fall inside their trial")
            check("processing/network" not in f, "a random policy has no network module")
        hdmf_validate(j("rc.nwb"), typed, "reach-center-out")

        # 3. the rat: a free-moving body, Position/<root>
        p = run([animat, "record", "--random", "--task", "run", "--task-param", "episode_time=0.2",
                 "--episodes", "2", "--envs", "2", "--threads", "1", "--quiet", "--out",
                 j("rat.rollout")])
        assert p.returncode == 0, p.stdout + p.stderr
        p = run([animat, "export", j("rat.rollout"), "--nwb", j("rat.nwb"), "--channels",
                 "qpos,events,action"])
        check(p.returncode == 0, "rat export: %s %s" % (p.stdout, p.stderr))
        ds = Dataset(j("rat.rollout"))
        with h5py.File(j("rat.nwb"), "r") as f:
            check_structure(f, h5py, np, "rat")
            check_trials(f, animat, j("rat.rollout"), j("rat.csv"), np, "rat")
            pos = f["processing/behavior/Position"]
            check(list(pos) == ["torso"], "rat: Position/torso: %s" % list(pos))
            q = np.concatenate([ds.episode(i, ["qpos"])["qpos"] for i in range(len(ds.episodes))])
            check(np.array_equal(pos["torso/data"][()], q[:, :3]), "rat: root position = qpos[:3]")
            check(text(f["processing/behavior/BehavioralTimeSeries/qpos"].attrs["comments"])
                  .startswith("root_x,root_y,root_z,root_qw"), "rat: free joint coordinates named")
            check("stimulus/presentation/obs_proprioception" not in f and
                  "processing/task/BehavioralTimeSeries/action" in f, "rat: --channels selects")

        # 4. a control period whose rate float32 cannot hold (1 / 0.03 s): timestamps
        p = run([animat, "record", "--random", "--task", "body:reacher", "--task-param",
                 "frame_skip=3", "--task-param", "episode_steps=7", "--episodes", "2", "--envs",
                 "1", "--quiet", "--out", j("b3.rollout")])
        assert p.returncode == 0, p.stdout + p.stderr
        p = run([animat, "export", j("b3.rollout"), "--nwb", j("b3.nwb")])
        check(p.returncode == 0, "body:reacher export: %s %s" % (p.stdout, p.stderr))
        with h5py.File(j("b3.nwb"), "r") as f:
            check_structure(f, h5py, np, "body:reacher")
            check("timestamps" in f["processing/behavior/BehavioralTimeSeries/qpos"],
                  "body:reacher: timestamps, not a rate")
            check_values(f, Dataset(j("b3.rollout")), np, "body:reacher")

        # 5. errors
        p = run([animat, "export", j("r.rollout"), "--nwb", j("x.nwb"), "--out", j("x")])
        check(p.returncode == 2 and "--nwb writes one file: give it without --out" in p.stderr,
              "--nwb with --out refused: %s" % p.stderr)
        before = open(j("r2.nwb"), "rb").read()
        p = run([animat, "export", j("rc.rollout"), "--nwb", j("r2.nwb")])
        check(p.returncode == 1 and "already exists: choose another --nwb path, or replace it with "
              "--force" in p.stderr, "an existing output refused: %s" % p.stderr)
        check(open(j("r2.nwb"), "rb").read() == before, "the refused output is untouched")
        p = run([animat, "export", j("rc.rollout"), "--nwb", j("r2.nwb"), "--force"])
        with h5py.File(j("r2.nwb"), "r") as f:
            check(p.returncode == 0 and "intervals/trials" in f, "--force replaces the file")
        os.mkdir(j("adir"))
        p = run([animat, "export", j("rc.rollout"), "--nwb", j("adir"), "--force"])
        check(p.returncode == 1 and "is not a file: not replacing it" in p.stderr,
              "a directory is not replaced: %s" % p.stderr)
        p = run([animat, "export", j("nope.rollout"), "--nwb", j("n.nwb")])
        check(p.returncode == 1 and "cannot open" in p.stderr and not os.path.exists(j("n.nwb")),
              "a missing input: %s" % p.stderr)
        # a damaged chunk: refused and nothing left behind; --allow-damaged exports the rest
        data = bytearray(open(j("rc.rollout"), "rb").read())
        off = ds_chunk_offset(Dataset(j("rc.rollout")), 1)
        data[off + 100] ^= 0x40
        open(j("bad.rollout"), "wb").write(data)
        p = run([animat, "export", j("bad.rollout"), "--nwb", j("bad.nwb")])
        check(p.returncode == 1 and "checksum mismatch" in p.stderr and "nothing exported" in
              p.stderr, "a damaged input refused: %s" % p.stderr)
        left = [x for x in os.listdir(tmp) if x.startswith("bad.nwb")]
        check(left == [], "nothing left behind by a failed export: %s" % left)
        p = run([animat, "export", j("bad.rollout"), "--nwb", j("bad.nwb"), "--allow-damaged"])
        check(p.returncode == 0 and "exported 3 episodes" in p.stdout and "lost: episode 1" in
              p.stderr, "--allow-damaged exports the readable episodes: %s %s"
              % (p.stdout, p.stderr))
        with h5py.File(j("bad.nwb"), "r") as f:
            check(list(f["intervals/epochs/id"][:]) == [0, 2, 3], "the lost episode is left out")
            st = [e.steps for e in rc.episodes]
            check(list(f["intervals/epochs/first_row"][:]) == [0, st[0], st[0] + st[2]] and
                  f["processing/behavior/BehavioralTimeSeries/qpos/data"].shape[0] ==
                  st[0] + st[2] + st[3], "the others laid end to end without a gap")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("test_nwb: %d of %d checks failed" % (len(FAILS), CHECKS[0]))
        return 1
    print("test_nwb: all %d checks passed" % CHECKS[0])
    return 0


def ds_chunk_offset(ds, episode_index):
    """File offset of the first chunk of an episode (from the reader's chunk list)."""
    return ds.episodes[episode_index].chunks[0].offset


if __name__ == "__main__":
    sys.exit(main(sys.argv))
