"""Which teams compete: `--teams "id;path;module:Class;capital"` and the YAML registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from qtc.domain.decimals import NotANumber, OutOfRange, bounded_decimal
from qtc.domain.ids import valid_team_id

TEAM_ARG_FORMAT = "ID;PATH;MODULE:CLASS;CAPITAL"


@dataclass(frozen=True, slots=True)
class TeamSpec:
    """One team: where its strategy lives, how to build it, and its starting capital."""

    team_id: str
    path: Path
    module: str
    class_name: str
    capital: Decimal
    params: dict[str, Any] = field(default_factory=dict)


def _identifier_path(value: str, what: str, where: str) -> str:
    parts = value.split(".")
    if not value or not all(p.isidentifier() for p in parts):
        raise ValueError(f"{where}: {what} {value!r} is not a valid Python name")
    return value


def make_spec(
    team_id: Any,
    path: Any,
    target: Any,
    capital: Any,
    params: Any = None,
    *,
    where: str = "team",
) -> TeamSpec:
    """Build a TeamSpec from raw fields, raising ValueError that names the bad field."""
    if not isinstance(team_id, str) or not valid_team_id(team_id):
        raise ValueError(
            f"{where}: team id {team_id!r} must be 1-21 letters, digits or underscores"
        )
    if not isinstance(path, str | Path) or not str(path).strip():
        raise ValueError(f"{where}: strategy path is missing")
    if not isinstance(target, str) or target.count(":") != 1:
        raise ValueError(
            f"{where}: strategy {target!r} must be MODULE:CLASS, e.g. strategy:Strategy"
        )
    module, class_name = (s.strip() for s in target.split(":"))
    _identifier_path(module, "module", where)
    if not class_name.isidentifier():
        raise ValueError(f"{where}: class {class_name!r} is not a valid Python name")
    raw = capital.strip() if isinstance(capital, str) else capital
    try:
        amount = bounded_decimal(raw, "capital")
    except OutOfRange as e:
        raise ValueError(f"{where}: {e}") from e
    except NotANumber as e:
        shown = repr(capital) if len(repr(capital)) <= 40 else f"{repr(capital)[:30]}..."
        raise ValueError(f"{where}: capital {shown} is not a number") from e
    if params is None:
        params = {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise ValueError(f"{where}: params must be a mapping of names to values")
    bad = [k for k in params if not k.isidentifier()]
    if bad:
        raise ValueError(f"{where}: params keys must be Python names, got {bad[0]!r}")
    return TeamSpec(
        team_id=team_id,
        path=Path(str(path).strip()),
        module=module,
        class_name=class_name,
        capital=amount,
        params=dict(params),
    )


def parse_team_arg(value: str) -> TeamSpec:
    """Parse one `--teams` value: `admin;./external_strategies/admin;strategy:Strategy;100000`."""
    fields = [f.strip() for f in value.split(";")]
    if len(fields) != 4:
        raise ValueError(
            f"--teams {value!r}: expected 4 ';'-separated fields {TEAM_ARG_FORMAT}, "
            f"got {len(fields)}"
        )
    team_id, path, target, capital = fields
    return make_spec(team_id, path, target, capital, where=f"--teams {value!r}")


def load_registry(path: Path) -> list[TeamSpec]:
    """Read a YAML registry: a list (or `teams:` list) of {id, path, strategy, capital, params}.

    A relative strategy path is taken relative to the registry file's folder. The module and
    class may be given as `strategy: module:Class` or as separate `module` and `class` keys.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"registry {path}: cannot read it ({e.strerror})") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"registry {path}: not valid YAML ({e})") from e
    if isinstance(data, dict) and "teams" in data:
        data = data["teams"]
    if not isinstance(data, list) or not data:
        raise ValueError(f"registry {path}: expected a non-empty list of teams")
    specs: list[TeamSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(data, start=1):
        where = f"registry {path}, team #{index}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(entry).__name__}")
        unknown = set(entry) - {
            "id",
            "team_id",
            "path",
            "strategy",
            "module",
            "class",
            "class_name",
            "capital",
            "params",
        }
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        team_id = entry.get("id", entry.get("team_id"))
        target = entry.get("strategy")
        if target is None:
            module = entry.get("module", "strategy")
            class_name = entry.get("class", entry.get("class_name", "Strategy"))
            target = f"{module}:{class_name}"
        for key in ("path", "capital"):
            if key not in entry:
                raise ValueError(f"{where}: {key!r} is missing")
        raw_path = Path(str(entry["path"]))
        if not raw_path.is_absolute():
            raw_path = Path(path).parent / raw_path
        spec = make_spec(
            team_id,
            raw_path,
            target,
            entry["capital"],
            entry.get("params"),
            where=f"{where} ({team_id})",
        )
        if spec.team_id in seen:
            raise ValueError(f"{where}: team id {spec.team_id!r} appears twice")
        seen.add(spec.team_id)
        specs.append(spec)
    return specs
