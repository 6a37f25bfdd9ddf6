"""What every suite's `run` entry writes: benchmarks/results/<suite>.json, one schema for all suites.

    {
      "suite": "import",
      "figures": [
        {
          "name": "real model: manta import",      what was measured, on what
          "value": 0.168, "unit": "s",             Manta's figure
          "peer": {"name": "cp -r + sync", "value": 0.119, "unit": "s"},   the reference measured in the same run
          "ratio": 1.41,                           value ÷ peer (or as `ratio_means` says), null without a peer
          "ratio_means": "import ÷ cp+sync",       how to read the ratio
          "target": "≤ 1.1",                       the issue's target for the ratio (or the value), free text
          "met": false,                            whether the target is met, null where there is none
          "date": "2026-12-05", "commit": "bbfdb38",
          "command": "benchmarks/import/run --quick",
          "quick": true                            measured by a --quick run (fewer rounds, smaller data)
        }
      ]
    }

$BENCH_COMMIT names the commit where the binary measured is not a build of HEAD (MANTA_BIN). A figure carries its own date, commit and command, so a suite file may hold figures measured today next to figures
carried over from an earlier run (`carried: true`), which keep their original date.
"""
import datetime, json, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def today():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def head_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def quick():
    """Whether the harness asked for a smoke run: `--quick` on the command line or BENCH_QUICK=1."""
    return "--quick" in sys.argv[1:] or os.environ.get("BENCH_QUICK") == "1"


def figure(name, value, unit, peer=None, peer_value=None, peer_unit=None, ratio=None, ratio_means=None, target=None,
           met=None, **provenance):
    """One figure; `ratio` defaults to value ÷ peer_value. `provenance`: date, commit, command, quick, carried."""
    entry = {"name": name, "value": value, "unit": unit}
    if peer is not None:
        entry["peer"] = {"name": peer, "value": peer_value, "unit": peer_unit or unit}
        if ratio is None and peer_value:
            ratio = value / peer_value
    entry["ratio"] = None if ratio is None else round(ratio, 3)
    if ratio_means:
        entry["ratio_means"] = ratio_means
    entry["target"] = target
    entry["met"] = met
    entry.update(provenance)
    return entry


def at_most(limit):
    """`met` for a target ≤ limit on the ratio."""
    return lambda ratio: None if ratio is None else ratio <= limit


def at_least(limit):
    return lambda ratio: None if ratio is None else ratio >= limit


def write(suite, figures, command, carried=False, date=None, commit=None):
    """Stamps every figure that has no provenance of its own and writes benchmarks/results/<suite>.json."""
    stamp = {"date": date or today(), "commit": commit or os.environ.get("BENCH_COMMIT") or head_commit(), "command": command, "quick": quick() and not carried}
    if carried:
        stamp["carried"] = True
    for entry in figures:
        for key, value in stamp.items():
            entry.setdefault(key, value)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.environ.get("BENCH_RESULTS") or os.path.join(RESULTS, f"{suite}.json")
    with open(path, "w") as file:
        json.dump({"suite": suite, "figures": figures}, file, indent=1, ensure_ascii=False)
        file.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)}: {len(figures)} figures", flush=True)
    return path


def markdown_rows(text, first_header):
    """The rows of the first markdown table whose header row starts with `| first_header |`, as lists of cells."""
    rows, inside = [], False
    for line in text.splitlines():
        line = line.strip()
        if not inside:
            inside = line.startswith(f"| {first_header} |")
            continue
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", cell) for cell in cells):
            continue
        rows.append(cells)
    return rows


def markdown_table(text, first_header):
    """The same rows as dicts keyed by the header's cells."""
    for line in text.splitlines():
        if line.strip().startswith(f"| {first_header} |"):
            header = [cell.strip() for cell in line.strip().strip("|").split("|")]
            return [dict(zip(header, row)) for row in markdown_rows(text, first_header)]
    return []


def release_binaries():
    """The folder of release `manta` and `manta-net`: $MANTA_BIN's, else a release build made here."""
    if os.environ.get("MANTA_BIN"):
        return os.path.dirname(os.path.abspath(os.environ["MANTA_BIN"]))
    # By product: a build of every target fails in release, where MantaTestSupport's `import Testing` does not build.
    for product in ("manta", "manta-net"):
        subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", product], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def number(cell):
    """The first number in a table cell ('0.168 s', '1.42x', '5.51 s (0.97)')."""
    match = re.search(r"-?[0-9]+(?:\.[0-9]+)?", cell)
    return float(match[0]) if match else None


def tee(command, log_path=None, env=None):
    """Runs a suite's own script, passing its output through line by line (the harness shows it as progress);
    returns everything it printed on stdout."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    output = []
    for line in process.stdout:
        output.append(line)
        print(line, end="", flush=True)
    if process.wait() != 0:
        sys.exit(f"{' '.join(command)} failed with status {process.returncode}")
    return "".join(output)


def skip(reason):
    """Exit status 77: the suite cannot run on this machine (the harness lists it as skipped, not failed)."""
    print(f"skipped: {reason}", file=sys.stderr)
    sys.exit(77)
