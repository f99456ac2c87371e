"""Property-based fuzzing of every documented operation: never a 5xx, always as documented.

Two sources of requests: schemathesis's coverage phase (deterministic boundary and invalid
values for every parameter, unexpected methods) and hypothesis-driven generation (positive and
negative), each once as the team itself and once with whatever key and team were generated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.generation.modes import GenerationMode

if TYPE_CHECKING:
    from conftest import Stack

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def _schema(stack: Stack) -> Any:
    # the stream never ends by itself, so it is tested on its own (test_api_stream.py)
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    return schema.exclude(path_regex="/orders/stream$")


def _as_team(case: Any, stack: Stack) -> None:
    if "team_id" in (case.path_parameters or {}):
        case.path_parameters["team_id"] = "alpha"
    case.headers = {**(case.headers or {}), "X-API-Key": stack.key["alpha"]}


def _call_and_check(case: Any, stack: Stack, session: requests.Session) -> int:
    response = case.call(base_url=stack.base_url, session=session, timeout=10)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if case.method.upper() == case.operation.method.upper():
        case.validate_response(response, checks=CHECKS)
    else:  # an undocumented method: only "not documented" is expected
        assert response.status_code == 405
    return int(response.status_code)


def _coverage(stack: Stack, as_team: bool) -> dict[int, int]:
    schema = _schema(stack)
    statuses: dict[int, int] = {}
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for case in schema.iter_coverage_cases(
                operation,
                generation_modes=list(GenerationMode),
                generation_config=schema.config.generation_for(operation=operation),
            ):
                if as_team:
                    _as_team(case, stack)
                status = _call_and_check(case, stack, session)
                statuses[status] = statuses.get(status, 0) + 1
    return statuses


def _fuzz(stack: Stack, strategy: st.SearchStrategy[Any], examples: int) -> None:
    session = requests.Session()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        _call_and_check(case, stack, session)

    try:
        run()
    finally:
        session.close()


def test_boundary_values_never_give_a_server_error(shared_stack: Stack) -> None:
    shared_stack.place("alpha", "AAPL", "buy", "1", "90")
    as_team = _coverage(shared_stack, as_team=True)
    assert as_team.get(200, 0) > 20 and as_team.get(422, 0) > 20 and as_team.get(404, 0) > 5
    anyone = _coverage(shared_stack, as_team=False)
    assert anyone.get(401, 0) + anyone.get(403, 0) + anyone.get(422, 0) > 20


def test_generated_requests_never_give_a_server_error(shared_stack: Stack) -> None:
    schema = _schema(shared_stack)
    own = {
        "path_parameters": {"team_id": "alpha"},
        "headers": {"X-API-Key": shared_stack.key["alpha"]},
    }
    _fuzz(shared_stack, schema.as_strategy(**own), examples=150)
    _fuzz(shared_stack, schema.as_strategy(GenerationMode.NEGATIVE, **own), examples=100)
    _fuzz(shared_stack, schema.as_strategy(), examples=100)
    _fuzz(shared_stack, schema.as_strategy(GenerationMode.NEGATIVE), examples=100)
