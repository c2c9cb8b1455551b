#!/usr/bin/env python3
"""Checks the JSON Schemas in docs/formats against what nextbatch reads and writes: the example
studies, and the dataset.json, episode files and manifest.json that `nextbatch ingest` writes for
them.

usage: check_schemas.py NEXTBATCH_BINARY SOURCE_DIR
Exits 77 (skipped) when the Python package jsonschema is not installed."""
import glob
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("skipped: the Python package jsonschema is not installed")
    sys.exit(77)


def main():
    binary, source = sys.argv[1], sys.argv[2]
    formats = os.path.join(source, "docs", "formats")
    validator = jsonschema.Draft202012Validator
    schemas = {}
    for name in ("study", "episode", "dataset", "manifest"):
        with open(os.path.join(formats, name + ".schema.json")) as f:
            schemas[name] = json.load(f)
        validator.check_schema(schemas[name])
    checked = 0
    # every shipped study file (plan, calibrate, campaign studies beside study.json) against the
    # study schema; the ones named study.json are also ingested
    for path in sorted(glob.glob(os.path.join(source, "examples", "*", "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("schema") != "nextbatch.study/1":
            continue
        try:
            jsonschema.validate(doc, schemas["study"], cls=validator)
        except jsonschema.ValidationError as e:
            sys.exit(f"{path}: {e.message} (at {'/'.join(str(p) for p in e.absolute_path)})")
        checked += 1
    for study in sorted(glob.glob(os.path.join(source, "examples", "*", "study.json"))):
        with open(study) as f:
            if "dataset" not in json.load(f):
                continue
        with tempfile.TemporaryDirectory() as out:
            run = subprocess.run([binary, "ingest", study, "-o", out, "-q"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{study}: nextbatch ingest exited {run.returncode}: {run.stderr.strip()}")
                continue  # e.g. the shared real data is absent; the C++ tests cover exit codes
            with open(os.path.join(out, "ingest", "dataset.json")) as f:
                jsonschema.validate(json.load(f), schemas["dataset"], cls=validator)
            with open(os.path.join(out, "ingest", "manifest.json")) as f:
                jsonschema.validate(json.load(f), schemas["manifest"], cls=validator)
            checked += 1
            for episode in glob.glob(os.path.join(out, "ingest", "episodes", "*.json")):
                with open(episode) as f:
                    jsonschema.validate(json.load(f), schemas["episode"], cls=validator)
                checked += 1
    print(f"{checked} files valid against docs/formats schemas")


if __name__ == "__main__":
    main()
