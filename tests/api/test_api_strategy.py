"""The strategy routes' answers: the key, refusals with reasons (nothing stored), the upload
bucket, and a version that does not exist. (Accepted uploads and swaps: tests/run.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qtc.store.strategy_versions import VersionStore
from qtc.strategies.sandbox import StrategyPool
from qtc.uploads.service import StrategyDesk

if TYPE_CHECKING:
    from conftest import Stack

IMPORTS_OS = b"import os\n\n\nclass Strategy:\n    pass\n"


def _stack(make_stack: Callable[..., Stack], tmp_path, **kwargs) -> tuple[Stack, VersionStore]:
    store = VersionStore(tmp_path / "versions")
    pool = StrategyPool([], scratch_root=tmp_path / "scratch")  # a trial is never reached
    desk = StrategyDesk(store, pool, scratch_root=tmp_path / "scratch", trial_timeout=1.0)
    return make_stack(desk=desk, **kwargs), store


def test_uploads_need_the_team_key_and_refusals_say_why_and_store_nothing(
    make_stack: Callable[..., Stack], tmp_path
) -> None:
    stack, store = _stack(make_stack, tmp_path)
    files = [("file", ("strategy.py", IMPORTS_OS))]
    with stack.client() as client:
        assert client.post("/api/v1/team/alpha/strategy", files=files).status_code == 401
        other = {"X-API-Key": stack.key["beta"]}
        answer = client.post("/api/v1/team/alpha/strategy", files=files, headers=other)
        assert answer.status_code == 403
        mine = {"X-API-Key": stack.key["alpha"]}
        answer = client.post("/api/v1/team/alpha/strategy", files=files, headers=mine)
        assert answer.status_code == 422
        assert answer.json()["reasons"] == [
            "strategy.py:1: import of 'os' is refused (it reaches the file system and processes)"
        ]
        assert answer.json()["detail"].startswith("strategy refused: strategy.py:1:")
        listing = client.get("/api/v1/team/alpha/strategy", headers=mine).json()
        assert listing == {
            "team_id": "alpha", "active": None, "activated_at": None, "failing": False,
            "failure": None, "versions": [],
        }  # fmt: skip
        answer = client.post(
            "/api/v1/team/alpha/strategy/activate", json={"version": 1}, headers=mine
        )
        assert answer.status_code == 404 and "no strategy version 1" in answer.json()["detail"]
        answer = client.post("/api/v1/team/alpha/strategy/rollback", headers=mine)
        assert answer.status_code == 409
    assert store.versions("alpha") == []


def test_uploads_have_their_own_stricter_bucket(make_stack: Callable[..., Stack], tmp_path) -> None:
    stack, _ = _stack(make_stack, tmp_path, upload_rate_limit_per_minute=2)
    mine = {"X-API-Key": stack.key["alpha"]}
    files = [("file", ("strategy.py", IMPORTS_OS))]
    with stack.client() as client:
        codes = [
            client.post("/api/v1/team/alpha/strategy", files=files, headers=mine).status_code
            for _ in range(3)
        ]
        assert codes == [422, 422, 429]
        limited = client.post("/api/v1/team/alpha/strategy", files=files, headers=mine)
        assert int(limited.headers["Retry-After"]) >= 1
        # other routes and other teams are not held back by one team's uploads
        assert client.get("/api/v1/team/alpha/strategy", headers=mine).status_code == 200
        beta = {"X-API-Key": stack.key["beta"]}
        answer = client.post("/api/v1/team/beta/strategy", files=files, headers=beta)
        assert answer.status_code == 422


def test_an_oversized_or_unkeyed_upload_is_refused_before_its_body_is_read(
    make_stack: Callable[..., Stack], tmp_path
) -> None:
    stack, store = _stack(make_stack, tmp_path)
    big = [("file", ("strategy.py", b"#" * (2 * 1024 * 1024)))]
    with stack.client() as client:
        answer = client.post("/api/v1/team/alpha/strategy", files=big)
        assert answer.status_code == 401
        mine = {"X-API-Key": stack.key["alpha"]}
        answer = client.post("/api/v1/team/alpha/strategy", files=big, headers=mine)
        assert answer.status_code == 422
        assert answer.json()["reasons"][0].startswith("the upload is 2097")
        assert answer.json()["reasons"][0].endswith("bytes (at most 1048576)")
    assert store.versions("alpha") == []


def test_a_body_that_is_not_json_is_a_bad_parameter_not_a_bare_400(
    make_stack: Callable[..., Stack], tmp_path
) -> None:
    stack, store = _stack(make_stack, tmp_path)
    mine = {"X-API-Key": stack.key["alpha"], "Content-Type": "application/json"}
    with stack.client() as client:
        for body, says in ((b"\x19{[\xff\xfe", "body: not readable"), (b"{not", "JSON")):
            answer = client.post("/api/v1/team/alpha/strategy/activate", content=body, headers=mine)
            assert answer.status_code == 422, answer.text
            assert says in answer.json()["detail"]
    assert store.versions("alpha") == []
