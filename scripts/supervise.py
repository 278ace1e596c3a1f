"""make run's supervisor: start every process, restart one that dies, stop all together. Standard library only.

    python scripts/supervise.py [--watch URL] NAME='COMMAND' ...

Each process runs in its own process group, so the leftovers of one that died (a Celery worker's pool
children) are killed before it is started again. A process that dies is restarted after a short backoff,
with a log line saying which, how it ended and how often; one that dies RESTART_LIMIT times within
RESTART_WINDOW seconds stops everything with exit status 1: never a silent half-system. Ctrl-C or SIGTERM
stops all (SIGTERM to each main process, then SIGKILL to
what is left of its group after STOP_TIMEOUT). With --watch, /readyz is read every WATCH_SECONDS and a
line is printed whenever its verdict changes (beat stopped, photos waiting...).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

RESTART_LIMIT = 5
RESTART_WINDOW = 60.0
STOP_TIMEOUT = 15.0
WATCH_SECONDS = 15.0
POLL_SECONDS = 0.5


def say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {message}", flush=True)


@dataclass
class Child:
    name: str
    argv: list[str]
    popen: subprocess.Popen | None = None
    started: float = 0.0
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(self.argv, start_new_session=True, preexec_fn=_die_with_parent)
        self.started = time.monotonic()
        self.restart_at = None
        say(f"event=started name={self.name} pid={self.popen.pid}")

    def signal_group(self, sig: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor itself is killed (no orphaned half-system)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def how_it_ended(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Supervisor:
    def __init__(self, children: list[Child], watch: str | None = None):
        self.children = children
        self.watch = watch
        self.stopping = False
        self.watch_at = time.monotonic() + WATCH_SECONDS
        self.watch_verdict: str | None = None

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children:
            child.start()
        try:
            while not self.stopping:
                failed = self._tend()
                if failed:
                    return self._stop_all(1, failed)
                if self.watch and time.monotonic() >= self.watch_at:
                    self._watch()
                time.sleep(POLL_SECONDS)
            return self._stop_all(0)
        except BaseException:
            self._stop_all(1)
            raise

    def _on_signal(self, signum, _frame) -> None:
        if not self.stopping:
            say(f"event=stopping reason={signal.Signals(signum).name}")
        self.stopping = True

    def _tend(self) -> str | None:
        """Notice deaths, restart after the backoff; the name of a process that keeps dying, else None."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                continue
            code = child.popen.poll()
            if code is None:
                continue
            child.signal_group(signal.SIGKILL)  # what it left behind (pool children) holds no one's work now
            child.deaths = [t for t in child.deaths if now - t < RESTART_WINDOW] + [now]
            lived = now - child.started
            if len(child.deaths) >= RESTART_LIMIT:
                say(f"event=gave_up name={child.name} pid={child.popen.pid} ended='{how_it_ended(code)}' "
                    f"deaths={len(child.deaths)} window_s={RESTART_WINDOW:.0f}: it keeps dying; stopping everything")
                return child.name
            delay = min(30.0, 2.0 ** (len(child.deaths) - 1))
            child.restart_at = now + delay
            say(f"event=process_died name={child.name} pid={child.popen.pid} ended='{how_it_ended(code)}' "
                f"lived_s={lived:.1f} restart_in_s={delay:.0f} restarts_in_window={len(child.deaths)}")
        return None

    def _watch(self) -> None:
        self.watch_at = time.monotonic() + WATCH_SECONDS
        try:
            with urllib.request.urlopen(self.watch, timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 503: degraded, with the body saying why
            try:
                body = json.loads(exc.read())
            except ValueError:
                body = {"status": f"http {exc.code}", "problems": []}
        except (OSError, ValueError) as exc:
            body = {"status": f"unreachable ({type(exc).__name__})", "problems": []}
        problems = ",".join(p.get("code", "?") for p in body.get("problems", [])) or "-"
        verdict = f"status={body.get('status')} problems={problems}"
        if verdict != self.watch_verdict:
            say(f"event=readyz {verdict}")
            self.watch_verdict = verdict

    def _stop_all(self, status: int, failed: str | None = None) -> int:
        self.stopping = True
        running = [c for c in self.children if c.popen is not None and c.popen.poll() is None]
        for child in running:  # the main process only: a Celery worker then stops its pool children itself
            child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            try:
                child.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"event=kill name={child.name} pid={child.popen.pid} after_s={STOP_TIMEOUT:.0f}")
        for child in self.children:
            child.signal_group(signal.SIGKILL)  # stragglers of every group
        if failed:
            say(f"event=stopped status={status} because={failed} (see its log lines above)")
        else:
            say(f"event=stopped status={status}")
        return status


def parse(argv: list[str]) -> tuple[list[Child], str | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watch", help="URL of /readyz to read every %.0f s" % WATCH_SECONDS)
    parser.add_argument("process", nargs="+", help="NAME=COMMAND (the command is split like a shell would)")
    args = parser.parse_args(argv)
    children = []
    for spec in args.process:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command.strip():
            parser.error(f"expected NAME=COMMAND, got {spec!r}")
        children.append(Child(name, shlex.split(command)))
    return children, args.watch


def main(argv: list[str] | None = None) -> int:
    children, watch = parse(sys.argv[1:] if argv is None else argv)
    return Supervisor(children, watch).run()


if __name__ == "__main__":
    sys.exit(main())
