#!/usr/bin/env bash
# The main job on the embedded default (no Kubernetes), end to end on this machine:
#   1. a local Hugging Face compatible hub (`manta hub serve`) serves the real model under the name the original
#      Manta's sample Torrent asks for;
#   2. `manta up` runs the API for Torrents (persisted in its folder), the controller and the agent with its mount;
#   3. `manta apply -f deploy/samples/torrent-sample.yaml`, unchanged; `manta wait` until it is Ready on this node;
#   4. the model is read from the mount as huggingface_hub and safetensors read it, every file byte-identical;
#      `manta get torrents` and `manta describe torrent` show it; `manta delete torrent` releases it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
python3 scripts/make-fixtures.py >/dev/null
swift build  # builds manta and manta-net, which runs its network commands
manta="$(swift build --show-bin-path)/manta"

work="$(mktemp -d -t manta-demo-XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

real=".fixtures/real/sentence-transformers/all-MiniLM-L6-v2"
repo="Qwen/Qwen2.5-0.5B-Instruct"   # the repository deploy/samples/torrent-sample.yaml names
mkdir -p "$work/repos/Qwen" "$work/mnt"
ln -s "$PWD/$real" "$work/repos/$repo"

"$manta" hub serve "$work/repos" --addr 127.0.0.1:0 > "$work/hub.out" &
pids+=($!)
for _ in $(seq 100); do grep -q HF_ENDPOINT= "$work/hub.out" && break; sleep 0.1; done
export HF_ENDPOINT; HF_ENDPOINT="$(sed -n 's/^HF_ENDPOINT=//p' "$work/hub.out")"

# One process: the API (on <dir>/api.sock), the controller, and the agent with its store in <dir>/store.
"$manta" up --dir "$work/up" --mount "$work/mnt" --listen 127.0.0.1:0 > "$work/up.out" &
pids+=($!)
for _ in $(seq 100); do grep -q "agent on" "$work/up.out" && [ -S "$work/up/api.sock" ] && break; sleep 0.1; done
echo "hub at $HF_ENDPOINT; $(cat "$work/up.out")"

"$manta" apply -f deploy/samples/torrent-sample.yaml --dir "$work/up"
"$manta" wait --torrent torrent-sample --socket "$work/up/store/agent.sock" --timeout 5m
"$manta" get torrents --dir "$work/up"
"$manta" describe torrent torrent-sample --dir "$work/up"

diff -r "$real" "$work/mnt/models/$repo"
commit="$(cat "$work/mnt/hub/models--Qwen--Qwen2.5-0.5B-Instruct/refs/main")"
diff -r "$real" "$work/mnt/hub/models--Qwen--Qwen2.5-0.5B-Instruct/snapshots/$commit"
HF_HUB_CACHE="$work/mnt/hub" HF_HUB_OFFLINE=1 python3 -c "
import os
from huggingface_hub import snapshot_download
from safetensors.numpy import load_file
folder = snapshot_download('$repo')
tensors = load_file(os.path.join(folder, 'model.safetensors'))
print('huggingface_hub offline snapshot:', folder, '-', len(tensors), 'tensors loaded from the mount')"

"$manta" delete torrent torrent-sample --dir "$work/up"   # reclaimPolicy Retain: the files stay, unpinned
kill -TERM "${pids[1]}" && wait "${pids[1]}"   # manta up unmounts; verify needs the store to itself
"$manta" verify --store "$work/up/store"
echo "demo: hub → manta up → manta apply (the original's sample) → Ready → every file byte-identical through the mount"
