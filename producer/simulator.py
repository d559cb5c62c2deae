"""A simulator of the Skillable Lab on Demand API, for demos, tests and benchmarks.

It serves the two result commands the producer polls, as the API documents
them, over plain HTTP on 127.0.0.1 by default:

- ``GET /LatestResults?minutes=N``: lab instances whose result changed in
  the last N minutes (1..10080) of simulated time, current results.
- ``GET /Results?start=S&end=E``: lab instances that started or ended
  within [S, E] (epoch seconds, at most 7 days apart), current results.

Both need the ``api_key`` header; the default key is ``sim-key``. Lab
instances launch at a steady rate and go through the documented lifecycle
(running, then complete, cancelled, no show, submitted for grading and
graded, or failed). Their whole history is a pure function of the seed and
the simulated time, which runs at ``speed`` times wall time.

Control endpoints for tests (no key, never faulted): ``GET|POST
/_sim/freeze``, ``POST /_sim/advance?seconds=X``, ``GET
/_sim/history[?id=N]``, ``GET|POST|DELETE /_sim/faults`` and ``GET
/_sim/status``. Injectable faults: 429, 500, 502, 503, reset, timeout,
slow, status0, html, truncated.

Run it with ``lab-results-producer simulate`` (see ``add_arguments``) or
``python -m producer.simulator``; embed it with ``start_in_thread``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from producer.sim.faults import (
    FAULTS,
    FaultConfigError,
    FaultPlan,
    Reply,
    parse_fault_option,
)
from producer.sim.labs import RESULT_FIELDS
from producer.sim.lifecycle import COMPLETION_STATUSES
from producer.sim.server import SimServer, start_in_thread
from producer.sim.world import (
    DEFAULT_API_KEY,
    DEFAULT_RATE,
    History,
    SimClock,
    Simulator,
)

__all__ = [
    "COMPLETION_STATUSES",
    "DEFAULT_API_KEY",
    "DEFAULT_RATE",
    "FAULTS",
    "FaultConfigError",
    "FaultPlan",
    "History",
    "RESULT_FIELDS",
    "Reply",
    "SimClock",
    "SimServer",
    "Simulator",
    "add_arguments",
    "build_simulator",
    "main",
    "run",
    "start_in_thread",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of the `simulate` command on `parser`."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to listen on; 0 picks a free one (default: 8080)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the simulated account (default: 0)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per wall second; 0 stands still (default: 1)",
    )
    parser.add_argument(
        "--start-time",
        type=int,
        default=None,
        help="simulated epoch seconds at start (default: now)",
    )
    parser.add_argument(
        "--api-key",
        default=DEFAULT_API_KEY,
        help=f"the api_key header value to accept (default: {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"lab launches per simulated hour (default: {DEFAULT_RATE:g})",
    )
    parser.add_argument(
        "--initial-instances",
        type=int,
        default=0,
        help="lab instances already launched over the 7 days before start (default: 0)",
    )
    parser.add_argument(
        "--fault",
        action="extend",
        nargs="+",
        type=_fault_option,
        default=[],
        metavar="NAME=PROB",
        help="inject a fault with this probability per API request; repeatable. "
        f"Faults: {', '.join(FAULTS)}",
    )
    parser.add_argument(
        "--fault-next",
        action="extend",
        nargs="+",
        choices=FAULTS,
        default=[],
        metavar="NAME",
        help="inject these faults into the next API requests, in order",
    )
    parser.add_argument(
        "--retry-after",
        type=int,
        default=1,
        help="Retry-After seconds sent with the 429 fault (default: 1)",
    )
    parser.add_argument(
        "--slow-interval",
        type=float,
        default=1.0,
        help="seconds per body byte under the slow fault (default: 1)",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=120.0,
        help="how long the timeout fault holds a request (default: 120)",
    )


def build_simulator(args: argparse.Namespace) -> Simulator:
    """The simulator that parsed `simulate` options describe."""
    probabilities = dict(args.fault)
    faults = FaultPlan(
        probabilities,
        schedule=args.fault_next,
        retry_after=args.retry_after,
        slow_interval=args.slow_interval,
        timeout_seconds=args.timeout_seconds,
        seed=args.seed,
    )
    return Simulator(
        seed=args.seed,
        speed=args.speed,
        start_time=args.start_time,
        rate=args.rate,
        initial_instances=args.initial_instances,
        api_key=args.api_key,
        faults=faults,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 2 on bad settings."""
    try:
        sim = build_simulator(args)
        server = start_in_thread(sim, host=args.host, port=args.port)
    except (ValueError, OSError) as error:
        print(f"simulator: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = _on_stop_signals(stop)
    try:
        print(
            f"Skillable API simulator listening on {server.url} "
            f"(api_key {sim.api_key!r}, seed {sim.seed}, speed {sim.clock.speed:g})",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
        _restore_signals(previous)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` as `simulate` options and serve (python -m producer.simulator)."""
    parser = argparse.ArgumentParser(
        prog="python -m producer.simulator",
        description="Serve a simulated Skillable Lab on Demand API "
        f"(LatestResults, Results); default api_key {DEFAULT_API_KEY!r}.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _fault_option(text: str) -> tuple[str, float]:
    try:
        return parse_fault_option(text)
    except FaultConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _on_stop_signals(stop: threading.Event) -> dict[int, Any]:
    """Make SIGINT and SIGTERM set `stop`; returns the handlers replaced."""

    def request_stop(number: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        return {}
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    return {number: signal.signal(number, request_stop) for number in stop_signals}


def _restore_signals(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
