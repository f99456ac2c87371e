"""The fork server: one clean process that preloads libraries and forks a worker per request.

The host starts it once per pool with a minimal environment (no API keys ever reach strategy
code), in its own session (a Ctrl-C at the terminal is the host's to handle), with numpy and
pandas imported once and shared copy-on-write by every worker. For each request it forks a
worker wired to a fresh socket pair and hands the host its end plus a pidfd, so the host can
kill exactly that process even after the pid is reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import json
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qtc.strategies import confine, wire
from qtc.strategies.worker import WorkerConfig, worker_main

_PR_SET_PDEATHSIG = 1
_CLEAN_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ")
# One BLAS thread per worker: a hundred workers share two cores.
_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ZygoteError(Exception):
    """The fork server could not start a worker."""


@dataclass(frozen=True, slots=True)
class SpawnedWorker:
    """A freshly forked worker: the host's socket end, its pid and a pidfd to signal it."""

    sock: socket.socket
    pid: int
    pidfd: int


def _read_frame(sock: socket.socket) -> bytes | None:
    header = b""
    while len(header) < wire.HEADER.size:
        chunk = sock.recv(wire.HEADER.size - len(header))
        if not chunk:
            return None
        header += chunk
    (size,) = wire.HEADER.unpack(header)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this worker when the fork server exits (which it does when the host goes).

    Without it a worker spinning in strategy code would outlive a host killed with SIGKILL.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the server died before prctl took effect
        os._exit(1)


def _name_process(name: str) -> None:
    """Show the team in `ps -o comm` and `top` (the kernel keeps 15 characters)."""
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
        comm.write(name[:15])


def _keep(worker_end: socket.socket, config: WorkerConfig, report_fd: int) -> int:
    """The keeper: enter private namespaces, fork the worker (PID 1 there), wait for it.

    A worker must be forked to be PID 1 of a new PID namespace; the keeper stays outside as its
    parent, tells the fork server the worker's pid, and exits when the worker does. The worker
    dies with the keeper, the keeper with the fork server.
    """
    os.setpgid(0, 0)  # a group of its own: kill(0, ...) from here reaches no other team
    namespaces: str | None = None
    try:
        confine.enter_namespaces()
    except OSError as e:
        namespaces = f"user namespaces not available: {e}"
    alive_r, alive_w = os.pipe()
    keeper_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(report_fd)
            os.close(alive_w)
            _die_with(keeper_pid, alive_r)
            _name_process(f"qtc-{config.team_id}")
            worker_main(worker_end, config, namespaces=namespaces)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    worker_end.close()
    os.close(alive_r)
    os.write(report_fd, str(pid).encode())
    os.close(report_fd)
    _name_process(f"qtc-keep-{config.team_id}")
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return 0


def _die_with(parent_pid: int, alive: int) -> None:
    """SIGKILL this process when its parent exits; `alive` reads EOF once the parent is gone.

    (In a new PID namespace getppid() is 0, so the pipe, not the pid, tells whether the parent
    died before prctl took effect.)
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    gone, _, _ = select.select([alive], [], [], 0)
    os.close(alive)
    if gone:
        os._exit(1)


def serve(ctrl: socket.socket, preload: Sequence[str]) -> None:
    """Zygote main loop: preload, then fork one worker per request until the host goes away."""
    for name in [*preload, "pyseccomp"]:  # pyseccomp loads libseccomp once, for every worker
        with contextlib.suppress(ImportError, OSError, RuntimeError):
            importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps exited workers
    zygote_pid = os.getpid()
    while True:
        request = _read_frame(ctrl)
        if request is None:
            return
        config: WorkerConfig = pickle.loads(request)
        host_end, worker_end = socket.socketpair()
        pid_r, pid_w = os.pipe()
        try:
            keeper = os.fork()
        except OSError as e:
            for end in (host_end, worker_end):
                end.close()
            os.close(pid_r)
            os.close(pid_w)
            ctrl.sendall(wire.frame(json.dumps({"error": f"fork failed: {e}"}).encode()))
            continue
        if keeper == 0:
            code = 0
            try:
                ctrl.close()
                host_end.close()
                os.close(pid_r)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _die_with_parent(zygote_pid)
                code = _keep(worker_end, config, pid_w)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        worker_end.close()
        os.close(pid_w)
        with os.fdopen(pid_r, "rb") as report:
            raw = report.read(32)
        try:
            pid = int(raw)
            pidfd = os.pidfd_open(pid)
        except (ValueError, ProcessLookupError):  # gone already: the host reads EOF
            pid, pidfd = keeper, os.open(os.devnull, os.O_RDONLY)
        reply = wire.frame(json.dumps({"pid": pid}).encode())
        socket.send_fds(ctrl, [reply], [host_end.fileno(), pidfd])
        host_end.close()
        os.close(pidfd)


class Zygote:
    """Host-side handle of the fork server process."""

    def __init__(self, preload: Sequence[str], cwd: Path) -> None:
        self._preload = list(preload)
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The fork server's process id, once started."""
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> socket.socket:
        ctrl, child = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {k: os.environ[k] for k in _CLEAN_ENV_KEYS if k in os.environ}
        env.update(_THREAD_ENV, PYTHONPATH=package_root, PYTHONDONTWRITEBYTECODE="1")
        self._cwd.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "qtc.strategies.zygote", str(child.fileno()), *self._preload],
            pass_fds=[child.fileno()],
            env=env,
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.close()
        ctrl.settimeout(60.0)
        self._ctrl = ctrl
        return ctrl

    def _spawn_blocking(self, config: WorkerConfig) -> SpawnedWorker:
        ctrl = self._ctrl or self._start()
        ctrl.sendall(wire.frame(pickle.dumps(config)))
        data, fds, _flags, _addr = socket.recv_fds(ctrl, 4096, 2)
        if not data:
            raise ZygoteError("the fork server exited")
        reply = json.loads(data[wire.HEADER.size :])
        if "error" in reply or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise ZygoteError(str(reply.get("error", "no worker handles received")))
        return SpawnedWorker(socket.socket(fileno=fds[0]), int(reply["pid"]), fds[1])

    async def spawn(self, config: WorkerConfig) -> SpawnedWorker:
        """Fork a worker for this config (requests are serialized over one control socket)."""
        async with self._lock:
            for attempt in (1, 2):
                try:
                    return await asyncio.to_thread(self._spawn_blocking, config)
                except (OSError, ValueError, ZygoteError) as e:
                    # A dead or confused server is replaced once before the spawn fails.
                    await asyncio.to_thread(self.close)
                    if attempt == 2:
                        raise ZygoteError(f"the fork server failed: {e}") from e
            raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the fork server (its workers exit when their host sockets close)."""
        if self._ctrl is not None:
            self._ctrl.close()
            self._ctrl = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def main(argv: Sequence[str]) -> None:
    """`python -m qtc.strategies.zygote FD [MODULE...]`: serve fork requests on socket FD."""
    ctrl = socket.socket(fileno=int(argv[0]))
    serve(ctrl, argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
