"""The one private aiokafka call (the committed offset with its metadata) still works."""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from conftest import TopicFactory, eventually_async
from relay_harness import encode, publish, signal

from consumer.service import committed_with_metadata, finished_above_commits


async def test_committed_with_metadata_reads_what_the_group_committed(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """After a commit, the coordinator's OffsetFetch gives its offset; never-committed is absent."""
    topic = await new_topic(2)
    await publish(kafka_bootstrap, topic, [(b"K", encode(signal("K", 0)))])
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=f"{topic}-g", enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)

        async def owns_both() -> bool:
            await consumer.getmany(timeout_ms=100)
            owned: set[TopicPartition] = consumer.assignment()
            return owned == {tp0, tp1}

        await eventually_async(owns_both, 30, "the consumer to own both partitions")
        await consumer.commit({tp0: OffsetAndMetadata(1, "sr1:1:AQE")})
        got = await committed_with_metadata(consumer, [tp0, tp1])
        assert set(got) == {tp0}
        assert got[tp0].offset == 1
        assert got[tp0].metadata in {"sr1:1:AQE", ""}  # Tansu answers with empty metadata
        found = await finished_above_commits(consumer, [tp0, tp1], within=10)
        assert found in ({tp0: ((2, 3),)}, {})
    finally:
        await consumer.stop()
