"""Team specs from `--teams` values and from the YAML registry."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from qtc.strategies.teams import load_registry, parse_team_arg


def test_team_arg_in_the_competition_format() -> None:
    spec = parse_team_arg("admin;./external_strategies/admin;strategy:Strategy;100000")
    assert spec.team_id == "admin"
    assert spec.path == Path("external_strategies/admin")
    assert (spec.module, spec.class_name) == ("strategy", "Strategy")
    assert spec.capital == Decimal("100000")
    assert spec.params == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("admin;./x;strategy:Strategy", "expected 4 ';'-separated fields"),
        ("bad-id;./x;strategy:Strategy;1000", "team id 'bad-id'"),
        ("a" * 22 + ";./x;strategy:Strategy;1000", "must be 1-21 letters"),
        ("admin;;strategy:Strategy;1000", "strategy path is missing"),
        ("admin;./x;strategy.Strategy;1000", "must be MODULE:CLASS"),
        ("admin;./x;my-module:Strategy;1000", "module 'my-module' is not a valid"),
        ("admin;./x;strategy:9Class;1000", "class '9Class' is not a valid"),
        ("admin;./x;strategy:Strategy;lots", "capital 'lots' is not a number"),
        ("admin;./x;strategy:Strategy;-5", "capital must be positive"),
        ("admin;./x;strategy:Strategy;nan", "capital 'nan' is not a number"),
    ],
)
def test_bad_team_args_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_team_arg(value)


def test_registry_reads_teams_with_params(tmp_path: Path) -> None:
    registry = tmp_path / "teams.yaml"
    registry.write_text(
        "teams:\n"
        "  - id: alpha\n"
        "    path: strategies/alpha\n"
        "    strategy: main:Alpha\n"
        "    capital: 50000.50\n"
        "    params: {window: 30, symbols: [AAPL, MSFT]}\n"
        "  - id: beta\n"
        "    path: /abs/beta\n"
        "    capital: 100000\n"
    )
    alpha, beta = load_registry(registry)
    assert alpha.team_id == "alpha"
    assert alpha.path == tmp_path / "strategies" / "alpha"
    assert (alpha.module, alpha.class_name) == ("main", "Alpha")
    assert alpha.capital == Decimal("50000.5")
    assert alpha.params == {"window": 30, "symbols": ["AAPL", "MSFT"]}
    assert (beta.path, beta.module, beta.class_name) == (Path("/abs/beta"), "strategy", "Strategy")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("teams: [\n", "not valid YAML"),
        ("{}\n", "expected a non-empty list"),
        ("- just a string\n", "expected a mapping, got str"),
        ("- {id: a, capital: 5}\n", "'path' is missing"),
        ("- {id: a, path: x, capital: 5, colour: red}\n", "unknown keys \\['colour'\\]"),
        ("- {id: a, path: x, capital: 5, params: [1]}\n", "params must be a mapping"),
        ("- {id: a b, path: x, capital: 5}\n", "team id 'a b'"),
        ("- {id: a, path: x, capital: 5}\n- {id: a, path: y, capital: 5}\n", "appears twice"),
    ],
)
def test_bad_registry_says_where(tmp_path: Path, text: str, message: str) -> None:
    registry = tmp_path / "teams.yaml"
    registry.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_registry(registry)
    assert str(registry) in str(info.value)


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read it"):
        load_registry(tmp_path / "absent.yaml")
