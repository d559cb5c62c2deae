"""`make bench`: run every scenario, compare with its floor, write and print the results.

Environment:
  BENCH_QUICK=1         10k results and a 100k restore, to check the harness fast
  BENCH_SIZES=a,b,...   poll sizes (default 10000,100000,500000; quick: 10000)
  BENCH_HEADLINE=N      the size items 1 and 2 are judged at (default 100000; quick: 10000)
  BENCH_RESTORE_SIZE=N  lab instances in the restore scenario (default 1000000; quick: 100000)
  BENCH_REPS=N          repetitions of every timing (default: 5 at <=10k, else 3;
                        restores: 5, quick 3)
  BENCH_OUTPUT=path     result file (default bench/results/latest.json)
  BENCH_KEEP_TOPICS=1   keep the bench.* topics (default: deleted after each scenario)
  BENCH_STRICT=1        exit 1 when a target is missed (default: exit 0, verdicts printed)
  KAFKA_BOOTSTRAP_SERVERS  the broker (default 127.0.0.1:9092)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

TARGETS = {
    "unchanged": 1.5,   # poll time / parse floor, at most
    "all_changed": 0.70,  # product events/s / floor events/s, at least
    "restore": 1.3,     # restore time / raw read time, at most
    "memory": 200.0,    # RSS bytes per lab instance, at most
}

NOTES = [
    "HTTP network time is excluded from both sides: the product's SkillableClient is "
    "given an httpx.MockTransport that answers with the prebuilt body (httpx's own "
    "in-process request/response handling is still in the product's time).",
    "Bodies come from producer.simulator (seeded, frozen clock), serialised with orjson "
    "as the simulator's HTTP endpoint does.",
    "The broker runs on the same machine as the bench and competes for its cores.",
    "Ratios use the best of N on each side; the median-based ratio and the spread "
    "((worst - best) / best) of every timing are recorded too.",
]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip().replace("_", "")
    return int(value) if value else default


def plan() -> dict[str, Any]:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    default_sizes = "10000" if quick else "10000,100000,500000"
    sizes = sorted(int(s.replace("_", "")) for s in
                   os.environ.get("BENCH_SIZES", default_sizes).split(",") if s.strip())
    headline = env_int("BENCH_HEADLINE", 10_000 if quick else 100_000)
    if headline not in sizes:
        headline = min(sizes, key=lambda s: abs(s - headline))
    reps_override = env_int("BENCH_REPS", 0)
    reps = {size: reps_override or (5 if size <= 10_000 else 3) for size in sizes}
    return {
        "mode": "quick" if quick else "full",
        "sizes": sizes,
        "headline_size": headline,
        "reps": reps,
        "steady_polls_per_rep": 2 if quick else 3,
        "restore_size": env_int("BENCH_RESTORE_SIZE", 100_000 if quick else 1_000_000),
        "restore_reps": reps_override or (3 if quick else 5),
    }


# -- the machine -----------------------------------------------------------------


def machine() -> dict[str, Any]:
    import confluent_kafka
    import fastavro
    import httpx
    import msgspec
    import orjson

    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo")
                   if line.startswith("MemTotal:")), 0)
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "ram_bytes": mem_kb * 1024,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty_paths": _git("--no-optional-locks", "status", "--porcelain=v1",
                                "--untracked-files=no", "--", "producer", "avro").splitlines(),
        "libraries": {
            "confluent_kafka": confluent_kafka.version()[0],
            "librdkafka": confluent_kafka.libversion()[0],
            "fastavro": fastavro.__version__,
            "msgspec": msgspec.__version__,
            "orjson": orjson.__version__,
            "httpx": httpx.__version__,
        },
        "kafka_bootstrap": os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092",
    }


def _read(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


# -- running the scenarios ---------------------------------------------------------


class ScenarioFailed(Exception):
    pass


def child(command: str, **arguments: Any) -> dict[str, Any]:
    """One scenario in a fresh interpreter; its progress goes straight to stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.scenarios", command, json.dumps(arguments)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=3 * 3600)
    if done.returncode != 0:
        raise ScenarioFailed(f"scenario {command} {arguments} failed "
                             f"(exit {done.returncode}; its traceback is above)")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_all(config: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Every scenario; one that fails is recorded as failed and the others still run."""
    polls: dict[str, Any] = {}
    errors: list[str] = []
    for size in config["sizes"]:
        try:
            polls[str(size)] = child("polls", size=size, reps=config["reps"][size],
                                     steady_polls=config["steady_polls_per_rep"],
                                     run_id=run_id)
        except ScenarioFailed as exc:
            errors.append(str(exc))
            print(f"[bench] {exc}", file=sys.stderr, flush=True)
    size = config["restore_size"]
    restore: dict[str, Any] = {"product": [], "raw": []}
    try:
        restore["populate"] = child("populate", size=size, run_id=run_id)
        for rep in range(config["restore_reps"]):
            # Alternate which goes first, so that neither always reads a cold cache.
            order = ("raw", "product") if rep % 2 == 0 else ("product", "raw")
            for mode in order:
                result = child("restore", mode=mode, topic=restore["populate"]["topic"])
                restore[mode].append(result)
                print(f"[bench] restore {size:,}, {mode}, rep {rep + 1}/"
                      f"{config['restore_reps']}: {result['seconds']:.3f} s",
                      file=sys.stderr, flush=True)
    except ScenarioFailed as exc:
        errors.append(str(exc))
        print(f"[bench] {exc}", file=sys.stderr, flush=True)
    return {"polls": polls, "restore": restore, "errors": errors}


# -- verdicts --------------------------------------------------------------------


def stats(samples: list[float]) -> dict[str, Any]:
    from bench.common import stats as _stats
    return _stats(samples)


def evaluate(config: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    scaling: list[dict[str, Any]] = []
    for key, measured in raw["polls"].items():
        size = int(key)
        rows = poll_items(size, measured)
        scaling.append({"size": size, **{r["id"]: _brief(r) for r in rows}})
        if size == config["headline_size"]:
            items.extend(rows)
    if raw["restore"]["product"] and raw["restore"]["raw"]:
        items.extend(restore_items(raw["restore"]))
    return {"items": items, "scaling": scaling}


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("product", "floor", "ratio", "ratio_median", "met",
                                "us_per_result") if k in row}


def poll_items(size: int, m: dict[str, Any]) -> list[dict[str, Any]]:
    floor, product = m["floor"], m["product"]
    parse_best = floor["parse_best"]
    parse_median = floor["parse"][floor["parser"]]["median"]
    rows = []
    for ident, label, key in (
            ("1_unchanged", "unchanged poll (steady state)", "unchanged_steady"),
            ("1_unchanged_first", "unchanged poll, first after a restore",
             "unchanged_first")):
        poll = product[key]
        ratio = poll["best"] / parse_best
        rows.append({
            "id": ident, "item": 1, "label": label, "size": size, "unit": "s",
            "product": poll["best"], "product_median": poll["median"],
            "product_spread_pct": poll["spread_pct"], "product_n": poll["n"],
            "floor": parse_best, "floor_what": f"{floor['parser']} of the same body",
            "ratio": ratio, "ratio_median": poll["median"] / parse_median,
            "target": f"<= {TARGETS['unchanged']}x", "met": ratio <= TARGETS["unchanged"],
            "us_per_result": 1e6 * poll["best"] / size,
        })
    poll = product["all_changed"]
    floor_s = parse_best + floor["encode"]["best"] + floor["produce"]["best"]
    floor_median = parse_median + floor["encode"]["median"] + floor["produce"]["median"]
    ratio = floor_s / poll["best"]
    rows.append({
        "id": "2_all_changed", "item": 2, "label": "all changed (events/s, end to end)",
        "size": size, "unit": "events/s",
        "product": size / poll["best"], "product_seconds": poll["best"],
        "product_median": size / poll["median"], "product_spread_pct": poll["spread_pct"],
        "product_n": poll["n"],
        "floor": size / floor_s, "floor_seconds": floor_s,
        "floor_parts_s": {"parse": parse_best, "encode": floor["encode"]["best"],
                          "produce": floor["produce"]["best"]},
        "floor_what": f"{floor['parser']} + fastavro encode of the events and state "
                      "records + raw transactional produce of the bytes",
        "ratio": ratio, "ratio_median": floor_median / poll["median"],
        "target": f">= {TARGETS['all_changed']:.0%}", "met": ratio >= TARGETS["all_changed"],
        "us_per_result": 1e6 * poll["best"] / size,
    })
    return rows


def restore_items(r: dict[str, Any]) -> list[dict[str, Any]]:
    size = r["populate"]["instances"]
    product = stats([x["seconds"] for x in r["product"]])
    raw = stats([x["seconds"] for x in r["raw"]])
    ratio = product["best"] / raw["best"]
    per_instance = sorted((x["rss_after"] - x["rss_before"]) / x["instances"]
                          for x in r["product"])
    per_instance_trim = sorted((x.get("rss_after_trim", x["rss_after"]) - x["rss_before"])
                               / x["instances"] for x in r["product"])
    raw_per_record = sorted((x["rss_after"] - x["rss_before"]) / size for x in r["raw"])
    peak = sorted((x["rss_peak"] - x["rss_before"]) / x["instances"] for x in r["product"])
    raw_peak = sorted((x["rss_peak"] - x["rss_before"]) / size for x in r["raw"])
    memory = per_instance[len(per_instance) // 2]
    breakdown = r["product"][0].get("breakdown", {}).get("per_instance", {})
    objects = sum(v for k, v in breakdown.items() if k != "value_payload")
    return [
        {"id": "3_restore", "item": 3, "label": "restore (time)", "size": size, "unit": "s",
         "product": product["best"], "product_median": product["median"],
         "product_spread_pct": product["spread_pct"], "product_n": product["n"],
         "floor": raw["best"], "floor_median": raw["median"],
         "floor_spread_pct": raw["spread_pct"],
         "floor_what": "raw consumer, same config, reading to the end without decoding",
         "ratio": ratio, "ratio_median": product["median"] / raw["median"],
         "target": f"<= {TARGETS['restore']}x", "met": ratio <= TARGETS["restore"],
         "records": r["product"][0]["records"],
         "checkpoint_read": all(x.get("checkpoint_read") for x in r["product"])},
        {"id": "4_memory", "item": 4, "label": "memory (RSS per lab instance)", "size": size,
         "unit": "B", "product": memory, "product_all": per_instance,
         "after_malloc_trim": per_instance_trim[len(per_instance_trim) // 2],
         "raw_consumer_rss_per_record": raw_per_record[len(raw_per_record) // 2],
         "peak_per_instance": peak[len(peak) // 2],
         "raw_consumer_peak_per_record": raw_peak[len(raw_peak) // 2],
         "python_objects_per_instance": objects, "breakdown_per_instance": breakdown,
         "mean_state_record_bytes": r["populate"]["mean_state_record_bytes"],
         "floor": None, "ratio": None, "target": f"<= {TARGETS['memory']:.0f} B",
         "met": memory <= TARGETS["memory"]},
    ]


# -- output ------------------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"
    if unit == "events/s":
        return f"{value:,.0f}/s"
    if unit == "B":
        return f"{value:,.0f} B"
    return f"{value:g}"


def print_report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print()
    print(f"lab-results-producer bench ({result['config']['mode']}) — {result['date']} — "
          f"commit {m['git_commit'][:12]}{' (producer/ modified)' if m['git_dirty_paths'] else ''}")
    print(f"{m['cpu_model']}, {m['cores']} cores, {m['ram_gib']} GiB, Python {m['python']}, "
          f"librdkafka {m['libraries']['librdkafka']}, fastavro {m['libraries']['fastavro']}; "
          f"load average {result['load_average']['start']} -> {result['load_average']['end']}")
    for note in NOTES:
        print(f"  * {note}")
    print()
    header = (f"{'#':<2} {'scenario':<52} {'size':>9} {'product':>13} {'floor':>13} "
              f"{'ratio':>7} {'(median)':>8} {'spread':>7} {'target':>8}  met")
    print(header)
    print("-" * len(header))
    for row in result["items"]:
        ratio = "-" if row["ratio"] is None else (
            f"{row['ratio']:.0%}" if row["item"] == 2 else f"{row['ratio']:.2f}x")
        median = "" if row.get("ratio_median") is None else (
            f"{row['ratio_median']:.0%}" if row["item"] == 2 else f"{row['ratio_median']:.2f}x")
        spread = row.get("product_spread_pct")
        spread_text = "" if spread is None else f"{spread:.0f}%"
        print(f"{row['item']:<2} {row['label']:<52} {row['size']:>9,} "
              f"{fmt(row['product'], row['unit']):>13} {fmt(row['floor'], row['unit']):>13} "
              f"{ratio:>7} {median:>8} {spread_text:>7} {row['target']:>8}  "
              f"{'yes' if row['met'] else 'NO'}")
    for row in result["items"]:
        if row["id"] == "2_all_changed":
            parts = row["floor_parts_s"]
            print(f"   floor of 2 = parse {parts['parse']:.3f} s + encode {parts['encode']:.3f} s"
                  f" + produce {parts['produce']:.3f} s = {row['floor_seconds']:.3f} s; "
                  f"product {row['product_seconds']:.3f} s")
        if row["id"] == "4_memory":
            b = row["breakdown_per_instance"]
            print(f"   memory: {row['python_objects_per_instance']:.0f} B/instance in Python "
                  f"objects (bytes object {b.get('value_bytes_objects', 0):.0f} incl. "
                  f"{b.get('value_payload', 0):.0f} B record, int key "
                  f"{b.get('key_int_objects', 0):.0f}, dict slots {b.get('dict_table', 0):.0f});"
                  f" {row['after_malloc_trim']:.0f} B/instance after malloc_trim; a raw "
                  f"consumer alone leaves {row['raw_consumer_rss_per_record']:.0f} B/record")
            print(f"   memory: all runs {', '.join(f'{x:.0f}' for x in row['product_all'])} B;"
                  f" peak during the restore {row['peak_per_instance']:.0f} B/instance "
                  f"(raw consumer: {row['raw_consumer_peak_per_record']:.0f} B/record)")
    print()
    print("5  scaling (best of N; ratio as above; us = microseconds per result)")
    head = (f"   {'size':>9} | {'unchanged':>9} {'parse':>9} {'ratio':>6} {'us':>6} {'met':>4} | "
            f"{'all changed':>12} {'floor':>12} {'ratio':>6} {'us':>6} {'met':>4} | "
            f"{'first poll':>11} {'ratio':>6}")
    print(head)
    print("   " + "-" * (len(head) - 3))
    for row in result["scaling"]:
        u, a, f = row["1_unchanged"], row["2_all_changed"], row["1_unchanged_first"]
        print(f"   {row['size']:>9,} | {fmt(u['product'], 's'):>9} {fmt(u['floor'], 's'):>9} "
              f"{u['ratio']:>5.2f}x {u['us_per_result']:>6.1f} {'yes' if u['met'] else 'NO':>4} | "
              f"{fmt(a['product'], 'events/s'):>12} {fmt(a['floor'], 'events/s'):>12} "
              f"{a['ratio']:>6.0%} {a['us_per_result']:>6.1f} {'yes' if a['met'] else 'NO':>4} | "
              f"{fmt(f['product'], 's'):>11} {f['ratio']:>5.2f}x")
    if result.get("producer_changed_during_run"):
        print("\n   WARNING: producer/ changed on disk during this run; the scenarios did not "
              "all measure the same code (see producer_source in the JSON)")
    for error in result.get("errors") or []:
        print(f"\n   FAILED: {error}")
    retries = result.get("start_retries") or []
    if retries:
        print(f"\n   note: LabResultsProducer.start() failed and was retried {len(retries)} "
              f"time(s) right after topic creation, e.g. {retries[0]}")
    print(f"\n{result['duration_s']:.0f} s in all; results in {result['output']}")


def write(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, path)


def main() -> int:
    from bench import common

    config = plan()
    run_id = f"{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}.{uuid.uuid4().hex[:6]}"
    output = Path(os.environ.get("BENCH_OUTPUT") or RESULTS / "latest.json")
    started = time.monotonic()
    load_start = os.getloadavg()
    info = machine()
    source_at_start = common.producer_source()
    print(f"[bench] {config['mode']} run {run_id}: sizes {config['sizes']}, restore "
          f"{config['restore_size']:,}, broker {info['kafka_bootstrap']}", file=sys.stderr)
    try:
        measured = run_all(config, run_id)
    finally:
        if not common.keep_topics():
            common.delete_topics(prefix=f"{common.TOPIC_PREFIX}{run_id}.")
    verdicts = evaluate(config, measured)
    restore_runs = measured["restore"]["product"] + measured["restore"]["raw"]
    sources = {"start": source_at_start, "end": common.producer_source(),
               **{f"polls {size}": m["producer_source"] for size, m in measured["polls"].items()},
               **{f"restore {i}": r["producer_source"] for i, r in enumerate(restore_runs)}}
    if "populate" in measured["restore"]:
        sources["populate"] = measured["restore"]["populate"]["producer_source"]
    retries = [r for m in measured["polls"].values() for r in m.get("start_retries", [])]
    retries += measured["restore"].get("populate", {}).get("start_retries", [])
    result = {
        "schema_version": 1,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "duration_s": time.monotonic() - started,
        "output": str(output.relative_to(ROOT) if output.is_relative_to(ROOT) else output),
        "machine": info,
        "load_average": {"start": [round(x, 2) for x in load_start],
                         "end": [round(x, 2) for x in os.getloadavg()]},
        "config": config,
        "targets": TARGETS,
        "notes": NOTES,
        **verdicts,
        "all_met": all(row["met"] for row in verdicts["items"]) and not measured["errors"],
        "errors": measured["errors"],
        "start_retries": retries,
        "producer_source": sources,
        "producer_changed_during_run": len(set(sources.values())) > 1,
        "git_commit_end": _git("rev-parse", "HEAD"),
        "measurements": measured,
    }
    write(result, output)
    print_report(result)
    if result["errors"]:
        return 1
    strict = os.environ.get("BENCH_STRICT", "") not in ("", "0")
    return 1 if strict and not result["all_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
