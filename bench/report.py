"""The benchmark results as a Markdown page."""

from __future__ import annotations

from typing import Any


def table(headers: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def calls(figures: dict[str, Any]) -> str:
    """Stripe calls per event, and the 429s among them."""
    stripe = figures["stripe_calls"]
    return f"{stripe['per_event']}; 429s: {stripe['rate_limited']}"


MIXES = {
    "foreign": "Another app's events on the shared account",
    "tollgate": "Tollgate's own events",
}


def _mix_row(label: str, run: dict[str, Any]) -> list[object]:
    """A step (or the backlog: its time to drain, its rate) of a mix."""
    steady = "kept_up" in run
    slow = [
        f"{service} {outcome} {n}"
        for service, counts in run["consumer_outcomes"].items()
        for outcome, n in counts.items()
        if n and outcome in ("retried", "deferred")
    ]
    return [
        label,
        run["events"],
        run.get("rate_taken", "") if steady else "",
        run["peak_lag"] if steady else "",
        run["lag_at_stop"] if steady else "",
        run["drained_after_s"] if steady else run["seconds"],
        ("yes" if run["kept_up"] else "no") if steady else f"{run['per_second']}/s",
        calls(run),
        run["dead_letters"],
        ", ".join(slow) or "none",
    ]


def mix_section(name: str, mix: dict[str, Any]) -> list[str]:
    """One realistic mix: its steps, its backlog, Stripe calls by endpoint, CPU per event."""
    runs = [*mix["steps"], mix["backlog"]]
    labels = [f"{s['rate']}/s" for s in mix["steps"]] + ["backlog"]
    step_rows = [_mix_row(label, r) for label, r in zip(labels, runs, strict=True)]
    endpoints = sorted({e for r in runs for e in r["stripe_calls"].get("by_endpoint", {})})
    endpoint_rows = [
        [
            f"`{endpoint}`",
            *(
                "{per_event} ({rate_limited} 429s)".format(**by[endpoint])
                if endpoint in (by := r["stripe_calls"].get("by_endpoint", {}))
                else ""
                for r in runs
            ),
        ]
        for endpoint in endpoints
    ]
    processes = list(runs[0]["cpu_ms_per_event"])
    cpu_rows = [[p, *(r["cpu_ms_per_event"][p] for r in runs)] for p in processes]
    cpu_rows.append(["all", *(r["cpu_ms_per_event_all"] for r in runs)])
    types = ", ".join(f"`{t}` {n}" for t, n in mix["event_types"].items())
    return [
        f"### {MIXES.get(name, name)} (`{name}`)",
        "",
        f"{mix['customers']} customers; flows recorded in {mix['recording_s']} s; the events "
        f"sent: {types}.",
        "",
        *table(
            [
                "step",
                "events",
                "rate taken /s",
                "peak lag",
                "lag at stop",
                "drained after s",
                "kept up (backlog: drained at)",
                "Stripe calls per event",
                "dead letters",
                "retried, deferred",
            ],
            step_rows,
        ),
        f"Highest rate kept up: {mix['highest_rate_kept_up']} events/s; the backlog of "
        f"{mix['backlog']['events']} drained at {mix['backlog']['per_second']} events/s.",
        "",
        "Stripe calls per event by endpoint (429s among them):",
        "",
        *(table(["endpoint", *labels], endpoint_rows) if endpoint_rows else ["none", ""]),
        "CPU-milliseconds per event of each process (a step's from its start until its lag was"
        " gone):",
        "",
        *table(["process", *labels], cpu_rows),
    ]


def mixes_markdown(mixes: dict[str, Any]) -> list[str]:
    """The realistic mixes part, one section per mix."""
    lines = [
        "## Realistic Stripe event mixes through the whole pipeline",
        "",
        "Stripe's events as its emulator sent them for real flows, POSTed signed to the gateway "
        "at a steady rate in steps of 10 s (kept up: the lag left when sending stops is gone "
        "within a second), then as a backlog; all four consumers, one process each.",
        "",
    ]
    for name, mix in mixes.items():
        lines += mix_section(name, mix)
    return lines


def markdown(results: dict[str, Any]) -> str:
    """Ceilings, gateway, end to end, gate and consumers, each with its figures."""
    c, g, m = results["ceilings"], results["gateway"], results["membership"]
    js, pg = c["jetstream_publish_with_ack"], c["postgres_single_row_commits"]
    ceilings = [
        [
            f"JetStream publish with ack + Msg-Id ({js['in_flight']} in flight, "
            f"{js['payload_bytes']} B)",
            js["per_second"],
            "",
            "",
        ],
        [
            f"Postgres single-row commits ({pg['connections']} connections)",
            pg["per_second"],
            "",
            "",
        ],
        *[
            [
                f"bare verify-and-200 endpoint ({b['concurrency']} connections)",
                b["per_second"],
                b["p50_ms"],
                b["p99_ms"],
            ]
            for b in c["bare_verify_and_200"]
        ],
    ]
    gateway_rows = [
        [
            level["concurrency"],
            level["per_second"],
            level["p50_ms"],
            level["p99_ms"],
            level["statuses"],
        ]
        for level in g["levels"]
    ]
    e2e, gate = m["webhook_to_gate_active"], m["gate_at_64_clients"]
    consumer_rows = [
        [
            name,
            r["events"],
            r["per_second"],
            r["two_replicas"]["per_second"],
            round(r["per_second"] / pg["per_second"], 2),
            calls(r),
            calls(r["two_replicas"]),
            ", ".join(f"{k} {v}" for k, v in r["peak_rss_mib"].items()),
        ]
        for name, r in results["consumers"].items()
    ]
    steady = results["consumers_sustained"]
    steady_rows = [
        [
            s["rate"],
            s["events"],
            s.get("rate_taken", ""),
            s["peak_lag"],
            s["lag_at_stop"],
            s["drained_after_s"],
            "yes" if s["kept_up"] else "no",
            calls(s),
        ]
        for s in steady["steps"]
    ]
    processes = list(steady["steps"][0]["cpu_seconds"]) if steady["steps"] else []
    cpu_rows = [
        [
            s["rate"],
            *(s["cpu_seconds"][p] for p in processes),
            round(sum(s["cpu_seconds"].values()), 2),
            s["cpu_ms_per_event"],
        ]
        for s in steady["steps"]
    ]
    sessions, ledger = results["checkout"], results["ledger"]
    summary_rows = [
        [period, s["per_second"], s["p50_ms"], s["p99_ms"]]
        for period, s in ledger["summary"].items()
    ]
    machine = results["machine"]
    return "\n".join(
        [
            f"# Benchmarks {results['date']}",
            "",
            f"{machine['cpus']} CPUs, Python {machine['python']} "
            f"from {machine['python_prefix']}; {results['infrastructure']}. "
            "The load generator shares the machine. The services call a Stripe emulator "
            "enforcing Stripe's live-mode rate limits; Stripe calls per event count every `/v1` "
            "request they made during the part, those answered 429 included.",
            "",
            "## Ceilings (same run)",
            "",
            *table(["what", "per second", "p50 ms", "p99 ms"], ceilings),
            "## Gateway: signed events of 2 to 4 KB, one process",
            "",
            *table(["senders", "events/s", "p50 ms", "p99 ms", "statuses"], gateway_rows),
            f"At 64 senders: {g['ratio_to_bare_endpoint_at_64']} of the bare endpoint, "
            f"{g['ratio_to_jetstream_ceiling_at_64']} of the JetStream ceiling; "
            f"peak RSS {g['peak_rss_mib']} MiB.",
            "",
            "## Webhook accepted → gate answers active",
            "",
            f"Steady {e2e['rate']} events/s, {e2e['events']} events: p50 {e2e['p50_ms']} ms, "
            f"p99 {e2e['p99_ms']} ms (a waiting client asks the gate when membership announces "
            f"the activation, else every {e2e['recheck_ms']} ms). Its first stage, accepted → "
            f"announced: p50 {e2e['announced_p50_ms']} ms, "
            f"p99 {e2e['announced_p99_ms']} ms. Stripe calls per event: {calls(m)}.",
            "",
            "## Gate, 64 clients",
            "",
            f"{gate['per_second']} requests/s, p50 {gate['p50_ms']} ms, p99 {gate['p99_ms']} ms; "
            f"peak RSS {m['peak_rss_mib']}.",
            "",
            "## Consumers: backlog drained with real database effects",
            "",
            "By one process of each service, and by two replicas of each sharing its durables "
            "and its database (same backlog, fresh infrastructure).",
            "",
            *table(
                [
                    "consumer",
                    "events",
                    "events/s",
                    "two replicas: events/s",
                    "share of Postgres commit ceiling",
                    "Stripe calls per event",
                    "two replicas: Stripe calls per event",
                    "peak RSS MiB",
                ],
                consumer_rows,
            ),
            "## Consumers together under steady mixed load",
            "",
            f"Steps of {steady['seconds_per_step']} s, the four workloads' events in turn; kept "
            "up: the last publish acked within a second of being due (the rate taken is the "
            "rate asked) and the lag left then gone within a second.",
            "",
            *table(
                [
                    "events/s",
                    "events",
                    "rate taken /s",
                    "peak lag",
                    "lag at stop",
                    "drained after s",
                    "kept up",
                    "Stripe calls per event",
                ],
                steady_rows,
            ),
            f"Highest rate kept up: {steady['highest_rate_kept_up']} events/s; "
            f"peak RSS {steady['peak_rss_mib']}.",
            "",
            "CPU-seconds of each process while a step published (user + system; the machine "
            f"has {machine['cpus']} CPUs for {steady['seconds_per_step']} s), and the machine's "
            "CPU per published event:",
            "",
            *table(["events/s", *processes, "all", "ms per event"], cpu_rows),
            "## Checkout sessions against the Stripe emulator, 16 clients",
            "",
            f"{sessions['session_creation_16_clients']['per_second']} sessions/s, "
            f"p50 {sessions['session_creation_16_clients']['p50_ms']} ms, "
            f"p99 {sessions['session_creation_16_clients']['p99_ms']} ms; "
            f"statuses {sessions['session_creation_16_clients']['statuses']}; "
            f"Stripe calls per session: {calls(sessions)}.",
            "",
            f"## Ledger group summary over {ledger['entries']} entries, 8 clients",
            "",
            *table(["period", "requests/s", "p50 ms", "p99 ms"], summary_rows),
            *(mixes_markdown(results["mixes"]) if "mixes" in results else []),
        ]
    )
