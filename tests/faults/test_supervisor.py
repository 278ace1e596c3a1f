"""scripts/supervise.py itself: a dead process comes back with a log line; one that keeps dying stops all, loudly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from service.config import PROJECT_ROOT
from tests.faults.servers import STARTED, alive, wait_for

SUPERVISE = [sys.executable, str(PROJECT_ROOT / "scripts" / "supervise.py")]


def test_a_process_that_dies_is_restarted_and_one_that_keeps_dying_stops_everything(tmp_path):
    log = tmp_path / "supervisor.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*SUPERVISE, "steady=sleep 600", "flaky=sh -c 'sleep 0.2; exit 3'"],
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait(120)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert proc.returncode == 1, text
    assert "event=process_died name=flaky" in text and "ended='exit status 3'" in text and "restart_in_s=" in text
    assert "event=gave_up name=flaky" in text and "stopping everything" in text
    assert "event=stopped status=1 because=flaky" in text
    steady = [int(pid) for name, pid in STARTED.findall(text) if name == "steady"]
    assert len(steady) == 1 and not alive(steady[0]), "the healthy process must be stopped with the rest"


def test_sigkill_is_named_and_sigterm_stops_all(tmp_path):
    log = tmp_path / "supervisor.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*SUPERVISE, "one=sleep 600", "two=sleep 600"], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: len(STARTED.findall(log.read_text())) == 2, 30, what="both started")
            first = dict(STARTED.findall(log.read_text()))
            os.kill(int(first["one"]), signal.SIGKILL)
            wait_for(lambda: len(STARTED.findall(log.read_text())) == 3, 30, what="`one` restarted")
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert "event=process_died name=one" in text and "ended='killed by SIGKILL'" in text
    assert not any(alive(int(pid)) for _name, pid in STARTED.findall(text))
