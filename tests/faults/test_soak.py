"""The soak: hundreds of SIGKILLs and several broker restarts, then the stream check.

Not part of ``make test``; ``make soak`` runs it (``-m soak``) and prints the
figures the README's reliability section quotes. ``SOAK_TRIALS`` trials, each
with ``SOAK_KILLS`` kills and one broker restart, on a broker of its own.
"""

from __future__ import annotations

import json
import os
import random
import time

import pytest

from tests.faults.harness import (
    ProducerProcess,
    check_stream,
    producer_env,
    sim_history,
    sim_visible,
)

pytestmark = [pytest.mark.kafka, pytest.mark.soak]
TRIALS = int(os.environ.get("SOAK_TRIALS", "4"))
KILLS = int(os.environ.get("SOAK_KILLS", "60"))


@pytest.mark.parametrize("trial", range(TRIALS))
def test_soak(trial, own_broker, tmp_path) -> None:
    from producer.simulator import Simulator, start_in_thread

    rng = random.Random(trial)
    sim = start_in_thread(Simulator(seed=100 + trial, speed=120, rate=1500,
                                    initial_instances=300))
    names = {"events_topic": f"events{trial}", "state_topic": f"state{trial}",
             "transactional_id": f"soak{trial}"}
    env = producer_env(sim.url, own_broker.bootstrap, names, poll_deadline_seconds=8)
    restart_at = rng.randrange(KILLS)
    restarts = 0
    try:
        for kill in range(KILLS):
            producer = ProducerProcess(env, tmp_path)
            time.sleep(rng.uniform(0.2, 4.0))
            if kill == restart_at:
                own_broker.down()
                time.sleep(rng.uniform(5, 30))
                own_broker.up()
                restarts += 1
                time.sleep(rng.uniform(0, 3))
            producer.kill()
        sim.simulator.freeze()
        final = ProducerProcess(env, tmp_path, command="once")
        assert final.wait(180) == 0, final.log()[-3000:]
        check = check_stream(own_broker.bootstrap, names["events_topic"], sim_history(sim.url),
                             sim_visible(sim.url))
    finally:
        sim.close()
    figures = {"trial": trial, "kills": KILLS, "broker_restarts": restarts,
               "events_checked": check.events, "instances": check.instances,
               "lost": check.lost, "duplicated": check.duplicated,
               "problems": len(check.problems)}
    print("SOAK " + json.dumps(figures))
    assert check.problems == []
