"""Fault 2: NATS stopped (SIGKILL) during ingest and started again on the same store."""


async def test_nats_restart_during_ingest(stack, workload) -> None:
    work = workload(12)
    await work.prepare()
    refused_before = await stack.failed_deliveries()

    async def nats_down() -> None:
        stack.stop_nats()

    async def nats_back() -> None:
        # Stripe's deliveries meanwhile were refused (503: the broker did not confirm), so
        # they are Stripe's to retry; only then does NATS come back.
        async def refused() -> bool:
            return await stack.failed_deliveries() > refused_before

        await stack.until(refused, message="the gateway refused deliveries while NATS was down")
        await stack.start_nats()

    third = work.stream_length // 3
    await work.run([(third, nats_down), (third + 4, nats_back)])
    await work.refund()
    await work.verify()
