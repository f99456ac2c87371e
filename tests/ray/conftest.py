"""The Ray tests' cluster: a head and one worker node for the session (tests/support)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.ray_cluster import RayCluster, free_port


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """Head plus one worker node, for the whole session; this process's drivers get the token."""
    cluster = RayCluster(tmp_path_factory.mktemp("ray-cluster"), free_port())
    with pytest.MonkeyPatch.context() as env:
        for name, value in cluster.auth_env.items():
            env.setenv(name, value)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.close()
