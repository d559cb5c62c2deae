"""The measurements, each run in a fresh subprocess by ``bench.run``.

``python -m bench.scenarios <command> '<json arguments>'`` prints one JSON
object on stdout (progress goes to stderr). Commands:

``polls``     items 1, 2 and 5 at one size: the product's all-changed and
              unchanged polls, then their floors (parse, encode, raw produce).
``populate``  writes a state topic of N lab instances in the producer's format.
``restore``   one restore of that topic, by the product or by a raw consumer,
              with the process's RSS before and after (items 3 and 4).

A fresh process per size and per restore keeps one measurement's heap (and
the garbage collector's work over it) out of the next one.
"""

from __future__ import annotations

import ctypes
import gc
import json
import resource
import sys
import time
import uuid
from io import BytesIO
from typing import Any

import msgspec
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from fastavro import schemaless_writer

from bench import common
from producer import __version__, model, schemas
from producer.codec import SingleObjectCodec
from producer.diff import Differ
from producer.errors import ProducerError
from producer.events import PollContext, change_event, state_record
from producer.kafka import restore
from producer.service import LabResultsProducer
from producer.state import CHECKPOINT_KEY, State

perf = time.perf_counter
# Taken right after the imports above: the code this process runs.
PRODUCER_SOURCE = common.producer_source()


def progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


START_RETRIES: list[str] = []
"""Failed ``start()`` attempts this process retried (reported, never hidden)."""


def start_producer(producer: LabResultsProducer, attempts: int = 3) -> float:
    """``producer.start()``; returns the time of the attempt that succeeded.

    Right after topic creation the broker can still answer a watermark query
    with NOT_LEADER_FOR_PARTITION; such a failure is retried and recorded.
    """
    for attempt in range(1, attempts + 1):
        t0 = perf()
        try:
            producer.start()
            return perf() - t0
        except ProducerError as exc:
            if attempt == attempts:
                raise
            START_RETRIES.append(f"{type(exc).__name__}: {exc}")
            progress(f"start() failed, retrying: {exc}")
            time.sleep(1.0)
    raise AssertionError("unreachable")


# -- items 1, 2 and 5: polls ----------------------------------------------------


def polls(size: int, reps: int, steady_polls: int, run_id: str) -> dict[str, Any]:
    started = perf()
    body = common.answer_body(common.sim_results(size))
    progress(f"{size:,} results: body of {len(body) / 1e6:.1f} MB built "
             f"in {perf() - started:.1f} s")
    product = product_polls(body, size, reps, steady_polls, run_id)
    floor = poll_floors(body, size, reps, run_id)
    return {"size": size, "body_bytes": len(body), "product": product, "floor": floor}


def product_polls(body: bytes, size: int, reps: int, steady_polls: int,
                  run_id: str) -> dict[str, Any]:
    """The real producer: an all-changed poll on fresh topics, then a second
    instance restored from the state that poll wrote, polling the same body."""
    all_changed: list[float] = []
    restored: list[float] = []
    first: list[float] = []
    steady: list[float] = []
    for rep in range(reps):
        topic_names = common.names(run_id, f"poll{size}")
        settings = common.settings(topic_names)
        try:
            gc.collect()
            producer = LabResultsProducer(settings, client=common.mock_client(body))
            try:
                start_producer(producer)
                t0 = perf()
                report = producer.poll()
                all_changed.append(perf() - t0)
            finally:
                producer.close()
            if report.creates != size or report.updates != 0:
                raise RuntimeError(f"all-changed poll: {report}")
            progress(f"{size:,} all changed, rep {rep + 1}/{reps}: {all_changed[-1]:.3f} s")
            del producer
            gc.collect()

            producer = LabResultsProducer(settings, client=common.mock_client(body))
            try:
                restored.append(start_producer(producer))
                if len(producer.state) != size:
                    raise RuntimeError(f"restored {len(producer.state)} of {size}")
                for poll in range(1 + steady_polls):
                    t0 = perf()
                    report = producer.poll()
                    (steady if poll else first).append(perf() - t0)
                    if report.changes or report.expired:
                        raise RuntimeError(f"unchanged poll: {report}")
            finally:
                producer.close()
            progress(f"{size:,} unchanged, rep {rep + 1}/{reps}: first {first[-1]:.3f} s, "
                     f"then best {min(steady[-steady_polls:]):.3f} s")
            del producer
        finally:
            if not common.keep_topics():
                common.delete_topics(common.topics(topic_names))
    gc.collect()
    return {"all_changed": common.stats(all_changed),
            "unchanged_first": common.stats(first),
            "unchanged_steady": common.stats(steady),
            "start_with_restore": common.stats(restored)}


def poll_floors(body: bytes, size: int, reps: int, run_id: str) -> dict[str, Any]:
    """What the same work costs without the product's own code around it."""
    parse = {"orjson.loads": [], "msgspec.json.decode": []}
    typed: list[float] = []
    for _ in range(reps):
        for name, parse_fn in (("orjson.loads", orjson.loads),
                               ("msgspec.json.decode", msgspec.json.decode),
                               ("typed", model.decode_answer)):
            gc.collect()
            t0 = perf()
            parsed = parse_fn(body)
            (typed if name == "typed" else parse[name]).append(perf() - t0)
            del parsed
    parse_stats = {name: common.stats(s) for name, s in parse.items()}
    parser = min(parse_stats, key=lambda name: parse_stats[name]["best"])
    progress(f"{size:,} parse floor: {parser} {parse_stats[parser]['best']:.3f} s")

    # The same events and state records the product builds, made by its own
    # pure functions; only their encoding and their produce are timed.
    state = State()
    results = model.decode_answer(body).Results
    changes = Differ().diff(results, state)
    del results
    now_ms = int(time.time() * 1000)
    context = PollContext(str(uuid.uuid4()), "api.bench.invalid", "LatestResults",
                          now_ms - 10_080 * 60_000, now_ms, 10_080, now_ms)
    source = context.source()
    events = [change_event(c, context, source) for c in changes]
    records = [state_record(c, context) for c in changes]
    ids = [c.lab_instance_id for c in changes]
    del changes
    event_schema = schemas.load(schemas.EVENT)
    state_schema = schemas.load(schemas.STATE)

    def encode_all(schema: schemas.Schema, values: list[dict[str, Any]]) -> list[bytes]:
        header, parsed = b"\xc3\x01" + schema.fingerprint, schema.parsed
        encoded = []
        for value in values:
            out = BytesIO()
            out.write(header)
            schemaless_writer(out, parsed, value)
            encoded.append(out.getvalue())
        return encoded

    encode: list[float] = []
    for _ in range(reps):
        gc.collect()
        t0 = perf()
        encoded_events = encode_all(event_schema, events)
        encoded_records = encode_all(state_schema, records)
        encode.append(perf() - t0)
    # Must match what the product writes, byte for byte (event_id and all).
    if (encoded_records[0] != state.codec.encode(records[0])
            or encoded_events[0] != SingleObjectCodec(schemas.EVENT).encode(events[0])):
        raise RuntimeError("the floor's encoding differs from the product's codecs")
    progress(f"{size:,} encode floor: best {min(encode):.3f} s")
    key_encode: list[float] = []
    for _ in range(reps):
        t0 = perf()
        keys = [state.key_codec.encode(i) for i in ids]
        key_encode.append(perf() - t0)
    checkpoint = (state.key_codec.encode(CHECKPOINT_KEY), state.checkpoint_codec.encode(
        {"poll_started_ms": now_ms, "producer_version": __version__}))
    del events, records
    gc.collect()

    produce: list[float] = []
    for rep in range(reps):
        produce.append(raw_produce(run_id, size, keys, encoded_events, encoded_records,
                                   checkpoint))
        progress(f"{size:,} raw produce, rep {rep + 1}/{reps}: {produce[-1]:.3f} s")
    return {"parse": parse_stats, "parser": parser,
            "parse_best": parse_stats[parser]["best"],
            "product_typed_decode": common.stats(typed),
            "encode": common.stats(encode), "key_encode": common.stats(key_encode),
            "produce": common.stats(produce), "messages": 2 * size + 1}


def raw_produce(run_id: str, size: int, keys: list[bytes], events: list[bytes],
                records: list[bytes], checkpoint: tuple[bytes, bytes]) -> float:
    """One transaction of the pre-encoded messages, with the publisher's config,
    into topics the product created (so with the product's topic settings)."""
    topic_names = common.names(run_id, f"raw{size}")
    settings = common.settings(topic_names)
    try:
        # start() creates the topics exactly as the product does; its (empty)
        # restore and the closing are not timed.
        creator = LabResultsProducer(settings, client=common.mock_client(b"{}"))
        start_producer(creator)
        creator.close()
        raw = Producer(common.publisher_conf(settings.librdkafka(),
                                             settings.transactional_id))
        raw.init_transactions(60)
        events_topic, state_topic = settings.events_topic, settings.state_topic
        produce, poll = raw.produce, raw.poll

        def send(topic: str, value: bytes, key: bytes) -> None:
            while True:
                try:
                    produce(topic, value, key)
                    return
                except BufferError:  # the local queue is full: serve it
                    poll(0.05)

        gc.collect()
        t0 = perf()
        raw.begin_transaction()
        for key, event, record in zip(keys, events, records):
            send(events_topic, event, key)
            send(state_topic, record, key)
        send(state_topic, checkpoint[1], checkpoint[0])
        raw.commit_transaction(300)
        elapsed = perf() - t0
        raw.flush(30)
        return elapsed
    finally:
        if not common.keep_topics():
            common.delete_topics(common.topics(topic_names))


# -- items 3 and 4: restore -----------------------------------------------------


POPULATE_CHUNK = 100_000


def populate(size: int, run_id: str) -> dict[str, Any]:
    """A state topic of ``size`` lab instances and a checkpoint, as the producer
    writes them: its topic settings, its codecs, its publisher, big transactions."""
    started = perf()
    topic_names = common.names(run_id, f"restore{size}")
    settings = common.settings(topic_names)
    producer = LabResultsProducer(settings, client=common.mock_client(b"{}"))
    start_producer(producer)
    try:
        state, publisher = producer.state, producer.publisher
        assert publisher is not None
        results = common.sim_results(size)
        progress(f"restore: {size:,} simulated results in {perf() - started:.1f} s")
        now_ms = int(time.time() * 1000)
        context = PollContext(str(uuid.uuid4()), "api.bench.invalid", "LatestResults",
                              now_ms - 10_080 * 60_000, now_ms, 10_080, now_ms)
        differ = Differ(settings.exclude_fields)
        record_bytes = 0
        for start in range(0, size, POPULATE_CHUNK):
            chunk = model.decode_answer(
                common.answer_body(results[start:start + POPULATE_CHUNK])).Results
            messages = []
            for change in differ.diff(chunk, State()):
                value = state.codec.encode(state_record(change, context))
                record_bytes += len(value)
                messages.append((settings.state_topic,
                                 state.key_codec.encode(change.lab_instance_id), value))
            publisher.publish(messages, 300)
        del results
        checkpoint = state.checkpoint_codec.encode(
            {"poll_started_ms": now_ms, "producer_version": __version__})
        publisher.publish([(settings.state_topic, state.key_codec.encode(CHECKPOINT_KEY),
                            checkpoint)], 60)
    finally:
        producer.close()
    elapsed = perf() - started
    progress(f"restore: state topic of {size:,} written in {elapsed:.1f} s")
    return {"topic": settings.state_topic, "events_topic": settings.events_topic,
            "instances": size, "records": size + 1, "seconds": elapsed,
            "mean_state_record_bytes": record_bytes / size}


def restore_once(mode: str, topic: str) -> dict[str, Any]:
    """One restore in this (fresh) process: ``product`` or ``raw``."""
    conf = common.settings({"state_topic": topic}).librdkafka()
    state = State()
    consumer_conf = common.restore_consumer_conf(conf, topic)
    gc.collect()
    rss_before = common.rss_bytes()
    t0 = perf()
    if mode == "product":
        records = restore(conf, topic, state)
    else:
        records = raw_read(consumer_conf, topic)
    elapsed = perf() - t0
    gc.collect()
    rss_after = common.rss_bytes()
    # ru_maxrss (KiB on Linux) is the process's peak: before the restore the
    # process was at rss_before, so the peak is the restore's.
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out: dict[str, Any] = {"mode": mode, "seconds": elapsed, "records": records,
                           "rss_before": rss_before, "rss_after": rss_after,
                           "rss_peak": rss_peak}
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        out["rss_after_trim"] = common.rss_bytes()
    except OSError:
        pass
    if mode == "product":
        out["instances"] = len(state)
        out["checkpoint_read"] = state.last_poll_started_ms is not None
        out["breakdown"] = breakdown(state)
    return out


def raw_read(conf: dict[str, Any], topic: str) -> int:
    """Read ``topic`` from the beginning to its end, decoding nothing."""
    consumer = Consumer(conf)
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        ends = {}
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=30, cached=False)
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        read = 0
        while ends:
            batch = consumer.consume(num_messages=10_000, timeout=0.2)
            for message in batch:
                error = message.error()
                if error is None:
                    read += 1
                elif error.code() == KafkaError._PARTITION_EOF:
                    ends.pop(message.partition(), None)
                else:
                    raise RuntimeError(error.str())
            # Done at end-of-partition or once the position reaches the end
            # offset taken before reading, whichever comes first (as restore()).
            for partition in list(ends):
                position = consumer.position([TopicPartition(topic, partition)])[0]
                if position.offset >= ends[partition]:
                    ends.pop(partition)
        return read
    finally:
        consumer.close()


def breakdown(state: State) -> dict[str, Any]:
    """Where the restored state's memory is, by CPython's own object sizes."""
    count = len(state)
    if not count:
        return {}
    value_objects = value_payload = key_objects = 0
    for lab_instance_id in state:
        data = state.raw(lab_instance_id)
        assert data is not None
        value_objects += sys.getsizeof(data)
        value_payload += len(data)
        key_objects += sys.getsizeof(lab_instance_id)
    records = getattr(state, "_records", None)
    table = sys.getsizeof(records) if isinstance(records, dict) else None
    per = {"value_bytes_objects": value_objects / count,
           "value_payload": value_payload / count,
           "key_int_objects": key_objects / count}
    if table is not None:
        per["dict_table"] = table / count
    return {"per_instance": per}


COMMANDS = {"polls": polls, "populate": populate, "restore": restore_once}


def main(argv: list[str]) -> int:
    common.quiet_logs()
    command, arguments = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    result = COMMANDS[command](**arguments)
    result["start_retries"] = START_RETRIES
    result["producer_source"] = PRODUCER_SOURCE
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
