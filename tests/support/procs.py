"""Real processes for tests: a Celery worker, the web server, a throwaway Redis."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent


def spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Proc:
    """A child process with its log file; stopped (and reaped) by stop()."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.args, self.log = args, log
        self.fh = open(log, "ab")
        self.popen = subprocess.Popen(
            args, env=env, cwd=PROJECT_ROOT, stdout=self.fh, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        """Kill the whole process group (a prefork worker's children too)."""
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(5)
        self.kill(signal.SIGKILL)  # stragglers of the group
        self.fh.close()

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def child_env(test_env: dict, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJIA_")}
    env.update(test_env)
    env.update({k: str(v) for k, v in extra.items()})
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env.setdefault("C_FORCE_ROOT", "1")  # workers as root in CI containers; JSON only, no pickle
    return env


def start_worker(env: dict, log: Path, *extra: str, queues: str = "default") -> Proc:
    args = [str(VENV_BIN / "celery"), "-A", "workers.celery_app", "worker", "-Q", queues, "-l", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat", *extra]
    return Proc(args, env, log)


def start_web(env: dict, port: int, log: Path) -> Proc:
    args = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
            "service:create_app()"]
    return Proc(args, env, log)


class ThrowawayRedis:
    """A private redis-server on a spare loopback port that a test may stop and start."""

    def __init__(self, workdir: Path):
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server binary not installed: cannot run broker-outage tests")
        self.port = spare_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: _ping(client), 10, what="redis to start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _ping(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False
