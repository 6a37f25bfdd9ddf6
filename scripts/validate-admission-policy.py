#!/usr/bin/env python3
"""Evaluates deploy/admission/agent-own-node.yaml, the ValidatingAdmissionPolicy that holds each agent to its own
node, with a CEL interpreter (cel-python) against admission requests it must admit and requests it must deny, as
the API server would: matchConditions, then variables in order, then every validation.
"""
import pathlib
import sys

import celpy
import yaml

AGENT = "system:serviceaccount:manta-system:manta-agent"
CONTROLLER = "system:serviceaccount:manta-system:manta-controller"


def admission(policy, user, node, operation, resource, name, obj, old=None, subresource=""):
    """The policy's verdict: (allowed, message)."""
    env = celpy.Environment()

    def evaluate(expression, activation):
        return env.program(env.compile(expression)).evaluate(activation)

    extra = {} if node is None else {"authentication.kubernetes.io/node-name": [node]}
    request = {
        "operation": operation, "name": name, "subResource": subresource,
        "resource": {"group": "manta.io", "version": "v1alpha1", "resource": resource},
        "userInfo": {"username": user, "extra": extra},
    }
    activation = {
        "request": celpy.json_to_cel(request),
        "object": celpy.json_to_cel(obj),
        "oldObject": celpy.json_to_cel(old),
    }
    for condition in policy["spec"].get("matchConditions", []):
        if not evaluate(condition["expression"], activation):
            return True, "not matched"
    variables = celpy.celtypes.MapType()
    for variable in policy["spec"].get("variables", []):
        activation["variables"] = variables
        variables[celpy.celtypes.StringType(variable["name"])] = evaluate(variable["expression"], activation)
    activation["variables"] = variables
    for validation in policy["spec"]["validations"]:
        if not evaluate(validation["expression"], activation):
            message = validation.get("message") or str(evaluate(validation["messageExpression"], activation))
            return False, message
    return True, "admitted"


def tracker(name, node=None):
    return {"metadata": {"name": name}, "spec": {"nodeName": node or name}, "status": {"address": "10.0.0.1:8470"}}


def replication(name, node):
    return {"metadata": {"name": name}, "spec": {"nodeName": node, "torrentName": "t"}, "status": {"phase": "Ready"}}


CASES = [
    # (what, user, token's node, operation, resource, name, object, old, subresource, allowed, words in the message)
    ("an agent creates its own node's tracker", AGENT, "n1", "CREATE", "nodetrackers", "n1", tracker("n1"), None, "", True, ""),
    ("an agent writes its own tracker's status", AGENT, "n1", "UPDATE", "nodetrackers", "n1", tracker("n1"), tracker("n1"), "status", True, ""),
    ("an agent creates another node's tracker", AGENT, "n1", "CREATE", "nodetrackers", "n2", tracker("n2"), None, "", False,
     "may write only the NodeTracker n1, not n2"),
    ("an agent points another node's tracker elsewhere", AGENT, "n1", "UPDATE", "nodetrackers", "n2", tracker("n2"), tracker("n2"), "status",
     False, "not n2"),
    ("an agent's own tracker claims another node", AGENT, "n1", "UPDATE", "nodetrackers", "n1", tracker("n1", "n2"), tracker("n1"), "", False,
     "for another node"),
    ("an agent token bound to no node", AGENT, None, "UPDATE", "nodetrackers", "n1", tracker("n1"), tracker("n1"), "status", False,
     "names no node"),
    ("an agent reports its own Replication", AGENT, "n1", "UPDATE", "replications", "t.n1", replication("t.n1", "n1"),
     replication("t.n1", "n1"), "status", True, ""),
    ("an agent reports another node's Replication", AGENT, "n1", "UPDATE", "replications", "t.n2", replication("t.n2", "n2"),
     replication("t.n2", "n2"), "status", False, "its own Replications only, not of t.n2"),
    ("the controller is not held to a node", CONTROLLER, None, "UPDATE", "nodetrackers", "n2", tracker("n2"), tracker("n2"), "", True, ""),
]


def main(deploy):
    documents = list(yaml.safe_load_all((deploy / "admission/agent-own-node.yaml").read_text()))
    policy = next(d for d in documents if d["kind"] == "ValidatingAdmissionPolicy")
    binding = next(d for d in documents if d["kind"] == "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"] and binding["spec"]["validationActions"] == ["Deny"]
    resources = {r for rule in policy["spec"]["matchConstraints"]["resourceRules"] for r in rule["resources"]}
    assert {"nodetrackers", "nodetrackers/status", "replications/status"} <= resources, resources
    failures = []
    for what, user, node, operation, resource, name, obj, old, subresource, allowed, words in CASES:
        verdict, message = admission(policy, user, node, operation, resource, name, obj, old, subresource)
        if verdict != allowed or words not in message:
            failures.append(f"{what}: {'admitted' if verdict else 'denied'} ({message})")
    for failure in failures:
        print(f"admission policy: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"admission policy: {len(CASES)} requests admitted or denied as they should be")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
