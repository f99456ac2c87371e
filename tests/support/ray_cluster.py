"""A real local Ray cluster for tests and benchmarks: a head node and worker nodes, each a
`ray start` process leading its own session, so that ending one ends exactly the processes it
started (`ray stop` would end every Ray process of the user)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.waiting import wait_until

RAY = Path(sys.executable).with_name("ray")
# Ray refuses 127.0.0.1 as a node address (it swaps in the machine's outside address);
# 127.0.0.2 is loopback too, so the nodes talk over `lo`. Ray still listens on every
# interface: the cluster's token (`auth_env`) keeps everyone else out.
NODE_IP = "127.0.0.2"
CPUS_PER_NODE = 2
START_TIMEOUT_S = 120.0
# a lost node is noticed in about a second, not Ray's default fifteen
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}


def end_session(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process of the session `process` leads (the node's raylet, its workers)."""
    sid = process.pid
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) == sid:
                os.kill(int(entry), signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours to see
            continue
    process.wait(10)


@dataclass(frozen=True)
class RayNode:
    """A worker node the test started: its `ray start` process and its Ray node id."""

    process: subprocess.Popen[bytes]
    node_id: str


@dataclass
class RayCluster:
    """A head node plus worker nodes on 127.0.0.2; `address` is what `--workers ray:` takes."""

    root: Path
    port: int
    client_port: int = field(default_factory=lambda: free_port())
    # short: Ray's Unix sockets live under it, and a socket path has at most 107 bytes
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="qtc-ray-")))
    # the cluster listens beyond loopback (Ray binds every interface): only holders of this
    # token, given to the nodes and this driver through the environment, can use it
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{NODE_IP}:{self.port}"

    def _start(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.auth_env, **RAY_ENV}
        with (self.root / f"{name}.log").open("ab") as sink:
            process = subprocess.Popen(
                [str(RAY), "start", "--block", "--node-ip-address", NODE_IP, *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    @property
    def client_address(self) -> str:
        """What `--workers` takes to reach the cluster through Ray Client."""
        return f"ray://{NODE_IP}:{self.client_port}"

    @property
    def auth_env(self) -> dict[str, str]:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    def start_head(self) -> None:
        self._start(
            [
                "--head",
                "--port",
                str(self.port),
                "--num-cpus",
                str(CPUS_PER_NODE),
                "--temp-dir",
                str(self.temp_dir),
                "--ray-client-server-port",
                str(self.client_port),
                "--include-dashboard=false",
                "--disable-usage-stats",
            ],
            "head",
        )

    def add_node(self) -> RayNode:
        """Start one more worker node; returns once the cluster counts it alive."""
        before = set(self.alive_nodes())
        process = self._start(
            ["--address", self.address, "--num-cpus", str(CPUS_PER_NODE)],
            f"node{len(self.processes)}",
        )
        new = wait_until(lambda: set(self.alive_nodes()) - before, START_TIMEOUT_S, "a Ray node")
        return RayNode(process, next(iter(new)))

    def alive_nodes(self) -> list[str]:
        """The live nodes' ids, asked of the cluster by a short-lived driver."""
        import ray

        try:
            ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError):  # not up yet
            return []
        try:
            return [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        finally:
            ray.shutdown()

    def kill(self, node: RayNode) -> None:
        """Lose the node at once: its raylet, object store and workers SIGKILLed."""
        end_session(node.process)
        self.processes.remove(node.process)

    def close(self) -> None:
        for process in reversed(self.processes):
            end_session(process)
        self.processes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def start(self, workers: int = 1) -> None:
        """The head, then `workers` worker nodes; returns once all are alive."""
        self.start_head()
        wait_until(self.alive_nodes, START_TIMEOUT_S, "the Ray head node")
        for _ in range(workers):
            self.add_node()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
