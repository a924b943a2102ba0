"""Turns a soak's output (bench/soak.sh) into bench/out-soak-BACKEND/RESULTS.md and checks it.

Usage: soak_report.py OUT_DIR BACKEND MINUTES LOAD; exits 1 if a check fails.
"""

import csv
import json
import sys

WARM_UP_S = 600  # access tokens live 5 min and the pruning runs every 5 min
ROUND = 100  # requests in a virtual user's round, one of them a logout


def main(out, backend, minutes, load):
    capacity = json.load(open(f"{out}/capacity.json"))
    soak = json.load(open(f"{out}/soak.json"))
    samples = [
        {key: int(value) if value else None for key, value in row.items()}
        for row in csv.DictReader(open(f"{out}/samples.csv"))
    ]
    statuses = soak["statuses"]
    answers = sum(statuses.values())
    errors = answers - sum(n for status, n in statuses.items() if status.startswith("2"))
    target = soak["rate"]
    achieved = answers / (minutes * 60)

    # A run shorter than the warm-up (a try of the script) is judged on its last sample.
    after = [s for s in samples if s["t_s"] >= WARM_UP_S] or samples[-1:]
    rss = [s["rss_kib"] for s in after]
    rss_spread = (max(rss) - min(rss)) / min(rss)
    # Bounded by the pruning: after the warm-up the tables only cycle between prunings, so the
    # later half of what follows the warm-up holds no more rows than the earlier half (5% slack).
    half = (minutes * 60 + WARM_UP_S) / 2
    largest = {table: max(s[table] for s in after) for table in ("sessions", "revocations")}
    table_checks = []
    for table in largest:
        earlier = [s[table] for s in after if s["t_s"] < half]
        later = [s[table] for s in after if s["t_s"] >= half]
        if earlier and later:
            table_checks.append((
                f"`{table}` rows stop growing: the most after minute {half / 60:.0f} ≤ 105% of the "
                f"most between minutes {WARM_UP_S // 60} and {half / 60:.0f}",
                max(later) <= 1.05 * max(earlier),
                f"{max(later):,} vs {max(earlier):,}",
            ))
    checks = [
        ("no answer but 2xx", errors == 0, f"{errors} of {answers:,}"),
        ("the server kept the pace (≥ 95% of the target rate)", achieved >= 0.95 * target,
         f"{achieved:,.0f}/s of {target:,.0f}/s"),
        ("RSS after the warm-up within 10% of its lowest", rss_spread <= 0.10,
         f"{min(rss) / 1024:.1f}–{max(rss) / 1024:.1f} MiB ({rss_spread:.1%})"),
    ] + table_checks

    windows = soak["windows"]
    measured = capacity["per_sec"]
    lines = [
        f"## Soak on {'SQLite' if backend == 'sqlite' else 'PostgreSQL + Redis'} "
        + (f"({minutes} min at {load:.0%} of capacity)" if capacity["per_sec"] else f"({minutes} min)"),
        "",
        (f"Capacity of the soak's mix (the highest rate paced runs of 30 s kept with no answer "
         f"but 2xx, within 10%): {measured:,.0f} requests/s. " if measured else "Rate given. ")
        + f"Soak: {soak['concurrency']} virtual users paced at "
        f"{target:,.0f} requests/s in all (94% verify, 4% refresh, 1% logout, 1% login); "
        f"{answers:,} answers, by status: "
        + ", ".join(f"{status}: {n:,}" for status, n in sorted(statuses.items()))
        + f"; p50 {soak['p50_ms']:.2f} ms, p99 {soak['p99_ms']:.2f} ms, max {soak['max_ms']:.1f} ms.",
        "",
    ]
    redis = backend == "postgres"
    head = "| minute | requests/s | not 2xx | p99 ms | RSS MiB | sessions rows | revocations rows | database MiB |"
    rule = "|---|---|---|---|---|---|---|---|"
    if redis:
        head += " Redis keys | Redis MiB |"
        rule += "---|---|"
    lines += [head, rule]
    for minute in range(0, minutes + 1, 5):
        sample = min(samples, key=lambda s: abs(s["t_s"] - minute * 60))
        span = [w for w in windows if minute * 60 - 300 < w["end_s"] <= minute * 60] if minute else []
        if span:
            rate = sum(w["ok"] + w["shed"] + w["failed"] for w in span) / (300 if minute else 1)
            bad = sum(w["shed"] + w["failed"] for w in span)
            p99 = max(w["p99_ms"] for w in span)
            traffic = f"{rate:,.0f} | {bad} | {p99:.2f}"
        else:
            traffic = "(start) | | "
        row = (f"| {minute} | {traffic} | {sample['rss_kib'] / 1024:.1f} | {sample['sessions']:,} | "
               f"{sample['revocations']:,} | {sample['db_bytes'] / 2**20:.1f} |")
        if redis:
            row += f" {sample['redis_keys']:,} | {sample['redis_bytes'] / 2**20:.1f} |"
        lines.append(row)
    created = round(answers / ROUND)
    lines += [
        "",
        f"About {created:,} sessions were created and ended during the soak; the table held at most "
        f"{largest['sessions']:,} rows after the warm-up.",
        "",
        "| check | measured | |",
        "|---|---|---|",
    ] + [f"| {name} | {measured} | {'met' if ok else '**not met**'} |" for name, ok, measured in checks]
    text = "\n".join(lines) + "\n"
    open(f"{out}/RESULTS.md", "w").write(text)
    print(text)
    return all(ok for _, ok, _ in checks)


if __name__ == "__main__":
    out, backend, minutes, load = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    sys.exit(0 if main(out, backend, minutes, load) else 1)
