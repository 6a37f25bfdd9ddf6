#!/usr/bin/env python3
"""Checks deploy/: samples against the CRD schemas, the CRDs' own shape, and the kustomization's file list.

The CRD openAPIV3Schema is JSON Schema plus Kubernetes extensions; the extensions are dropped, the CEL rules
(x-kubernetes-validations) that matter for samples are evaluated by hand below. Known-bad documents must
fail, so the check cannot pass vacuously.
"""
import copy
import pathlib
import sys

import jsonschema
import yaml


def strip_extensions(node):
    if isinstance(node, dict):
        return {k: strip_extensions(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [strip_extensions(v) for v in node]
    return node


def apply_defaults(schema, value):
    if not isinstance(value, dict) or schema.get("type") != "object":
        return value
    for name, sub in schema.get("properties", {}).items():
        if name not in value and "default" in sub:
            value[name] = copy.deepcopy(sub["default"])
        if name in value:
            value[name] = apply_defaults(sub, value[name])
    return value


def cel_errors(kind, document, old=None):
    """The CEL rules of deploy/crds, evaluated in Python."""
    errors = []
    if kind == "Torrent":
        spec = document.get("spec", {})
        if spec.get("replicas", 1) < 1:
            errors.append("replicas must be at least 1")
        if old is not None and old.get("spec", {}).get("preheat") is True and spec.get("preheat") is False:
            errors.append("preheat cannot change from true to false")
    return errors


def main(deploy):
    schemas, versions = {}, {}
    for path in sorted((deploy / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        names = crd["spec"]["names"]
        assert crd["spec"]["scope"] == "Cluster", f"{path}: manta.io kinds are cluster-scoped"
        for version in crd["spec"]["versions"]:
            assert "status" in version.get("subresources", {}), f"{path}: status subresource missing"
            columns = [c["name"] for c in version.get("additionalPrinterColumns", [])]
            if names["kind"] == "Torrent":
                assert columns == ["Phase", "Ready", "Age"], f"{path}: printer columns are {columns}"
            schema = strip_extensions(version["schema"]["openAPIV3Schema"])
            jsonschema.Draft7Validator.check_schema(schema)
            schemas[(crd["spec"]["group"] + "/" + version["name"], names["kind"])] = schema
            versions[names["kind"]] = version

    failures = 0
    checked = 0
    for path in sorted(deploy.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or not str(document.get("apiVersion", "")).startswith("manta.io/"):
                continue
            key = (document["apiVersion"], document["kind"])
            if key not in schemas:
                print(f"FAIL {path}: no CRD for {key}")
                failures += 1
                continue
            errors = [e.message for e in jsonschema.Draft7Validator(schemas[key]).iter_errors(document)]
            errors += cel_errors(document["kind"], apply_defaults(schemas[key], copy.deepcopy(document)))
            checked += 1
            for error in errors:
                print(f"FAIL {path}: {error}")
                failures += 1

    torrent = schemas[("manta.io/v1alpha1", "Torrent")]
    good = {"apiVersion": "manta.io/v1alpha1", "kind": "Torrent", "metadata": {"name": "t"}, "spec": {"hub": {"repoID": "a/b"}}}
    bad = {
        "no repoID": {"hub": {"name": "Huggingface"}},
        "bad hub enum": {"hub": {"name": "ModelScope", "repoID": "a/b"}},
        "bad reclaimPolicy": {"hub": {"repoID": "a/b"}, "reclaimPolicy": "Keep"},
        "replicas 0": {"hub": {"repoID": "a/b"}, "replicas": 0},
        "negative ttl": {"hub": {"repoID": "a/b"}, "ttlSecondsAfterReady": -1},
    }
    assert not list(jsonschema.Draft7Validator(torrent).iter_errors(good)), "a minimal Torrent must be valid"
    for what, spec in bad.items():
        document = dict(good, spec=spec)
        if not list(jsonschema.Draft7Validator(torrent).iter_errors(document)) and not cel_errors("Torrent", document):
            print(f"FAIL the Torrent schema accepts a Torrent with {what}")
            failures += 1
    defaulted = apply_defaults(torrent, copy.deepcopy(good))
    expected = {"hub": {"name": "Huggingface", "repoID": "a/b", "revision": "main"}, "preheat": True, "replicas": 1, "reclaimPolicy": "Retain"}
    if defaulted["spec"] != expected:
        print(f"FAIL Torrent defaults give {defaulted['spec']}, want {expected}")
        failures += 1
    rules = [r["rule"] for r in versions["Torrent"]["schema"]["openAPIV3Schema"]["properties"]["spec"].get("x-kubernetes-validations", [])]
    if not any("oldSelf.preheat" in r for r in rules) or not any("replicas" in r for r in rules):
        print(f"FAIL the Torrent CRD lacks the preheat transition or replicas CEL rule: {rules}")
        failures += 1

    kustomization = yaml.safe_load((deploy / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        if not (deploy / resource).exists():
            print(f"FAIL kustomization.yaml lists missing {resource}")
            failures += 1

    print(f"{checked} custom resources checked against the CRD schemas, {len(bad)} invalid Torrents rejected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "deploy")))
