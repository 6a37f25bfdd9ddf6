#!/usr/bin/env bash
# System libraries and Python packages that Manta's build, tests and benchmarks use (Debian, as root or via sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

packages=(libfuse3-dev fuse3 libzstd-dev libssl-dev libsqlite3-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update
    $SUDO apt-get install -y "${packages[@]}"
fi
python3 -m pip install --quiet --disable-pip-version-check numpy ml_dtypes safetensors huggingface_hub kubernetes-validate
