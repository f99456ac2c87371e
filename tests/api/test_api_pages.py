"""The pages, their files and Swagger UI come from the package itself (nothing from a CDN), and
`/api/v1/whoami` tells the team console which team a key belongs to."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Stack

_ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def test_the_pages_and_docs_load_only_local_files(shared_stack: Stack) -> None:
    with shared_stack.client() as client:
        for path in ("/", "/team", "/docs"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert "default-src 'self'" in page.headers["content-security-policy"]
            assets = _ASSET.findall(page.text)
            assert assets, path
            for asset in assets:
                assert asset.startswith(("/", "data:")), (path, asset)
                if asset.startswith("/static/"):
                    answer = client.get(asset)
                    assert answer.status_code == 200 and answer.content, asset
        docs = client.get("/docs").text
        assert "cdn" not in docs.lower() and "/static/vendor/swagger-ui/" in docs
        assert client.get("/redoc").status_code == 404
        assert "/" not in client.get("/openapi.json").json()["paths"]


def test_whoami_names_the_team_of_a_key_and_refuses_a_wrong_one(shared_stack: Stack) -> None:
    with shared_stack.client() as client:
        for team_id, key in shared_stack.key.items():
            answer = client.get("/api/v1/whoami", headers={"X-API-Key": key})
            assert answer.status_code == 200 and answer.json() == {"team_id": team_id}
        wrong = client.get("/api/v1/whoami", headers={"X-API-Key": "nope"})
        missing = client.get("/api/v1/whoami")
        in_url = client.get("/api/v1/whoami", params={"key": shared_stack.key["alpha"]})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid API key"}
    assert missing.status_code == 401 and in_url.status_code == 401
