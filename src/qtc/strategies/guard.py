"""The Python-level guard inside a worker: an audit hook that names escapes early and clearly.

The AST check is the first wall; this is the second, for what the AST cannot see (code reached
through library attributes, computed names). Blocked: sockets, new processes and exec, native
code loading, file writes outside the scratch folder, and reads outside the strategy folder,
the scratch folder and the Python installation. It lives in the same interpreter as the team's
code, so it is not the boundary: the kernel's is (`confine`); this one gives clear errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_BLOCKED_PREFIXES = (
    "socket.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "os.system", "os.kill", "os.killpg", "os.setuid", "os.setgid", "pty.", "ctypes.dlopen",
    "ctypes.dlsym", "ctypes.call_function", "ctypes.PyObj_FromPtr", "mmap.",
    "sys.addaudithook", "sys.remote_exec", "webbrowser.", "urllib.", "http.",
    "ftplib.", "smtplib.", "telnetlib.", "imaplib.", "poplib.", "nntplib.", "os.startfile",
    "_winapi.", "resource.setrlimit", "os.add_dll_directory", "cpython.run_",
)  # fmt: skip

# Events whose first argument is a path that is written to.
_WRITE_EVENTS = frozenset(
    {
        "os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.link", "os.symlink",
        "os.truncate", "os.chmod", "os.chown", "os.utime", "os.chflags", "os.setxattr",
        "os.removexattr", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
        "shutil.copytree", "shutil.rmtree", "shutil.move", "shutil.make_archive",
        "shutil.chown", "sqlite3.connect", "os.mkfifo", "os.mknod",
    }
)  # fmt: skip
_LIST_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.listxattr"})

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

# Environment variables a strategy may see; everything else (keys, secrets) is dropped.
_SAFE_ENV = frozenset({"PATH", "LANG", "LC_ALL", "TZ", "PYTHONHASHSEED"})


class SandboxViolation(PermissionError):
    """A strategy tried something the sandbox forbids."""


def _resolve(raw: Any) -> Path | None:
    if isinstance(raw, int):
        return None
    try:
        return Path(os.fsdecode(raw)).resolve()
    except (TypeError, ValueError, OSError):
        return None


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def make_hook(
    write_roots: list[Path], read_roots: list[Path]
) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook for a worker; raising from it stops the audited action."""
    writes = [r.resolve() for r in write_roots]
    reads = [r.resolve() for r in read_roots] + writes

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith(_BLOCKED_PREFIXES):
            raise SandboxViolation(f"sandbox: {event} is not allowed")
        if event == "open":
            target = _resolve(args[0]) if args else None
            if target is None:
                raise SandboxViolation("sandbox: opening a file descriptor is not allowed")
            mode = args[1] if len(args) > 1 else None
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                flags & _WRITE_FLAGS
            )
            if writing and not _under(target, writes):
                raise SandboxViolation(f"sandbox: writing {target} is not allowed")
            if not writing and not _under(target, reads):
                raise SandboxViolation(f"sandbox: reading {target} is not allowed")
        elif event in _WRITE_EVENTS:
            for raw in args[:2]:
                target = _resolve(raw) if isinstance(raw, str | bytes | os.PathLike) else None
                if target is not None and not _under(target, writes):
                    raise SandboxViolation(f"sandbox: {event} on {target} is not allowed")
        elif event in _LIST_EVENTS and args:
            target = _resolve(args[0])
            if target is not None and not _under(target, reads):
                raise SandboxViolation(f"sandbox: listing {target} is not allowed")

    return hook


def scrub_environment() -> None:
    """Drop every environment variable that is not needed (API keys, secrets)."""
    for key in list(os.environ):
        if key not in _SAFE_ENV:
            del os.environ[key]
    import posix  # os.environ was copied from posix.environ at startup: clear both

    for raw in list(posix.environ):
        if os.fsdecode(raw) not in _SAFE_ENV:
            del posix.environ[raw]
