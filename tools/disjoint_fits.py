#!/usr/bin/env python3
"""Fits one study on two disjoint sets of its episodes and reports, per parameter, how far apart
the two fits are in units of their stds (docs/calibration.md, "Fits on disjoint subsets").

    python3 tools/disjoint_fits.py examples/xl330/calibrate.json trajectory=sin_sin,lift_and_drop \\
        -o out/disjoint [--bin build/tools/nextbatch]

Set A is the episodes whose log header (or recorded scenario) field has one of the listed values,
set B the others. Each set is fitted with the study's own settings (a copy of the study with
calibration.episodes naming the set, paths made absolute), through `nextbatch ingest` and
`nextbatch calibrate`. z = (a - b) / sqrt(sa^2 + sb^2) with the honest stds and with the formal
ones: if the honest stds describe how much a fit moves with its data, |z| is about standard normal
(|z| > 2 about one time in twenty).
"""
import argparse
import json
import math
import os
import subprocess
import sys


def header_value(path, key, episode):
    if key in episode.get("scenario", {}):
        return str(episode["scenario"][key])
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or key not in doc:
        sys.exit(f"{path}: no field '{key}' to split on")
    return str(doc[key])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("study")
    ap.add_argument("split", help="key=value1,value2: set A; every other episode is set B")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--bin", default="build/tools/nextbatch")
    ap.add_argument("-j", "--threads", default="2")
    args = ap.parse_args()
    key, _, values = args.split.partition("=")
    chosen = set(values.split(","))
    if not key or not values:
        sys.exit(f"split: expected key=value1,value2, got '{args.split}'")
    with open(args.study) as f:
        study = json.load(f)
    base = os.path.dirname(os.path.abspath(args.study))
    study["model"] = os.path.join(base, study["model"])
    for e in study["dataset"]["episodes"]:
        e["path"] = os.path.normpath(os.path.join(base, e["path"]))
    if "replay" in study and "references" in study["replay"]:
        study["replay"]["references"] = os.path.join(base, study["replay"]["references"])
    sets = {"A": [], "B": []}
    for e in study["dataset"]["episodes"]:
        sets["A" if header_value(e["path"], key, e) in chosen else "B"].append(e["id"])
    if not sets["A"] or not sets["B"]:
        sys.exit(f"split {args.split}: one set is empty (A {len(sets['A'])}, B {len(sets['B'])})")
    os.makedirs(args.out, exist_ok=True)
    fits = {}
    for name, ids in sets.items():
        variant = json.loads(json.dumps(study))
        variant.setdefault("calibration", {})["episodes"] = ids
        path = os.path.join(args.out, f"study_{name}.json")
        with open(path, "w") as f:
            json.dump(variant, f, indent=1)
        out = os.path.join(args.out, f"out_{name}")
        for verb in ("ingest", "calibrate"):
            cmd = [args.bin, verb, path, "-o", out, "-q"] + (["-j", args.threads] if verb == "calibrate" else [])
            print(f"set {name} ({len(ids)} episodes): {' '.join(cmd)}", file=sys.stderr)
            subprocess.run(cmd, check=True)
        with open(os.path.join(out, "calibrate", "calibration.json")) as f:
            fits[name] = json.load(f)
    a, b = fits["A"], fits["B"]
    print(f"set A: {key} in {sorted(chosen)} ({len(sets['A'])} episodes, {a['status']}); "
          f"set B: the other {len(sets['B'])} ({b['status']})")
    print("| parameter | fit A | fit B | z (honest stds) | z (formal stds) |")
    print("|---|---|---|---|---|")
    for pa, pb in zip(a["parameters"], b["parameters"]):
        diff = pa["value"] - pb["value"]
        def z(field):
            s = math.hypot(pa.get(field) or 0.0, pb.get(field) or 0.0)
            return f"{diff / s:.2f}" if s > 0 else "-"
        bound = " (at a bound)" if pa.get("at_bound") or pb.get("at_bound") else ""
        print(f"| {pa['name']}{bound} | {pa['value']:.4g} ± {pa.get('honest_std', float('nan')):.2g} "
              f"| {pb['value']:.4g} ± {pb.get('honest_std', float('nan')):.2g} | {z('honest_std')} "
              f"| {z('std')} |")


if __name__ == "__main__":
    main()
