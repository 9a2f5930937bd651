"""Run every benchmark in one go and write `bench/results/<date>.json` and `.md`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

from bench import ceilings, gateway
from bench.load import build_post, run_load
from tollgate_shared.infra import provide
from tollgate_shared.infra.process import ServerProcess, free_port

RESULTS = Path(__file__).parent / "results"
VAR_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"
LEVELS = (1, 16, 64, 256)


async def bare_endpoint(var_dir: Path, per_level: int) -> list[dict[str, object]]:
    port = free_port()
    server = ServerProcess(
        "bare-endpoint",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        log_path=var_dir / "bench-bare.log",
        env=dict(os.environ),
    )
    try:
        server.wait_for_port("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}/webhooks/stripe"
        body, headers = gateway.signed_event(3000)
        request = build_post(url, body, headers)
        return [
            (await run_load(url, [request], total=per_level, concurrency=c)).summary()
            for c in (16, 64)
        ]
    finally:
        server.stop()


async def main() -> dict[str, object]:
    per_level = int(os.environ.get("BENCH_REQUESTS", "4000"))
    var_dir = VAR_DIR
    infra = provide(var_dir, use_docker=False)
    try:
        print("ceilings: JetStream publish-with-ack, Postgres commits, bare endpoint …", flush=True)
        js_ceiling = await ceilings.jetstream_publish_rate(infra.nats_url)
        pg_ceiling = await ceilings.postgres_commit_rate(infra.database_url)
        bare = await bare_endpoint(var_dir, per_level)
        print("gateway under load …", flush=True)
        process, url = gateway.start_gateway(infra.nats_url, var_dir)
        try:
            gateway_levels = await gateway.gateway_load(url, LEVELS, per_level)
        finally:
            process.stop()
    finally:
        infra.stop()
    best = max(float(level["per_second"]) for level in gateway_levels)  # type: ignore[arg-type]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "infrastructure": {"nats": infra.nats_source, "postgres": infra.postgres_source},
        "ceilings": {
            "jetstream_publish_with_ack": js_ceiling,
            "postgres_single_row_commits": pg_ceiling,
            "bare_verify_and_200": bare,
        },
        "gateway": {
            "levels": gateway_levels,
            "best_per_second": best,
            "ratio_to_jetstream_ceiling": round(best / float(js_ceiling["per_second"]), 3),  # type: ignore[arg-type]
        },
    }


def table(headers: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(results: dict) -> str:
    """The results as the Markdown page written beside the JSON."""
    c = results["ceilings"]
    js, pg = c["jetstream_publish_with_ack"], c["postgres_single_row_commits"]
    machine, infra = results["machine"], results["infrastructure"]
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
        [g["concurrency"], g["per_second"], g["p50_ms"], g["p99_ms"], g["statuses"]]
        for g in results["gateway"]["levels"]
    ]
    return "\n".join(
        [
            f"# Benchmarks {results['date']}",
            "",
            f"{machine['cpus']} CPUs, Python {machine['python']}; NATS {infra['nats']}, "
            f"Postgres {infra['postgres']}. The load generator shares the machine.",
            "",
            "## Ceilings",
            "",
            *table(["what", "per second", "p50 ms", "p99 ms"], ceilings),
            "## Gateway (one process, signed events of 2 to 4 KB)",
            "",
            *table(["concurrency", "events/s", "p50 ms", "p99 ms", "statuses"], gateway_rows),
            "Best gateway rate / JetStream ceiling: "
            f"{results['gateway']['ratio_to_jetstream_ceiling']}",
            "",
        ]
    )


if __name__ == "__main__":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(main())
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / dt.date.today().isoformat()
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
