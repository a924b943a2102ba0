"""Writes bench/RESULTS.md from the JSON lines bench/run.sh collected."""
import json
import os
import platform
import statistics
import subprocess
import sys

out = sys.argv[1]


def load(name):
    with open(os.path.join(out, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def spread(values):
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


hashes = [r["hashes_per_sec"] for r in load("hash_rate.jsonl")]
logins = load("login.jsonl")
rates = [r["logins_per_sec"] for r in logins]
ratios = [100 * l / h for l, h in zip(rates, hashes)]
errors = sum(r["failed"] for r in logins)
shed = sum(r["shed_503"] for r in logins)
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()

print(f"""# Benchmark results

Written by `bench/run.sh`; medians of {len(rates)} rounds with min–max. Each round measures the
raw argon2id rate and then login throughput, so each ratio compares numbers from the same moment.

Machine: {os.cpu_count()} cores, {cpu()}, {platform.system()} {platform.release()}; {rustc}.
The load driver (`tessera-bench`) runs on the same machine.

## Login against the argon2id ceiling

| measure | value |
|---|---|
| raw argon2id hashes/s, 2 threads (m=19456 KiB, t=2, p=1) | {spread(hashes)} |
| logins/s (16 concurrent clients, 64 users, SQLite) | {spread(rates)} |
| login / raw hash rate, per round (%) | {spread(ratios)} |
| failed logins / shed with 503 | {errors} / {shed} |

Goal: login ≥ 90% of the raw hash rate. {"Met" if statistics.median(ratios) >= 90 else "Not met"} (median {statistics.median(ratios):.1f}%).
""")
