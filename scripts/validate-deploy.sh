#!/usr/bin/env bash
# Validates deploy/: every manifest against the Kubernetes OpenAPI schemas (kubernetes-validate, strict),
# every sample custom resource against the CRD schemas in deploy/crds (validate-crd-samples.py), and the admission
# policy's CEL against requests it must admit and deny (validate-admission-policy.py), and the samples' pod templates
# against PodSecurity `restricted` (check-pod-security.py).
# Needs python3 with venv and network access to PyPI on the first run; the venv is cached.
#   scripts/validate-deploy.sh            # uses .build/validate-deploy-venv
#   KUBERNETES_VERSION=1.30.0 scripts/validate-deploy.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VALIDATE_DEPLOY_VENV:-$root/.build/validate-deploy-venv}"
kubernetes_version="${KUBERNETES_VERSION:-1.30.0}"

if [ ! -x "$venv/bin/kubernetes-validate" ] || ! "$venv/bin/python" -c "import celpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate jsonschema pyyaml cel-python
fi

cd "$root/deploy"
# Built-in kinds: strict, so a misspelt field fails. Custom kinds are checked below against our CRDs.
mapfile -t builtin < <(grep -L -E '^apiVersion: manta\.io/' $(find . -name '*.yaml' ! -name kustomization.yaml | sort))
echo "kubernetes-validate (Kubernetes $kubernetes_version): ${#builtin[@]} files"
"$venv/bin/kubernetes-validate" --strict --quiet -k "$kubernetes_version" "${builtin[@]}"

"$venv/bin/python" "$root/scripts/validate-crd-samples.py" "$root/deploy"
"$venv/bin/python" "$root/scripts/validate-admission-policy.py" "$root/deploy"
"$venv/bin/python" "$root/scripts/check-pod-security.py" "$root/deploy/samples"
echo "deploy/ is valid"
