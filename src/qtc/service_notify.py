"""systemd's notify protocol: READY, WATCHDOG, STATUS and STOPPING datagrams to NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger("qtc.run")


@dataclass(slots=True)
class ServiceNotifier:
    """Tells the service manager how the run is doing; does nothing when none listens.

    `address` is NOTIFY_SOCKET (a path, or `@name` for an abstract socket); `watchdog_seconds`
    is WATCHDOG_USEC in seconds when the watchdog is meant for this process."""

    address: str | None = None
    watchdog_seconds: float | None = None
    _failed: bool = field(default=False, repr=False)
    _stopping: bool = field(default=False, repr=False)

    @classmethod
    def from_environ(cls, env: Mapping[str, str], pid: int) -> ServiceNotifier:
        """The notifier systemd asked for through the environment of process `pid`."""
        address = env.get("NOTIFY_SOCKET") or None
        seconds: float | None = None
        usec, for_pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog watches: a child that inherited it is not
        if usec.isdigit() and int(usec) > 0 and (not for_pid or for_pid == str(pid)):
            seconds = int(usec) / 1_000_000
        return cls(address, seconds)

    @property
    def active(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> None:
        """One datagram of `KEY=value` lines. A manager that went away never stops the run."""
        if self.address is None:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        # a socket per message, as libsystemd does: nothing stays open for workers to inherit
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(lines).encode(), target)
        except OSError as e:
            if not self._failed:
                self._failed = True
                log.warning("Cannot notify the service manager at %s (%s)", self.address, e)

    def ready(self, status: str) -> None:
        """The run is up: loaded, reconciled, about to run its first minute."""
        self.send("READY=1", f"STATUS={status}")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self) -> None:
        """Shutdown has begun (sent once)."""
        if not self._stopping:
            self._stopping = True
            self.send("STOPPING=1", "STATUS=stopping: flushing files and closing workers")

    async def run_watchdog(
        self, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    ) -> None:
        """Ping every half watchdog interval, forever, from the event loop itself: when the
        loop hangs the pings stop, and the manager restarts the run."""
        if self.address is None or self.watchdog_seconds is None:
            return
        while True:
            self.send("WATCHDOG=1")
            await sleep(self.watchdog_seconds / 2)


def notifier_for_this_process() -> ServiceNotifier:
    """The notifier of the running process, from its environment."""
    return ServiceNotifier.from_environ(os.environ, os.getpid())
