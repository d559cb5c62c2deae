"""Profile the product side of one scenario with py-spy, and summarise it.

    python -m bench.profile unchanged   [--size N]   # steady unchanged polls
    python -m bench.profile all-changed [--size N]   # one all-changed poll
    python -m bench.profile restore     [--size N]   # one restore of N instances
    python -m bench.profile summarize FILE.speedscope.json [--top 25]

The set-up (body, topics, state) runs unprofiled; py-spy is attached to this
process (``py-spy record --pid``, with ``--idle`` so that waits on the broker
count) only around the measured calls, then stopped, and the speedscope file
(``bench/results/profiles/<scenario>-<size>.speedscope.json``) is summarised:
the functions with the most samples on the stack (inclusive) and at its top
(self), as a share of the profiled wall time. py-spy is not a project
dependency: ``.venv/bin/pip install py-spy``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "profiles"


def py_spy() -> str:
    for candidate in (Path(sys.executable).parent / "py-spy", shutil.which("py-spy")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")


@contextmanager
def profiled(out: Path, rate: int = 200) -> Iterator[None]:
    """py-spy attached to this process while the block runs."""
    spy = subprocess.Popen(
        [py_spy(), "record", "--pid", str(os.getpid()), "--rate", str(rate), "--idle",
         "--format", "speedscope", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let it attach before the measured part starts
    if spy.poll() is not None:
        raise SystemExit(f"py-spy failed: {spy.stderr.read().decode() if spy.stderr else ''}")
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


MEASURED = "measured"
"""Name of the function that wraps the profiled calls: only its samples count."""


def summarize(path: Path, top: int = 25, thread: str | None = None,
              lines: bool = False) -> dict[str, Any]:
    """Inclusive and self shares of each function, over the main thread's samples
    taken inside a function named ``measured`` (all of them if there is none)."""
    data = json.loads(path.read_text())
    frames = data["shared"]["frames"]
    profiles = data["profiles"]
    if thread:
        profiles = [p for p in profiles if thread in p.get("name", "")]
    # The busiest thread is the one running the scenario (librdkafka's own
    # threads are native and invisible to py-spy without --native).
    profile = max(profiles, key=lambda p: sum(p["weights"]))
    measured = {i for i, frame in enumerate(frames) if frame["name"].endswith(MEASURED)}
    samples = list(zip(profile["samples"], profile["weights"]))
    if measured:
        samples = [(stack, w) for stack, w in samples if measured.intersection(stack)]
    total = sum(w for _, w in samples) or 1

    def label(index: int) -> str:
        frame = frames[index]
        where = frame.get("file", "")
        where = where.split("site-packages/")[-1].split(str(ROOT) + "/")[-1]
        if lines:
            where += f":{frame.get('line', '?')}"
        return f"{frame['name']} ({where})"

    # Grouped by function unless ``lines`` (py-spy records one frame per line).
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, weight in samples:
        for name in {label(i) for i in stack}:
            inclusive[name] += weight
        if stack:
            own[label(stack[-1])] += weight

    def rows(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100.0 * w / total, 1)] for name, w in counter.most_common(top)]

    return {"file": str(path), "thread": profile.get("name"),
            "profiled": f"{total:.2f} {profile.get('unit', 'samples')}",
            "inclusive_pct": rows(inclusive), "self_pct": rows(own)}


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\n{summary['file']} — {summary['profiled']}, thread {summary['thread']}")
    for title, key in (("inclusive (on the stack)", "inclusive_pct"),
                       ("self (top of the stack)", "self_pct")):
        print(f"  {title}:")
        for name, pct in summary[key]:
            print(f"    {pct:5.1f}%  {name}")


# -- scenarios -------------------------------------------------------------------


Scenario = tuple[Callable[[], None], Callable[[], None]]
"""What to profile, and the clean-up to run after it (not profiled)."""


def _polls(size: int, scenario: str) -> Scenario:
    from bench import common
    from bench.scenarios import start_producer
    from producer.service import LabResultsProducer

    body = common.answer_body(common.sim_results(size))
    topic_names = common.names("profile", f"{scenario}{size}")
    settings = common.settings(topic_names)
    producer = LabResultsProducer(settings, client=common.mock_client(body))
    start_producer(producer)
    if scenario == "unchanged":
        producer.poll()
        producer.close()
        producer = LabResultsProducer(settings, client=common.mock_client(body))
        start_producer(producer)
        producer.poll()  # the first poll after a restore may sweep; profile steady ones

    def measured() -> None:
        for _ in range(1 if scenario == "all-changed" else 20):
            report = producer.poll()
        print(f"{scenario}: {report}", file=sys.stderr)

    def cleanup() -> None:
        producer.close()
        _drop(*common.topics(topic_names))
    return measured, cleanup


def _restore(size: int) -> Scenario:
    from bench import common
    from bench.scenarios import populate
    from producer.kafka import restore
    from producer.state import State

    populated = populate(size, "profile")
    conf = common.settings({"state_topic": populated["topic"]}).librdkafka()

    def measured() -> None:
        state = State()
        records = restore(conf, populated["topic"], state)
        print(f"restored {records} records, {len(state)} instances", file=sys.stderr)
    return measured, lambda: _drop(populated["events_topic"], populated["topic"])


def _drop(*topics: str) -> None:
    from bench import common

    if not common.keep_topics():
        common.delete_topics(list(topics))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario",
                        choices=("unchanged", "all-changed", "restore", "summarize"))
    parser.add_argument("file", nargs="?", help="speedscope file (summarize)")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--lines", action="store_true", help="group by line, not function")
    args = parser.parse_args(argv)
    if args.scenario == "summarize":
        print_summary(summarize(Path(args.file), args.top, lines=args.lines))
        return 0
    from bench import common

    common.quiet_logs()
    size = args.size or (1_000_000 if args.scenario == "restore" else 100_000)
    run, cleanup = _restore(size) if args.scenario == "restore" else _polls(size, args.scenario)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.scenario}-{size}.speedscope.json"
    gc.collect()
    try:
        with profiled(out, args.rate):
            started = time.perf_counter()
            run()
            elapsed = time.perf_counter() - started
    finally:
        cleanup()
    print(f"{args.scenario} at {size:,}: {elapsed:.2f} s under py-spy", file=sys.stderr)
    summary = summarize(out, args.top, lines=args.lines)
    from bench.run import machine
    summary["seconds_under_profiler"] = elapsed
    summary["git_commit"] = machine()["git_commit"]
    print_summary(summary)
    (out.with_suffix("").with_suffix(".summary.json")).write_text(
        json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
