"""Read the change events with nothing but ``avro/*.avsc``, fastavro and confluent-kafka.

This is the consumer the README describes, written the way a downstream team
would write it: it does not import the producer. Each Kafka message (key and
value) is Avro single-object encoded: 2 marker bytes C3 01, the 8-byte
CRC-64-AVRO fingerprint of the writer schema, then the Avro binary body.

    python examples/consume_events.py --bootstrap 127.0.0.1:9092 \
        --topic skillable.lab-results.changes --from-beginning
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer
from fastavro import schemaless_reader
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

MARKER = b"\xc3\x01"


def schemas_by_fingerprint(avro_dir: Path) -> dict[bytes, dict]:
    """Fingerprint (as the 8 bytes on the wire) → parsed writer schema."""
    found = {}
    for path in avro_dir.glob("*.avsc"):
        schema = load_schema(str(path))
        digest = fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
        found[bytes.fromhex(digest)] = schema
    return found


def decode(data: bytes, known: dict[bytes, dict]) -> object:
    if data[:2] != MARKER:
        raise ValueError("not Avro single-object encoding")
    schema = known.get(data[2:10])
    if schema is None:
        raise ValueError(f"unknown schema fingerprint {data[2:10].hex()}")
    return schemaless_reader(io.BytesIO(data[10:]), schema, None)


def describe(key: int, event: dict) -> str:
    after = event["after"]
    line = (f"{event['op']} lab={key} v{event['version']} "
            f"status={after['CompletionStatus']} run={after['TotalRunTimeSeconds']}s "
            f"tasks={after['TaskCompletePercent']}%")
    if event["changed_fields"]:
        line += " changed=" + ",".join(event["changed_fields"])
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="skillable.lab-results.changes")
    parser.add_argument("--group", default=None, help="consumer group (default: none, no commits)")
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--json", action="store_true", help="print whole events as JSON")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long")
    parser.add_argument("--avro-dir", type=Path,
                        default=Path(__file__).resolve().parent.parent / "avro")
    args = parser.parse_args()

    known = schemas_by_fingerprint(args.avro_dir)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group or f"consume-events-{time.time_ns()}",
        "enable.auto.commit": args.group is not None,
        "auto.offset.reset": "earliest" if args.from_beginning else "latest",
        "isolation.level": "read_committed",  # only events of committed polls
    })
    consumer.subscribe([args.topic])
    stop_at = time.monotonic() + args.seconds if args.seconds else float("inf")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while time.monotonic() < stop_at:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                print(f"error: {message.error()}", file=sys.stderr)
                continue
            key = decode(message.key(), known)
            event = decode(message.value(), known)
            if args.json:
                print(json.dumps(event, default=str), flush=True)
            else:
                print(describe(key, event), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
