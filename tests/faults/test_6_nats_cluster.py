"""Fault 4: on a three-node NATS cluster with three-replica streams, the STRIPE stream's
leader is SIGKILLed during ingest (and later started again)."""

import pytest

from faults.conftest import NatsNode, Stack
from tollgate_shared.messaging.streams import ALL_STREAMS, STRIPE


@pytest.fixture(scope="module")
async def cluster(stack: Stack) -> Stack:
    """The same platform, its services moved onto a fresh three-node cluster."""
    await stack.use_cluster()
    return stack


async def test_stream_leader_killed_during_ingest(cluster: Stack, workload) -> None:
    stack = cluster
    nc, js = await stack.jetstream()
    try:
        for spec in ALL_STREAMS:
            info = await js.stream_info(spec.name)
            assert info.config.num_replicas == 3, info.config
            assert len(info.cluster.replicas or []) == 2, info.cluster
    finally:
        await nc.close()

    work = workload(12)
    await work.prepare()
    killed: list[NatsNode] = []

    async def leader() -> str | None:
        nc, js = await stack.jetstream()
        try:
            return (await js.stream_info(STRIPE.name)).cluster.leader
        except Exception:
            return None
        finally:
            await nc.close()

    async def kill_leader() -> None:
        old = await leader()
        [node] = [n for n in stack.nats if n.name == old]
        node.kill()
        killed.append(node)

        async def another_leader() -> bool:
            return (await leader()) not in (None, old)

        await stack.until(another_leader, message="a new STRIPE leader elected")

    async def restart_node() -> None:
        await killed[0].start()

    third = work.stream_length // 3
    await work.run([(third, kill_leader), (third + 5, restart_node)])
    await work.refund()
    await work.verify()
