"""Throwaway servers and a whole stack for fault tests (and bench/load): PostgreSQL, web, workers, beat.

The shared PostgreSQL and Redis of the test run are never stopped: a test that stops a server starts
its own here, on a spare loopback port, and removes it afterwards.
"""
from __future__ import annotations

import glob
import io
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.procs import VENV_BIN, Proc, ThrowawayRedis, child_env, spare_port, start_web, start_worker, wait_for

PASSWORD = "correct-horse-battery"


def _pg_bin() -> Path | None:
    found = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None)
    return Path(found).resolve().parent if found else None


class ThrowawayPostgres:
    """A private PostgreSQL cluster (initdb) on a spare port that a test may stop and start.

    PostgreSQL refuses to run as root: as root its files belong to `postgres` and the binaries
    run through `runuser -u postgres --` (as scripts/test.sh does).
    """

    def __init__(self):
        self.bin = _pg_bin()
        if self.bin is None or not (self.bin / "pg_ctl").exists():
            pytest.skip("initdb/pg_ctl not installed: cannot run PostgreSQL-restart tests")
        self.root = Path(tempfile.mkdtemp(prefix="huijia-pg-"))
        self.root.chmod(0o755)
        self.runas: list[str] = []
        if os.geteuid() == 0:
            user = "postgres" if _user_exists("postgres") else "nobody"
            shutil.chown(self.root, user)
            self.runas = ["runuser", "-u", user, "--"]
        self.port = spare_port()
        self.data = self.root / "pg"
        self.log = self.root / "pg.log"
        self._initialised = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.runas, *args], check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def start(self) -> None:
        if not self._initialised:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
            self._initialised = True
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        if self._initialised and (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def migrate_and_seed(url: str, users: dict[str, tuple[str, str | None]]) -> None:
    """Alembic to head, then a station TJHX and users {username: (role, station_code or None)}."""
    import sqlalchemy as sa
    from argon2 import PasswordHasher
    from sqlalchemy.orm import Session

    from service.models import Station, User
    from tests.conftest import _upgrade

    _upgrade(url)
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            station = Station(code="TJHX", name="天津市河西区救助管理站", city="天津")
            session.add(station)
            hashed = PasswordHasher().hash(PASSWORD)
            for name, (role, code) in users.items():
                session.add(User(username=name, role=role, password_hash=hashed, station=station if code else None))
            session.commit()
    finally:
        engine.dispose()


def small_photos(faces_dir: Path, count: int, side: int = 320, pattern: str = "*/1.jpg",
                 qualities: range = range(80, 95)) -> list[bytes]:
    """`count` small real face photos (JPEG, longest side `side`) of the files matching `pattern`, each with
    distinct bytes (as a phone sends them; also bench/faults_bench.py)."""
    from PIL import Image

    files = sorted(faces_dir.glob(pattern))
    out = []
    for i in range(count):
        with Image.open(files[i % len(files)]) as img:
            img = img.convert("RGB")
            img.thumbnail((side, side))
            buf = io.BytesIO()
            # A different quality per lap makes every upload its own content (its own file and hash).
            img.save(buf, "JPEG", quality=qualities[(i // len(files)) % len(qualities)])
            out.append(buf.getvalue())
    return out


@dataclass
class Stack:
    """gunicorn web + Celery workers (+ beat) on one environment; stopped together."""

    env: dict
    logdir: Path
    web_port: int = 0
    web: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    beat: Proc | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_web(self, workers: int = 1, threads: int = 4, *gunicorn_args: str) -> None:
        self.web_port = spare_port()
        if workers == 1 and threads == 4 and not gunicorn_args:
            self.web = start_web(self.env, self.web_port, self.logdir / "web.log")
        else:
            args = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.web_port}", "--workers", str(workers),
                    "--threads", str(threads), "--timeout", "120", *gunicorn_args, "service:create_app()"]
            self.web = Proc(args, self.env, self.logdir / "web.log")
        wait_for(lambda: _answers(f"{self.base}/healthz"), 60, what=f"web to start\n{self.web.tail()}")

    def start_worker(self, *extra: str, queues: str = "default", concurrency: int = 2) -> Proc:
        n = len(self.workers)
        proc = start_worker(self.env, self.logdir / f"worker{n}.log", "-c", str(concurrency), "-n", f"w{n}@%h",
                            *extra, queues=queues)
        self.workers.append(proc)
        return proc

    def start_beat(self) -> Proc:
        args = [str(VENV_BIN / "celery"), "-A", "workers.celery_app", "beat", "-l", "INFO",
                "-s", str(self.logdir / "beat-schedule")]
        self.beat = Proc(args, self.env, self.logdir / "beat.log")
        return self.beat

    def stop(self) -> None:
        for proc in [self.web, self.beat, *self.workers]:
            if proc is not None:
                proc.stop()

    def logs(self, n: int = 30) -> str:
        parts = []
        for proc in [self.web, self.beat, *self.workers]:
            if proc is not None:
                parts.append(f"--- {proc.log.name}\n{proc.tail(n)}")
        return "\n".join(parts)

    # --- clients ---

    def token(self, username: str) -> dict:
        resp = requests.post(f"{self.base}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                             timeout=30)
        resp.raise_for_status()
        return {"Authorization": f"Bearer {resp.json()['token']}"}

    def login(self, username: str) -> requests.Session:
        """A browser-like session logged in through the real form (with its CSRF token)."""
        session = requests.Session()
        session.post(f"{self.base}/login", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": csrf_token(session, f"{self.base}/login")},
                     allow_redirects=False, timeout=30).raise_for_status()
        return session


def children_of(pid: int) -> list[int]:
    """Direct children of a process (a prefork worker's pool), from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry))
    return kids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


STARTED = re.compile(r"supervisor: event=started name=(\w+) pid=(\d+)")


class Supervised:
    """scripts/supervise.py running web, worker, search worker and beat; what make run and docker-compose run.

    `make_run` starts scripts/run.sh itself (the embedded default when the environment names no servers);
    `processes` starts the supervisor over the production processes on the environment's servers.
    """

    BACKGROUND = ("worker", "search", "beat")

    def __init__(self, proc: Proc, port: int, background: tuple[str, ...] = BACKGROUND):
        self.proc, self.port, self.background = proc, port, background

    @classmethod
    def make_run(cls, env: dict, log: Path) -> "Supervised":
        port = spare_port()
        return cls(Proc(["bash", "scripts/run.sh"], {**env, "HUIJIA_PORT": str(port)}, log), port)

    @classmethod
    def processes(cls, env: dict, log: Path, web_workers: int = 2, threads: int | None = 4, workers: int = 1,
                  concurrency: int = 2, web_args: str = "") -> "Supervised":
        """docker-compose's processes: gunicorn, `workers` Celery workers on `default`, the search worker, beat."""
        port = spare_port()
        celery = f"{VENV_BIN / 'celery'} -A workers.celery_app"
        names = ["worker"] + [f"worker{i}" for i in range(2, workers + 1)]
        args = [str(VENV_BIN / "python"), "scripts/supervise.py", "--watch", f"http://127.0.0.1:{port}/readyz",
                f"web={VENV_BIN / 'gunicorn'} --bind 127.0.0.1:{port} --workers {web_workers} "
                + (f"--threads {threads} " if threads else "") + f"--timeout 120 {web_args} service:create_app()"]
        args += [f"{name}={celery} worker -l INFO -c {concurrency} -Q default -n {name}@%h" for name in names]
        args += [f"search={celery} worker -l INFO -c 1 -Q search -n search@%h",
                 f"beat={celery} beat -l INFO -s {log.parent / 'beat-schedule'}"]
        return cls(Proc(args, env, log), port, (*names, "search", "beat"))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        wait_for(lambda: _answers(f"{self.base}/healthz") and set(self.pids()) >= {"web", *self.background},
                 timeout, what=f"the supervised stack to start\n{self.proc.tail()}")

    def pids(self) -> dict[str, int]:
        """The latest pid of each process, from the supervisor's `event=started` lines."""
        return {name: int(pid) for name, pid in STARTED.findall(self.proc.log.read_text(errors="replace"))}

    def kill_background(self) -> dict[str, list[int]]:
        """SIGKILL every worker process (main and pool children) and beat at once; {name: pids killed}."""
        killed = {}
        for name in self.background:
            main = self.pids()[name]
            group = [main, *children_of(main)]
            for pid in group:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed[name] = group
        return killed

    def wait_restarted(self, killed: dict[str, list[int]], timeout: float = 90) -> None:
        def back():
            now = self.pids()
            return all(now.get(name) not in (None, pids[0]) and alive(now[name]) for name, pids in killed.items())

        wait_for(back, timeout, what=f"every killed process restarted\n{self.proc.tail(60)}")

    def health(self) -> dict:
        return requests.get(f"{self.base}/healthz", timeout=30).json()

    def stop(self) -> None:
        self.proc.stop(timeout=30)


def csrf_token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
    assert match, f"no csrf_token on {url}: {page.status_code}"
    return match[1]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def stack_env(test_env: dict, **extra) -> dict:
    """The test run's HUIJIA_* environment with overrides (a fresh secret so sessions are this stack's own)."""
    return child_env(test_env, HUIJIA_SECRET_KEY=secrets.token_urlsafe(32), **extra)


__all__ = ["PASSWORD", "Stack", "Supervised", "ThrowawayPostgres", "ThrowawayRedis", "alive", "children_of", "csrf_token",
           "migrate_and_seed", "small_photos", "stack_env", "wait_for", "time"]
