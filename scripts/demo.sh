#!/usr/bin/env bash
# The main job on the embedded default (no Kubernetes), end to end on this machine:
#   1. a local Hugging Face compatible hub (`manta hub serve`) serves the real model and a sharded synthetic one;
#   2. a node agent (`manta agent`) owns a fresh store, serves peers and mounts the models read-only;
#   3. `manta pull` hands each pull to the agent (peers first, then the hub: parallel, verified); the models appear in the mount;
#   4. every file read through the mount, in both views, equals the original; `manta ls`, `du`, `verify`.
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
mkdir -p "$work/repos/sentence-transformers" "$work/repos/acme" "$work/mnt"
ln -s "$PWD/$real" "$work/repos/sentence-transformers/all-MiniLM-L6-v2"
ln -s "$PWD/.fixtures/synthetic-48m" "$work/repos/acme/llama-synthetic"

"$manta" hub serve "$work/repos" --addr 127.0.0.1:0 > "$work/hub.out" &
pids+=($!)
for _ in $(seq 100); do grep -q HF_ENDPOINT= "$work/hub.out" && break; sleep 0.1; done
export HF_ENDPOINT; HF_ENDPOINT="$(sed -n 's/^HF_ENDPOINT=//p' "$work/hub.out")"
"$manta" agent --store "$work/store" --mount "$work/mnt" --listen 127.0.0.1:0 --endpoint "$HF_ENDPOINT" > "$work/agent.out" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/agent.out" && [ -S "$work/store/agent.sock" ] && break; sleep 0.1; done
echo "hub at $HF_ENDPOINT; $(cat "$work/agent.out")"

# The agent owns the store: `manta pull --store` hands the pull to it over <store>/agent.sock.
"$manta" pull sentence-transformers/all-MiniLM-L6-v2 --store "$work/store"
"$manta" pull acme/llama-synthetic --store "$work/store"
"$manta" ls --store "$work/store"
"$manta" du --store "$work/store"

for _ in $(seq 50); do [ -e "$work/mnt/models/acme/llama-synthetic/config.json" ] && break; sleep 0.1; done
diff -r "$real" "$work/mnt/models/sentence-transformers/all-MiniLM-L6-v2"
diff -r .fixtures/synthetic-48m "$work/mnt/models/acme/llama-synthetic"
commit="$(cat "$work/mnt/hub/models--acme--llama-synthetic/refs/main")"
diff -r .fixtures/synthetic-48m "$work/mnt/hub/models--acme--llama-synthetic/snapshots/$commit"
HF_HUB_CACHE="$work/mnt/hub" HF_HUB_OFFLINE=1 python3 -c "
from huggingface_hub import snapshot_download
print('huggingface_hub offline snapshot:', snapshot_download('sentence-transformers/all-MiniLM-L6-v2'))"
kill -TERM "${pids[1]}" && wait "${pids[1]}"   # the agent unmounts; verify needs the store to itself
"$manta" verify --store "$work/store"
echo "demo: hub → pull → agent mount: every file is byte-identical through both views"
