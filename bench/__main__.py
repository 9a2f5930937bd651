"""Run every benchmark in one go and write `bench/results/<date>.json` and `.md`.

Each part gets fresh embedded infrastructure under `var/bench/`, so earlier runs' streams and
databases never skew a figure. `BENCH_REQUESTS` scales the request counts (default 4000; the
HTTP load steps send `HTTP_STEP` times as many); `BENCH_PARTS` (comma-separated, default all
of them) runs only some parts, written to `results/partial.json` instead of the dated files.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import ceilings, checkout_sessions, consumers, gate, gateway, ledger_summary, mixes
from bench.load import build_post, run_load
from bench.report import markdown
from bench.services import running
from bench.stripe_calls import stripe_emulator
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.provide import Infrastructure, provide

RESULTS = Path(__file__).parent / "results"
VAR_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"
LEVELS = (1, 16, 64, 256)
SUSTAINED_RATES = (250, 375, 500, 625, 750, 1000, 1500, 2000)
"""Mixed events a second for the four consumers together, one step of 10 s each."""
MIX_RATES = (500, 1000, 1500)
"""Webhooks a second of each realistic mix, one step of 10 s each."""
HTTP_STEP = 4
"""An HTTP load step of the gateway, the bare endpoint and the gate sends this many times
`BENCH_REQUESTS`: at 4,000 a step of 64 senders lasted under a second (see README.md)."""


@contextmanager
def fresh_infrastructure(name: str) -> Iterator[tuple[Infrastructure, Path]]:
    var_dir = VAR_DIR / name
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    infra = provide(var_dir, use_env=False, use_docker=False)
    try:
        yield infra, var_dir
    finally:
        infra.stop()


@contextmanager
def mail_sink(var_dir: Path) -> Iterator[dict[str, str]]:
    smtp, http = free_port(), free_port()
    sink = ServerProcess(
        "mail-sink",
        [sys.executable, "-m", "mail_sink", "--smtp-port", str(smtp), "--http-port", str(http)],
        log_path=var_dir / "bench-mail-sink.log",
    )
    try:
        sink.wait_for_port("127.0.0.1", http)
        yield {"SMTP_URL": f"smtp://127.0.0.1:{smtp}"}
    finally:
        sink.stop()


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


async def gateway_part(per_level: int) -> dict[str, object]:
    with fresh_infrastructure("gateway") as (infra, var_dir):
        js_ceiling = await ceilings.jetstream_publish_rate(infra.nats_url)
        pg_ceiling = await ceilings.postgres_commit_rate(infra.database_url)
        bare = await bare_endpoint(var_dir, per_level)
        with running("webhook-gateway", infra, var_dir, STRIPE_WEBHOOK_SECRET=gateway.SECRET) as gw:
            levels = await gateway.gateway_load(f"{gw.url}/webhooks/stripe", LEVELS, per_level)
            rss = gw.peak_rss_mib()
    at_64 = next(level for level in levels if level["concurrency"] == 64)
    bare_64 = next(b for b in bare if b["concurrency"] == 64)
    return {
        "ceilings": {
            "jetstream_publish_with_ack": js_ceiling,
            "postgres_single_row_commits": pg_ceiling,
            "bare_verify_and_200": bare,
        },
        "gateway": {
            "levels": levels,
            "peak_rss_mib": rss,
            "ratio_to_jetstream_ceiling_at_64": round(
                float(at_64["per_second"]) / float(js_ceiling["per_second"]), 3
            ),
            "ratio_to_bare_endpoint_at_64": round(
                float(at_64["per_second"]) / float(bare_64["per_second"]), 3
            ),
        },
    }


async def membership_part(per_level: int) -> dict[str, object]:
    with (
        fresh_infrastructure("membership") as (infra, var_dir),
        stripe_emulator(var_dir) as stripe,
        running(
            "webhook-gateway", infra, var_dir, STRIPE_WEBHOOK_SECRET=gateway.SECRET, **stripe.env
        ) as gw,
        running("membership", infra, var_dir, **stripe.env) as membership,
    ):
        e2e, members = await gate.webhook_to_gate(
            gw.url, membership, infra.nats_url, rate=200, seconds=10
        )
        gate_figures = await gate.gate_load(membership, members, total=per_level * 2 * HTTP_STEP)
        return {
            "webhook_to_gate_active": e2e,
            "stripe_calls": stripe.usage().per(int(e2e["events"])),  # type: ignore[call-overload]
            "gate_at_64_clients": gate_figures,
            "peak_rss_mib": {
                "webhook-gateway": gw.peak_rss_mib(),
                "membership": membership.peak_rss_mib(),
            },
        }


async def consumers_part(per_service: int) -> dict[str, object]:
    """Each consumer's backlog drained alone, then all four's together: by one process of each
    service, and again, on fresh infrastructure, by two (`two_replicas`: sharing its durables
    and its database)."""
    parts = [(w.service, (w,)) for w in consumers.WORKLOADS]
    parts.append(("all_four_together", consumers.WORKLOADS))
    results: dict[str, object] = {}
    for name, workloads in parts:
        figures = []
        for replicas in (1, 2):
            with (
                fresh_infrastructure(f"{name}-{replicas}") as (infra, var_dir),
                mail_sink(var_dir) as env,
                stripe_emulator(var_dir) as stripe,
            ):
                figures.append(
                    await consumers.drain_rate(
                        infra, var_dir, workloads, per_service, env, stripe, replicas=replicas
                    )
                )
        results[name] = {**figures[0], "two_replicas": figures[1]}
    return results


async def sustained_part() -> dict[str, object]:
    with (
        fresh_infrastructure("sustained") as (infra, var_dir),
        mail_sink(var_dir) as env,
        stripe_emulator(var_dir) as stripe,
    ):
        return await consumers.sustained(infra, var_dir, SUSTAINED_RATES, 10.0, env, stripe)


async def checkout_part(per_level: int) -> dict[str, object]:
    with (
        fresh_infrastructure("checkout-sessions") as (infra, var_dir),
        stripe_emulator(var_dir) as stripe,
        running("checkout", infra, var_dir, **stripe.env) as checkout,
    ):
        sessions = per_level // 4
        figures = await checkout_sessions.session_creation(checkout, total=sessions, concurrency=16)
        return {
            "session_creation_16_clients": figures,
            "stripe_calls": stripe.usage().per(sessions),
            "peak_rss_mib": checkout.peak_rss_mib(),
        }


async def ledger_part(entries: int) -> dict[str, object]:
    with (
        fresh_infrastructure("ledger-summary") as (infra, var_dir),
        running("ledger", infra, var_dir) as ledger,
    ):
        seconds = ledger_summary.load_entries(infra, entries)
        latency = await ledger_summary.summary_latency(ledger, requests=400)
        return {"entries": entries, "load_seconds": round(seconds, 1), "summary": latency}


async def mixes_part(backlog: int) -> dict[str, object]:
    """Another app's events, then Tollgate's own, each through the gateway and all four
    consumers on fresh infrastructure with an emulator of its own (test controls on: the
    flows are recorded through them)."""
    results: dict[str, object] = {}
    for mix in ("foreign", "tollgate"):
        with (
            fresh_infrastructure(f"mixes-{mix}") as (infra, var_dir),
            mail_sink(var_dir) as env,
            stripe_emulator(var_dir, test_mode=True) as stripe,
        ):
            results[mix] = await mixes.run(
                mix, infra, var_dir, env, stripe, rates=MIX_RATES, seconds=10.0, backlog=backlog
            )
    return results


PARTS = ("gateway", "membership", "consumers", "checkout", "ledger", "mixes")


async def main(parts: tuple[str, ...]) -> dict[str, object]:
    per_level = int(os.environ.get("BENCH_REQUESTS", "4000"))
    results: dict[str, object] = {}
    if "gateway" in parts:
        print("ceilings and the gateway …", flush=True)
        results.update(await gateway_part(per_level * HTTP_STEP))
    if "membership" in parts:
        print("webhook → gate, and the gate …", flush=True)
        results["membership"] = await membership_part(per_level)
    if "consumers" in parts:
        print("consumers …", flush=True)
        results["consumers"] = await consumers_part(per_level // 2)
        print("consumers under steady mixed load …", flush=True)
        results["consumers_sustained"] = await sustained_part()
    if "checkout" in parts:
        print("checkout sessions …", flush=True)
        results["checkout"] = await checkout_part(per_level)
    if "ledger" in parts:
        print("ledger summary …", flush=True)
        results["ledger"] = await ledger_part(100_000)
    if "mixes" in parts:
        print("realistic Stripe event mixes through the pipeline …", flush=True)
        results["mixes"] = await mixes_part(per_level)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "python_prefix": sys.base_prefix,  # whose build: a distribution's, pyenv's …
            "platform": platform.platform(),
        },
        "infrastructure": "embedded nats-server and PostgreSQL, fresh for each part",
        **results,
    }


def next_free_stem(directory: Path, name: str) -> Path:
    """`directory/name`, or `name-2`, `name-3` … if a run of that day already wrote there: a
    second run on one day keeps the first one's figures."""
    stem, n = directory / name, 1
    while stem.with_suffix(".json").exists():
        n += 1
        stem = directory / f"{name}-{n}"
    return stem


if __name__ == "__main__":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    parts = tuple(os.environ.get("BENCH_PARTS", ",".join(PARTS)).split(","))
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        sys.exit(f"BENCH_PARTS: unknown {unknown}; the parts are {', '.join(PARTS)}")
    results = asyncio.run(main(parts))
    RESULTS.mkdir(exist_ok=True)
    if parts != PARTS:  # a probe of some parts: kept apart from the dated full results
        text = json.dumps(results, indent=2) + "\n"
        (RESULTS / "partial.json").write_text(text)
        print(text)
    else:
        stem = next_free_stem(RESULTS, dt.date.today().isoformat())
        stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
        stem.with_suffix(".md").write_text(markdown(results))
        print(markdown(results))
