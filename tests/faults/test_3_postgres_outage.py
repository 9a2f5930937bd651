"""Fault 3: the ledger's own Postgres stopped for a while mid-stream, then started again."""

import httpx

from faults.conftest import OWN_POSTGRES


async def test_one_services_postgres_unavailable_for_a_while(stack, workload) -> None:
    work = workload(12)
    await work.prepare()

    async def not_ready() -> bool:
        try:
            response = await stack.http.get(stack.service(OWN_POSTGRES) + "/readyz", timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 503

    async def database_down() -> None:
        await stack.own_postgres.stop()
        await stack.until(not_ready, message=f"{OWN_POSTGRES} reports its database down")

    async def database_back() -> None:
        await stack.own_postgres.start()

    third = work.stream_length // 3
    await work.run([(third, database_down), (third + 5, database_back)])
    await work.refund()
    await work.verify()
