#!/usr/bin/env python3
"""Loads a model onto the GPU from the local disk and from a Manta mount of the same files, cold and warm,
with both loaders inference servers use: safetensors' `safe_open(..., device="cuda")` + every `get_tensor`,
and transformers' `AutoModelForCausalLM.from_pretrained(..., device_map="cuda")`. Also the page-cache growth
of a cold read of every weight through each. Needs root (drops the page cache, mounts), torch with CUDA,
transformers, safetensors, and /dev/fuse.

Usage: python3 benchmarks/gpu/run.py --manta BIN/manta --manta-net BIN/manta-net [--loader LD] [--library-path DIR]
           [--work /tmp/manta-gpu] [--rounds 3] [--layers 28] [--out results.json]
`--loader`/`--library-path` run the binaries through a carried dynamic loader and libraries, for a machine
without a Swift toolchain (the project's GPU machine: see benchmarks/gpu/bundle.sh).
Prints a markdown table for benchmarks/RESULTS.md; ratios are disk time ÷ mount time (1.0 = as fast as disk).
"""
import argparse, json, os, signal, statistics, subprocess, sys, time


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as file:
        file.write("3\n")


def page_cache_bytes():
    with open("/proc/meminfo") as info:
        fields = dict(line.split(":", 1) for line in info)
    return int(fields["Cached"].split()[0]) * 1024


def mounted(path):
    with open("/proc/self/mountinfo") as table:
        return any(line.split()[4] == path for line in table)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manta", required=True)
    parser.add_argument("--manta-net", required=True)
    parser.add_argument("--loader")
    parser.add_argument("--library-path")
    parser.add_argument("--work", default="/tmp/manta-gpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layers", type=int, default=28)
    parser.add_argument("--out")
    arguments = parser.parse_args()

    def command(binary, *rest):
        prefix = [arguments.loader, "--library-path", arguments.library_path] if arguments.loader else []
        return prefix + [binary, *rest]

    import torch
    import transformers
    from safetensors import safe_open

    torch.cuda.init()
    torch.zeros(1, device="cuda")  # CUDA's start-up before any clock runs
    work = arguments.work
    model_dir, store, mount = f"{work}/model", f"{work}/store", f"{work}/mnt"
    os.makedirs(mount, exist_ok=True)
    if not os.path.exists(f"{model_dir}/config.json"):
        # A Qwen2-1.5B-shaped model with random weights in bf16: about 3 GB in two shards.
        config = transformers.Qwen2Config(
            hidden_size=1536, intermediate_size=8960, num_hidden_layers=arguments.layers, num_attention_heads=12,
            num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
            torch_dtype="bfloat16")
        with torch.device("cuda"):
            model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
        model.save_pretrained(model_dir, max_shard_size="2GB")
        del model
        torch.cuda.empty_cache()
    subprocess.run(command(arguments.manta, "import", model_dir, "--repo", "bench/qwen2", "--store", store),
                   check=True, stdout=subprocess.DEVNULL)
    mount_process = subprocess.Popen(command(arguments.manta_net, "mount", mount, "--store", store),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not mounted(mount):
        if mount_process.poll() is not None or time.time() > deadline:
            sys.exit(f"manta mount did not come up (exit {mount_process.poll()})")
        time.sleep(0.05)
    mounted_model = f"{mount}/models/bench/qwen2"
    os.listdir(mounted_model)
    shards = sorted(name for name in os.listdir(model_dir) if name.endswith(".safetensors"))

    def safetensors_load(folder):
        tensors = 0
        for shard in shards:
            with safe_open(f"{folder}/{shard}", framework="pt", device="cuda") as file:
                for key in file.keys():
                    file.get_tensor(key)
                    tensors += 1
        torch.cuda.synchronize()
        return tensors

    def transformers_load(folder):
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, device_map="cuda", torch_dtype=torch.bfloat16)
        torch.cuda.synchronize()
        del model
        torch.cuda.empty_cache()

    def timed(load, folder, cold):
        if cold:
            drop_caches()
        start = time.perf_counter()
        load(folder)
        return time.perf_counter() - start

    results = {"rounds": arguments.rounds, "gpu": torch.cuda.get_device_name(0),
               "bytes": sum(os.path.getsize(f"{model_dir}/{shard}") for shard in shards), "loads": {}}
    try:
        for loader_name, load in (("safe_open + get_tensor", safetensors_load), ("from_pretrained", transformers_load)):
            for temperature in ("cold", "warm"):
                times = {"disk": [], "mount": []}
                for _ in range(arguments.rounds):
                    # Interleaved, so a noisy neighbour weighs on both sides alike.
                    for side, folder in (("disk", model_dir), ("mount", mounted_model)):
                        if temperature == "warm":
                            load(folder)
                        times[side].append(timed(load, folder, cold=temperature == "cold"))
                results["loads"][f"{loader_name}, {temperature}"] = {side: statistics.median(values) for side, values in times.items()}
        growth = {}
        for side, folder in (("disk", model_dir), ("mount", mounted_model)):
            drop_caches()
            before = page_cache_bytes()
            for shard in shards:
                with open(f"{folder}/{shard}", "rb") as file:
                    while file.read(16 << 20):
                        pass
            growth[side] = (page_cache_bytes() - before) / results["bytes"]
        results["page_cache_per_byte_read"] = growth
    finally:
        mount_process.send_signal(signal.SIGTERM)
        try:
            mount_process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            mount_process.kill()
        if mounted(mount):
            subprocess.run(["fusermount3", "-u", "-z", mount])

    print(f"GPU: {results['gpu']}; model: {results['bytes'] / 1e9:.2f} GB bf16 in {len(shards)} shards; medians of {arguments.rounds}\n")
    print("| load onto the GPU | local disk | Manta mount | disk ÷ mount time |")
    print("|---|---|---|---|")
    for name, sides in results["loads"].items():
        print(f"| {name} | {sides['disk']:.2f} s | {sides['mount']:.2f} s | {sides['disk'] / sides['mount']:.2f} |")
    print(f"\nPage-cache growth per byte read, cold: disk {growth['disk']:.2f}, mount {growth['mount']:.2f}")
    if arguments.out:
        with open(arguments.out, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
