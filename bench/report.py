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
            f"{machine['cpus']} CPUs, Python {machine['python']}; {results['infrastructure']}. "
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
            "up: the lag left when publishing stops is gone within a second.",
            "",
            *table(
                [
                    "events/s",
                    "events",
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
        ]
    )
