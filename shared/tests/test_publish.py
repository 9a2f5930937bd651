from nats.js import JetStreamContext

from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import unique


async def test_same_msg_id_is_stored_once(js: JetStreamContext) -> None:
    event_id = unique("evt")
    subject = f"stripe.test.{event_id}"
    first = await publish_with_ack(js, subject, b"{}", msg_id=event_id, stream=STRIPE.name)
    second = await publish_with_ack(js, subject, b"{}", msg_id=event_id, stream=STRIPE.name)

    assert not first.duplicate
    assert second.duplicate is True
    assert second.seq == first.seq
    info = await js.stream_info(STRIPE.name, subjects_filter=subject)
    assert info.state.subjects == {subject: 1}


async def test_different_msg_ids_are_both_stored(js: JetStreamContext) -> None:
    subject = f"stripe.test.{unique('s')}"
    a = await publish_with_ack(js, subject, b"a", msg_id=unique("evt"), stream=STRIPE.name)
    b = await publish_with_ack(js, subject, b"b", msg_id=unique("evt"), stream=STRIPE.name)
    assert b.seq == a.seq + 1
