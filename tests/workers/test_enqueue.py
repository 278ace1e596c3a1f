"""Enqueue fails fast: one connection attempt, then the breaker skips the broker for a while."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from service.tasking import BrokerBreaker
from tests.support.procs import child_env, spare_port

PROBE = """
import json, time
from service import create_app, tasking
app = create_app()
with app.app_context():
    results = [tasking.enqueue(tasking.PROCESS_PHOTO, i) for i in range(20)]
print(json.dumps({"results": results, "failures": tasking.breaker.failures, "skipped": tasking.breaker.skipped,
                  "options": app.extensions["celery"].conf.broker_transport_options}))
"""


def test_a_dead_broker_is_tried_once_then_skipped(test_env):
    dead = f"redis://127.0.0.1:{spare_port()}/0"  # nothing listens there
    env = child_env(test_env, HUIJIA_BROKER_URL=dead, HUIJIA_BROKER_RETRY_SECONDS=300)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["results"] == [False] * 20
    # One real attempt; the 19 after it never touched the network (the clerk's request is not held up).
    assert seen["failures"] == 1 and seen["skipped"] == 19
    assert seen["options"]["max_retries"] == 0 and seen["options"]["socket_connect_timeout"] <= 2
    assert "event=enqueue_failed" in out.stderr and out.stderr.count("event=enqueue_failed") == 1


def test_breaker_probes_once_after_the_cooldown_and_closes_on_success():
    breaker = BrokerBreaker(cooldown=0.2)
    assert breaker.allow() and not breaker.open
    breaker.record(False)
    assert breaker.open and not breaker.allow()
    time.sleep(0.3)
    assert breaker.allow()  # the probe
    others = []
    threads = [threading.Thread(target=lambda: others.append(breaker.allow())) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert others == [False] * 5  # while one caller probes, the rest skip
    breaker.record(False)  # the probe failed: open again for a full cooldown
    assert not breaker.allow()
    time.sleep(0.3)
    assert breaker.allow()
    breaker.record(True)
    assert not breaker.open and all(breaker.allow() for _ in range(3))
