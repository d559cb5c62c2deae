"""`make bench`: the producer's hot paths on a real broker, against floors.

Run with ``python -m bench`` (or ``make bench``; ``BENCH_QUICK=1`` for a quick
check of the harness). See ``bench/README.md``.
"""
