"""The worker process: loads one team's strategy, then answers one request per minute.

It runs forked from the pool's fork server (which preloads numpy and pandas), restricts itself
behind the kernel boundary (`confine`) before the team's code is imported, talks to the host
over one socket, and never trusts the strategy with anything the host will unpickle:
requests arrive pickled, replies leave as JSON.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import socket
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtc.strategies import confine, guard, wire


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything a worker needs to load its strategy (picklable, no live objects)."""

    team_id: str
    path: str
    module: str
    class_name: str
    params: dict[str, Any]
    scratch: str
    memory_mb: int
    scratch_mb: int = 64
    hidden: tuple[str, ...] = ()  # folders the worker must not see (the data directory)
    python_guard: bool = True  # the audit hook (off only to prove the kernel boundary alone)
    require_isolation: bool = False  # refuse to load when a kernel layer is missing


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buf)


def _recv_frame(sock: socket.socket) -> bytes | None:
    header = _recv_exact(sock, wire.HEADER.size)
    if header is None:
        return None
    (size,) = wire.HEADER.unpack(header)
    return _recv_exact(sock, size)


def _send(sock: socket.socket, reply: dict[str, Any]) -> None:
    try:
        payload = wire.encode_reply(reply)
    except (TypeError, ValueError) as e:
        payload = wire.encode_reply({"seq": reply.get("seq"), "error": f"unencodable reply: {e}"})
    if len(payload) > wire.MAX_REPLY_BYTES:
        payload = wire.encode_reply(
            {
                "seq": reply.get("seq"),
                "error": f"output is {len(payload)} bytes (max {wire.MAX_REPLY_BYTES})",
            }
        )
    sock.sendall(wire.frame(payload))


def _describe(exc: BaseException, strategy_dir: str) -> str:
    """`Type: message (at file.py:line)`, pointing at the strategy's own code when possible."""
    if isinstance(exc, MemoryError):
        text = "MemoryError: the strategy exceeded its memory limit"
    else:
        text = f"{type(exc).__name__}: {wire.short_repr(str(exc), 300)[1:-1]}"
    try:
        frames = traceback.extract_tb(exc.__traceback__)
    except Exception:
        frames = traceback.StackSummary()
    own = [f for f in frames if f.filename.startswith(strategy_dir)]
    if own:
        last = own[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno})"
    return text


def _isolate(config: WorkerConfig, namespaces: str | None) -> confine.Layers:
    """Output to a log in scratch; the kernel boundary; then the Python-level guard on top."""
    scratch = Path(config.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(scratch / "output.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.close(null_fd)
    sys.dont_write_bytecode = True  # no __pycache__ written into the strategy folder
    plan = confine.plan_for(
        config.path,
        config.scratch,
        config.hidden,
        scratch_mb=config.scratch_mb,
        memory_mb=config.memory_mb,
    )
    sys.path[:] = [config.path] + [
        p
        for p in sys.path
        if p and Path(p).is_absolute() and any(Path(p).is_relative_to(r) for r in plan.read_roots)
    ]
    guard.scrub_environment()
    os.environ["TMPDIR"] = config.scratch
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file fails, it does not kill
    layers = confine.confine(plan, namespaces=namespaces)
    os.chdir(scratch)
    if config.python_guard:
        read_roots = [Path(r) for r in plan.read_roots]
        sys.addaudithook(guard.make_hook([scratch], [Path(config.path), *read_roots]))
    return layers


def _load(config: WorkerConfig) -> Any:
    module = importlib.import_module(config.module)
    cls = getattr(module, config.class_name, None)
    if cls is None:
        raise LookupError(f"module {config.module!r} has no class {config.class_name!r}")
    instance = cls(**config.params)
    if not callable(getattr(instance, "generate_signal", None)):
        raise LookupError(f"{config.class_name} has no generate_signal method")
    return instance


def _call(strategy: Any, request: bytes, strategy_dir: str) -> dict[str, Any]:
    seq, team, bars_bytes, prices_bytes = pickle.loads(request)
    reply: dict[str, Any] = {"seq": seq}
    bars = pickle.loads(bars_bytes)
    prices = pickle.loads(prices_bytes)
    try:
        output = strategy.generate_signal(team, bars, prices)
    except BaseException as e:  # SystemExit and KeyboardInterrupt from a strategy too
        reply["error"] = _describe(e, strategy_dir)
        return reply
    try:
        reply["output"] = wire.to_json_safe(output)
    except wire.GarbageOutput as e:
        reply["error"] = f"returned garbage: {e}"
        reply["signal"] = wire.short_repr(output)
    except BaseException as e:  # a hostile __len__ / __iter__ on the returned object
        reply["error"] = f"returned garbage: {_describe(e, strategy_dir)}"
        reply["signal"] = wire.short_repr(output)
    return reply


def worker_main(sock: socket.socket, config: WorkerConfig, *, namespaces: str | None) -> None:
    """Entry point of a worker process: isolate, load, then serve until the socket closes.

    `namespaces` is None when the keeper put this process in private namespaces, else why not.
    """
    strategy_dir = str(Path(config.path).resolve())
    try:
        layers = _isolate(config, namespaces)
    except BaseException as e:
        _send(sock, {"seq": 0, "error": f"isolation failed: {_describe(e, strategy_dir)}"})
        return
    # Sent before any team code runs, so the host can trust what it says.
    _send(sock, {"seq": 0, "isolation": layers.as_dict()})
    if config.require_isolation and layers.missing:
        missing = "; ".join(f"{k}: {v}" for k, v in layers.missing.items())
        _send(sock, {"seq": 0, "error": f"isolation required but missing: {missing}"})
        return
    try:
        strategy = _load(config)
    except BaseException as e:
        _send(sock, {"seq": 0, "error": _describe(e, strategy_dir)})
        return
    _send(sock, {"seq": 0, "ok": True})
    while True:
        request = _recv_frame(sock)
        if request is None:
            return
        _send(sock, _call(strategy, request, strategy_dir))
