#!/usr/bin/env python3
"""Checks the pod templates of deploy/samples against the PodSecurity `restricted` profile (which includes
`baseline`), the rules of https://kubernetes.io/docs/concepts/security/pod-security-standards/ as of Kubernetes 1.30.
kubernetes-validate checks schemas only; this is what an enforcing namespace would admit or refuse.

    python3 scripts/check-pod-security.py deploy/samples     # every workload in the folder
Exits 1 listing every violation (file, object, container, rule).
"""
import pathlib
import sys

import yaml

# Volume types `restricted` allows.
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
# Capabilities `restricted` lets a container add back (after dropping ALL).
ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_TYPES = {"RuntimeDefault", "Localhost"}


def pod_spec(document):
    """The pod spec of a workload object, or None for objects that hold no pods."""
    kind = document.get("kind")
    spec = document.get("spec") or {}
    if kind == "Pod":
        return spec, document.get("metadata") or {}
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}:
        template = spec.get("template") or {}
        return template.get("spec") or {}, template.get("metadata") or {}
    if kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        return template.get("spec") or {}, template.get("metadata") or {}
    return None


def violations(spec, metadata):
    pod_context = spec.get("securityContext") or {}
    containers = [("container", c) for c in spec.get("containers") or []]
    containers += [("initContainer", c) for c in spec.get("initContainers") or []]
    containers += [("ephemeralContainer", c) for c in spec.get("ephemeralContainers") or []]
    found = []

    # baseline
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"pod: {field} must be false")
    for volume in spec.get("volumes") or []:
        types = set(volume) - {"name"}
        if "hostPath" in types:
            found.append(f"volume {volume.get('name')}: hostPath volumes are forbidden")
        elif not types <= ALLOWED_VOLUMES:
            found.append(f"volume {volume.get('name')}: type {sorted(types - ALLOWED_VOLUMES)} is not allowed (restricted allows {sorted(ALLOWED_VOLUMES)})")
    for sysctl in pod_context.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"pod: sysctl {sysctl.get('name')} is not a safe sysctl")
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and value not in ("runtime/default",) and not value.startswith("localhost/"):
            found.append(f"pod: AppArmor annotation {key}={value} is not allowed")

    pod_non_root = pod_context.get("runAsNonRoot") is True
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_TYPES:
        found.append(f"pod: seccompProfile.type {pod_seccomp} is not RuntimeDefault or Localhost")
    if pod_context.get("runAsUser") == 0:
        found.append("pod: runAsUser must not be 0")
    found += selinux_and_apparmor("pod", pod_context)

    for role, container in containers:
        name = f"{role} {container.get('name')}"
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            found.append(f"{name}: privileged must be false")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{name}: hostPort {port.get('hostPort')} is forbidden")
        if context.get("procMount") not in (None, "Default"):
            found.append(f"{name}: procMount must be Default")
        found += selinux_and_apparmor(name, context)
        # restricted
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation must be false")
        non_root = context.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            found.append(f"{name}: runAsNonRoot must be true (on the container or the pod)")
        if context.get("runAsUser") == 0:
            found.append(f"{name}: runAsUser must not be 0")
        seccomp = (context.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in SECCOMP_TYPES:
            found.append(f"{name}: seccompProfile.type {seccomp} is not RuntimeDefault or Localhost")
        if seccomp is None and pod_seccomp is None:
            found.append(f"{name}: seccompProfile.type must be RuntimeDefault or Localhost (on the container or the pod)")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{name}: capabilities.drop must contain ALL")
        added = set(capabilities.get("add") or []) - ADDABLE_CAPABILITIES
        if added:
            found.append(f"{name}: capabilities.add may only hold NET_BIND_SERVICE, not {sorted(added)}")
    return found


def selinux_and_apparmor(name, context):
    found = []
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type") not in SELINUX_TYPES:
        found.append(f"{name}: seLinuxOptions.type {selinux.get('type')} is not allowed")
    if selinux.get("user") or selinux.get("role"):
        found.append(f"{name}: seLinuxOptions.user and .role must be unset")
    apparmor = (context.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        found.append(f"{name}: appArmorProfile.type {apparmor} is not allowed")
    return found


def main(folder):
    problems = []
    workloads = 0
    for path in sorted(pathlib.Path(folder).glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict):
                continue
            found = pod_spec(document)
            if found is None:
                continue
            workloads += 1
            label = f"{path.name}: {document.get('kind')} {(document.get('metadata') or {}).get('name')}"
            problems += [f"{label}: {problem}" for problem in violations(*found)]
    if problems:
        print("PodSecurity restricted refuses:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"PodSecurity restricted: {workloads} workload(s) in {folder} pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "deploy/samples"))
