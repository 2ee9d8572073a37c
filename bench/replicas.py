"""Several replicas on one machine, on loopback: PostgreSQL, Redis, `hingecoach serve`
replicas sharing one read-only index, and nginx in front of them.

    python bench/replicas.py                    # two replicas; runs until Ctrl-C
    python bench/replicas.py --replicas 3 --index /srv/hingecoach/index
    make replicas                               # the same, with the repo's index

From Debian's packages (postgresql, redis-server, nginx-light), everything in one
temporary directory: PostgreSQL initialised there (initdb) and holding the shared
question log; Redis holding the shared rate limits; the replicas; nginx with sticky
sessions for the chat (a cookie hash, or the address when a client sends no cookie) and
round-robin for /api/, passing a request to the next replica when one fails. Each
replica is health-checked on /api/health before nginx starts, and nginx's own page
before the set is reported up. Stopping stops every process this script started, by its
pid, newest first, and removes the directory. Run as root (as CI is), PostgreSQL, Redis
and nginx run as an unprivileged user (`postgres`, else `nobody`): PostgreSQL refuses root.

Tests and bench/scaling.py use ReplicaSet; docs/scaling.md explains the set-up.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "hingecoach"
NGINX_CONF = """\
# nginx in front of Hinge Coach replicas (written by bench/replicas.py; see docs/scaling.md).
worker_processes 1;
pid {work}/nginx.pid;
events {{ worker_connections 2048; }}
http {{
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    # Which replica answered and nginx's retries; no client address.
    log_format replicas '$msec $request_method $uri $status $upstream_addr '
                        '"$upstream_status" $request_time';
    access_log {work}/access.log replicas;
    client_max_body_size 2m;

    # The chat sticks to one replica: Gradio keeps a chat's queue and event stream in the
    # process that started it. The key is a cookie set on a visitor's first response, so
    # visitors behind one address (a gym's Wi-Fi) still spread; a client that keeps no
    # cookie is keyed on its address.
    map $cookie_hc_route $hc_route {{ "" $remote_addr; default $cookie_hc_route; }}
    map $cookie_hc_route $hc_new_route {{
        "" "hc_route=$request_id; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}
    upstream chat {{
        hash $hc_route consistent;
{servers}
        keepalive 16;
    }}
    # Any replica answers any /api/ request: round-robin.
    upstream api {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;  # the replicas check Origin against it
        # The replicas trust this proxy (trusted_proxies) for the visitor's address.
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        # A replica that refuses or drops the connection: the request goes to the next one,
        # POSTs included (asking a question twice is harmless; a rating replaces itself).
        proxy_next_upstream error timeout non_idempotent;
        proxy_next_upstream_tries 2;

        location /api/ {{
            proxy_pass http://api;
            proxy_read_timeout 60s;
        }}
        location / {{
            proxy_pass http://chat;
            proxy_buffering off;  # the chat streams its answer as server-sent events
            proxy_read_timeout 300s;
            add_header Set-Cookie $hc_new_route;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin(name: str) -> str:
    """A PostgreSQL server program from Debian's package (newest version installed)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise RuntimeError(f"{name} not found: apt-get install postgresql")
    return on_path


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in Path(path).parts[-3].split(".") if p.isdigit())


def service_user() -> str | None:
    """The unprivileged user the servers run as when this runs as root; None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists")


def give(path: Path, user: str | None) -> Path:
    """Make a directory (and what is in it) the service user's."""
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        for item in [path, *path.rglob("*")]:
            os.chown(item, entry.pw_uid, entry.pw_gid)
    return path


def wait_until(
    check: Callable[[], object], seconds: float, what: str, proc: subprocess.Popen | None = None
) -> None:
    """Poll `check()` until it is true; RuntimeError after `seconds` or if `proc` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in {seconds:g} s")


def healthy(url: str) -> bool:
    """True when GET url/api/health answers 200."""
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Process:
    """A server this script started: stopped by its pid with `stop_signal`, then SIGKILL."""

    name: str
    proc: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def stop(self, seconds: float = 20.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(seconds)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""


def start(name: str, args: list[str], log: Path, user: str | None = None, **kw: Any) -> Process:
    """Start a server with its output in `log`, as `user` when given."""
    out = open(log, "ab")  # noqa: SIM115 (the child keeps it; closed when the parent's is)
    try:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, user=user, **kw
        )
    finally:
        out.close()
    return Process(name, proc, log)


@dataclass
class Postgres:
    """A PostgreSQL cluster initialised in `work`, listening on 127.0.0.1 only."""

    work: Path
    user: str | None
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{DATABASE}@127.0.0.1:{self.port}/{DATABASE}"

    def init(self) -> None:
        give(self.work, self.user)
        subprocess.run(
            [
                postgres_bin("initdb"),
                "-D",
                str(self.work / "data"),
                "-U",
                DATABASE,
                "-A",
                "trust",  # loopback only, in a temporary directory
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            user=self.user,
        )

    def start(self) -> None:
        args = [
            postgres_bin("postgres"),
            "-D",
            str(self.work / "data"),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={self.port}",
            "-c",
            f"unix_socket_directories={self.work}",
        ]
        self.process = start("postgres", args, self.work / "postgres.log", self.user)
        self.process.stop_signal = signal.SIGINT  # PostgreSQL's "fast" shutdown
        wait_until(self._answers, 30, "PostgreSQL", self.process.proc)

    def _answers(self) -> bool:
        import psycopg

        with psycopg.connect(self.admin_url, connect_timeout=2):
            return True

    @property
    def admin_url(self) -> str:
        return f"postgresql://{DATABASE}@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str = DATABASE) -> str:
        """A new, empty database; its URL."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{DATABASE}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class Redis:
    """A Redis server on 127.0.0.1, keeping nothing on disk."""

    work: Path
    user: str | None
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        give(self.work, self.user)
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [redis, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.work)]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = start("redis", args, self.work / "redis.log", self.user)
        wait_until(self._answers, 15, "Redis", self.process.proc)

    def _answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class Replica:
    """One `hingecoach serve` on 127.0.0.1, behind nginx."""

    name: str
    work: Path
    index: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        args = [sys.executable, str(ROOT / "app.py"), "serve", "--port", str(self.port)]
        args += ["--index", str(self.index)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.work.mkdir(parents=True, exist_ok=True)
        self.process = start(self.name, args, self.work / f"{self.name}.log", cwd=ROOT, env=env)

    def wait_healthy(self, seconds: float = 180) -> None:
        proc = self.process.proc if self.process else None
        wait_until(lambda: healthy(self.url), seconds, self.name, proc)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.proc.poll() is None:
            os.kill(self.process.proc.pid, sig)
            self.process.proc.wait(30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class Nginx:
    """nginx on 127.0.0.1 in front of the replicas."""

    work: Path
    user: str | None
    replicas: list[Replica]
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        servers = "\n".join(
            f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=10s;"
            for r in self.replicas
        )
        return NGINX_CONF.format(work=self.work, port=self.port, servers=servers)

    def start(self) -> None:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.work / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        (self.work / "nginx.conf").write_text(self.config())
        give(self.work, self.user)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        args = [nginx, "-p", str(self.work), "-c", str(self.work / "nginx.conf")]
        args += ["-e", str(self.work / "error.log"), "-g", "daemon off;"]
        self.process = start("nginx", args, self.work / "nginx.log", self.user)
        self.process.stop_signal = signal.SIGQUIT  # graceful: finish requests in flight
        wait_until(lambda: healthy(self.url), 30, "nginx", self.process.proc)

    def access_log(self) -> list[str]:
        path = self.work / "access.log"
        return path.read_text("utf-8", "replace").splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class ReplicaSet:
    """PostgreSQL, Redis, `replicas` replicas and nginx, started in order, stopped in reverse.

    Args:
        index: the index every replica serves (read-only: none of them writes to it).
        replicas: how many `hingecoach serve` processes.
        env: HINGECOACH_* settings for every replica (e.g. HINGECOACH_RATE_LIMIT).
        work: where everything lives (default: a new temporary directory, removed at stop).
    """

    def __init__(
        self,
        index: Path,
        replicas: int = 2,
        env: Mapping[str, str] | None = None,
        work: Path | None = None,
    ) -> None:
        self._own_work = work is None
        self.work = Path(work or tempfile.mkdtemp(prefix="hingecoach-replicas-"))
        self.work.chmod(0o755)  # the service user reaches its own folders inside
        self.user = service_user()
        self.postgres = Postgres(self.work / "postgres", self.user)
        self.redis = Redis(self.work / "redis", self.user)
        self.index = Path(index)
        shared = {
            "HINGECOACH_DB": self.postgres.url,
            "HINGECOACH_RATE_LIMIT_STORAGE": self.redis.url,
            "HINGECOACH_TRUSTED_PROXIES": "127.0.0.1",  # nginx, on this machine
            **(env or {}),
        }
        self.replicas = [
            Replica(f"replica-{n + 1}", self.work / "replicas", self.index, dict(shared))
            for n in range(replicas)
        ]
        self.nginx = Nginx(self.work / "nginx", self.user, self.replicas)

    @property
    def url(self) -> str:
        """The front: nginx."""
        return self.nginx.url

    def start(self) -> ReplicaSet:
        try:
            self.postgres.init()
            self.postgres.start()
            self.postgres.create_database()
            self.redis.start()
            for replica in self.replicas:  # all at once: they migrate the log together
                replica.launch()
            for replica in self.replicas:
                replica.wait_healthy()
            self.nginx.start()
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, replica: Replica) -> None:
        """Start a stopped or killed replica again, on its port, and wait for its health."""
        replica.stop()
        replica.launch()
        replica.wait_healthy()

    def stop(self) -> None:
        """Stop every process started here, by pid, newest first; remove a temporary work."""
        parts: list[Nginx | Replica | Redis | Postgres] = [self.nginx, *reversed(self.replicas)]
        for part in [*parts, self.redis, self.postgres]:
            with contextlib.suppress(Exception):
                part.stop()
        if self._own_work and not os.environ.get("HINGECOACH_KEEP_REPLICAS"):
            shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self) -> ReplicaSet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def replica_set(index: Path, replicas: int = 2, **env: str) -> Iterator[ReplicaSet]:
    """A started ReplicaSet, stopped afterwards."""
    with ReplicaSet(index, replicas, env) as running:
        yield running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="hingecoach serve processes")
    parser.add_argument("--index", type=Path, default=ROOT / "index", help="index directory")
    args = parser.parse_args()
    if not 1 <= args.replicas <= 8:
        parser.error("replicas must be 1 to 8")
    if not (args.index / "meta.json").exists():
        print(f"building the index at {args.index} ...", file=sys.stderr)
        app = [sys.executable, str(ROOT / "app.py"), "ingest", "--index", str(args.index)]
        subprocess.run(app, check=True, cwd=ROOT)
    stop = {"now": False}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.update(now=True))
    with ReplicaSet(args.index, args.replicas) as running:
        print(f"front (nginx):   {running.url}")
        for replica in running.replicas:
            log = replica.process.log if replica.process else ""
            print(f"{replica.name}:       {replica.url}  (log {log})")
        print(f"question log:    {running.postgres.url}")
        print(f"rate limits:     {running.redis.url}")
        print(f"report:          hingecoach report --db {running.postgres.url}")
        print("Ctrl-C stops everything.", flush=True)
        up = {replica.name: True for replica in running.replicas}
        while not stop["now"]:  # health checks: say when a replica stops or starts answering
            time.sleep(1)
            for replica in running.replicas:
                now = healthy(replica.url)
                if now != up[replica.name]:
                    print(f"{replica.name}: /api/health {'answers' if now else 'FAILS'}")
                    up[replica.name] = now
    print("stopped nginx, the replicas, Redis and PostgreSQL.")


if __name__ == "__main__":
    main()
