"""The ledger's group summary over a group with 100k entries."""

from __future__ import annotations

import time

import psycopg
from sqlalchemy.engine import make_url

from bench.load import run_load
from bench.services import Service, service_token
from ledger.domain import accounts
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.infra.settings import database_name

GROUP = "g_bench"


def load_entries(infra: Infrastructure, entries: int) -> float:
    """Book `entries / 4` payments (payment + fee transactions, two entries each) spread over
    a year, straight into the ledger's tables in one transaction; returns seconds taken."""
    payments = entries // 4
    url = make_url(infra.database_url).set(database=database_name("ledger"))
    payment = accounts.payment(1500, "nzd")
    fee = accounts.fee(74, "nzd")
    started = time.perf_counter()
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        conn.execute(
            """
            INSERT INTO ledger_transactions
                (key, kind, group_id, currency, amount, source_id, charge_id, occurred_at)
            SELECT k.kind || ':ch_bench_' || i, k.kind, %(group)s, 'nzd', k.amount,
                   'ch_bench_' || i, 'ch_bench_' || i, now() - (i %% 525600) * interval '1 minute'
            FROM generate_series(1, %(payments)s) AS i,
                 (VALUES ('payment', 1500), ('fee', 74)) AS k(kind, amount)
            """,
            {"group": GROUP, "payments": payments},
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (transaction_id, group_id, account, currency, amount,
                                        occurred_at)
            SELECT t.id, t.group_id, p.account, t.currency, p.sign * t.amount, t.occurred_at
            FROM ledger_transactions t
            JOIN (VALUES (%(p1)s, %(s1)s, 'payment'), (%(p2)s, %(s2)s, 'payment'),
                         (%(f1)s, %(t1)s, 'fee'), (%(f2)s, %(t2)s, 'fee'))
                 AS p(account, sign, kind) ON p.kind = t.kind
            WHERE t.group_id = %(group)s
            """,
            {
                "group": GROUP,
                "p1": payment[0].account.value,
                "s1": 1 if payment[0].amount > 0 else -1,
                "p2": payment[1].account.value,
                "s2": 1 if payment[1].amount > 0 else -1,
                "f1": fee[0].account.value,
                "t1": 1 if fee[0].amount > 0 else -1,
                "f2": fee[1].account.value,
                "t2": 1 if fee[1].amount > 0 else -1,
            },
        )
        conn.execute("ANALYZE ledger_entries")
    return time.perf_counter() - started


async def summary_latency(ledger: Service, *, requests: int, concurrency: int = 8) -> dict:
    """`GET /groups/{g}/summary` for the whole year and for one month."""
    token = service_token()
    results = {}
    for label, query in (("year", ""), ("month", "?from=2026-01-01&to=2026-02-01")):
        raw = (
            f"GET /groups/{GROUP}/summary{query} HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        result = await run_load(ledger.url, [raw], total=requests, concurrency=concurrency)
        results[label] = result.summary()
    return results
