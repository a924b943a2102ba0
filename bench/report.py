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


def spread(values, digits=1):
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def verdict(ok):
    return "**met**" if ok else "**not met**"


hashes = [r["hashes_per_sec"] for r in load("hash_rate.jsonl")]
logins = load("login.jsonl")
login_rates = [r["per_sec"] for r in logins]
login_ratio = [100 * l / h for l, h in zip(login_rates, hashes)]
refresh_sqlite = load("refresh_sqlite.jsonl")
refresh_pg = load("refresh_postgres.jsonl")
verify_empty = load("verify_empty.jsonl")
verify_revoked = load("verify_revoked.jsonl")
verify_ratio = [100 * r["per_sec"] / e["per_sec"] for e, r in zip(verify_empty, verify_revoked)]
propagation = load("propagation.jsonl")[0]
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()


def failures(rows):
    return sum(r["failed"] for r in rows), sum(r["shed"] for r in rows)


def rates(rows):
    return [r["per_sec"] for r in rows]


def p99(rows):
    return [r["p99_ms"] for r in rows]


rs_fail, rs_shed = failures(refresh_sqlite)
rp_fail, rp_shed = failures(refresh_pg)

print(f"""# Benchmark results

Written by `bench/run.sh`; medians of {len(login_rates)} rounds with min–max. The two sides of
each comparison are measured alternately, round by round, so each ratio compares numbers from
the same moment. The load driver (`crates/tessera-bench`) runs on the same machine as the
servers, PostgreSQL and Redis.

Machine: {os.cpu_count()} cores, {cpu()}, {platform.system()} {platform.release()}; {rustc}.

## Goals

| goal | measured | verdict |
|---|---|---|
| login ≥ 90% of the raw argon2id rate | {statistics.median(login_ratio):.1f}% | {verdict(statistics.median(login_ratio) >= 90)} |
| refresh ≥ 5,000/s on SQLite, 64 clients, zero errors | {statistics.median(rates(refresh_sqlite)):.0f}/s, {rs_fail} errors | {verdict(statistics.median(rates(refresh_sqlite)) >= 5000 and rs_fail == 0)} |
| refresh ≥ 3,000/s on PostgreSQL + Redis, 64 clients, zero errors | {statistics.median(rates(refresh_pg)):.0f}/s, {rp_fail} errors | {verdict(statistics.median(rates(refresh_pg)) >= 3000 and rp_fail == 0)} |
| verify with 100,000 revoked sessions within 10% of an empty deny-set | {statistics.median(verify_ratio):.1f}% | {verdict(statistics.median(verify_ratio) >= 90)} |
| revocation propagation p99 ≤ 100 ms (contract: 1 s) | {propagation["p99_ms"]:.1f} ms | {verdict(propagation["p99_ms"] <= 100)} |

## Login against the argon2id ceiling

| measure | value |
|---|---|
| raw argon2id hashes/s, 2 threads (m=19456 KiB, t=2, p=1) | {spread(hashes)} |
| logins/s (16 concurrent clients, 64 users, SQLite) | {spread(login_rates)} |
| login / raw hash rate, per round (%) | {spread(login_ratio)} |
| login p99 latency (ms) | {spread(p99(logins))} |

## Refresh chains (64 clients, each rotating its own refresh token)

| store | refreshes/s | p99 (ms) | errors | shed (503) |
|---|---|---|---|---|
| SQLite, in-process state | {spread(rates(refresh_sqlite), 0)} | {spread(p99(refresh_sqlite))} | {rs_fail} | {rs_shed} |
| PostgreSQL + Redis | {spread(rates(refresh_pg), 0)} | {spread(p99(refresh_pg))} | {rp_fail} | {rp_shed} |

A refresh that answered 200 without a new refresh token would count as an error (a fork).

## Verify (`GET /users/me`, 32 clients each reusing its token, SQLite)

| deny-set | requests/s | p99 (ms) |
|---|---|---|
| empty | {spread(rates(verify_empty), 0)} | {spread(p99(verify_empty))} |
| 100,000 revoked sessions | {spread(rates(verify_revoked), 0)} | {spread(p99(verify_revoked))} |
| ratio, per round (%) | {spread(verify_ratio)} | |

## Revocation propagation (logout on A, token refused on B; PostgreSQL + Redis pub/sub)

{propagation["samples"]} logouts: p50 {propagation["p50_ms"]:.1f} ms, p99 {propagation["p99_ms"]:.1f} ms, max {propagation["max_ms"]:.1f} ms
(from sending the logout to B's first 401, so the logout's own latency is included).
""")
