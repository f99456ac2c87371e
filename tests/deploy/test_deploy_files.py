"""The deploy files pass their own tools' checks: systemd-analyze, compose config, promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qtc.strategies.teams import load_registry

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "qtc.service"
INSTALLED_QTC = "/opt/qtc/bin/qtc"
# the names the /metrics endpoint exports (issue 16); an alert on any other name never fires
METRICS = {
    "qtc_minutes_processed_total",
    "qtc_minute_duration_seconds",
    "qtc_last_minute_timestamp_seconds",
    "qtc_strategy_timeouts_total",
    "qtc_strategy_call_seconds",
    "qtc_reconcile_cycles_total",
    "qtc_reconcile_last_success_timestamp_seconds",
    "qtc_broker_requests_total",
    "qtc_stream_connected",
    "qtc_stream_reconnects_total",
    "qtc_data_dir_free_bytes",
    "qtc_open_orders",
    "qtc_fills_total",
}


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.fail(f"{' or '.join(names)} is missing: .ci/run installs it with apt-get")


def _run(command: list[str], cwd: Path | None = None) -> tuple[int, str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)
    return result.returncode, (result.stdout + result.stderr).strip()


# --- the systemd unit -------------------------------------------------------------------------


def _unit_problems(text: str, folder: Path) -> str:
    """What `systemd-analyze verify` says of this unit text ('' when clean). The copy runs this
    venv's qtc, since verify checks that ExecStart's binary exists."""
    qtc = Path(sys.executable).parent / "qtc"
    assert qtc.is_file(), f"{qtc} is missing"
    unit = folder / "qtc.service"
    unit.write_text(text.replace(INSTALLED_QTC, str(qtc)))
    code, output = _run([_tool("systemd-analyze"), "verify", str(unit)])
    # verify exits 0 on a bad value or an unknown key: it only says "..., ignoring"
    return output or ("" if code == 0 else f"exit code {code}")


def _unit_settings(text: str) -> dict[str, str]:
    lines = (line.strip() for line in text.splitlines())
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_the_unit_verifies_clean(tmp_path: Path) -> None:
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_QTC} run " in text
    assert _unit_problems(text, tmp_path) == ""


@pytest.mark.parametrize(
    ("line", "broken"),
    [
        ("Restart=on-failure", "Restart=sometimes"),
        ("WatchdogSec=60", "WatchdogSecs=60"),
        ("RestrictNamespaces=user pid net mnt ipc", "RestrictNamespaces=user pid net mount ipc"),
        (f"ExecStart={INSTALLED_QTC} run", f"ExecStart={INSTALLED_QTC}-gone run"),
        ("[Service]", "[Servce]"),
    ],
)
def test_a_broken_unit_fails_the_check(tmp_path: Path, line: str, broken: str) -> None:
    text = UNIT.read_text()
    assert line in text
    assert _unit_problems(text.replace(line, broken, 1), tmp_path) != ""


def test_the_unit_is_a_hardened_notify_service_that_leaves_the_workers_their_namespaces(
    tmp_path: Path,
) -> None:
    settings = _unit_settings(UNIT.read_text())
    assert settings["Type"] == "notify" and int(settings["WatchdogSec"]) > 0
    assert settings["Restart"] == "on-failure" and settings["User"] == "qtc"
    assert settings["StateDirectory"] == "qtc" and "--data-dir %S/qtc" in settings["ExecStart"]
    assert settings["EnvironmentFile"] == "/etc/qtc/qtc.env"
    assert set(settings["RestrictNamespaces"].split()) == {"user", "pid", "net", "mnt", "ipc"}
    for option in ("PrivateUsers", "ProtectProc", "ProcSubset", "MemoryDenyWriteExecute"):
        assert option not in settings
    # systemd's own score of the sandbox (0 best, 10 worst); fails above 3.0
    unit = tmp_path / "qtc.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_QTC, str(Path(sys.executable))))
    code, output = _run(
        [_tool("systemd-analyze"), "security", "--offline=yes", "--threshold=30", str(unit)]
    )
    assert code == 0, output


# --- compose ----------------------------------------------------------------------------------


def _compose() -> list[str]:
    docker = shutil.which("docker")
    if docker is not None and _run([docker, "compose", "version"])[0] == 0:
        return [docker, "compose"]
    return [_tool("docker-compose")]


def test_the_compose_file_passes_the_config_check() -> None:
    code, output = _run([*_compose(), "-f", str(ROOT / "compose.yaml"), "config"], cwd=ROOT)
    assert code == 0, output
    config = yaml.safe_load(output)
    assert set(config["services"]) == {"qtc", "prometheus"}
    mounted = [v.split(":")[0] for v in config["services"]["prometheus"]["volumes"]]
    assert str(DEPLOY / "prometheus.yml") in mounted and str(DEPLOY / "alerts.yml") in mounted
    assert any("8000" in str(port) for port in config["services"]["qtc"]["ports"])


@pytest.mark.parametrize(
    ("line", "broken"),
    [
        ("services:", "servces:"),
        ("    restart: unless-stopped", "    restartt: unless-stopped"),
        ("stop_grace_period: 2m", "stop_grace_period: [2m]"),
    ],
)
def test_a_broken_compose_file_fails_the_check(tmp_path: Path, line: str, broken: str) -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert line in text
    broken_file = tmp_path / "compose.yaml"
    broken_file.write_text(text.replace(line, broken, 1))
    code, _ = _run([*_compose(), "-f", str(broken_file), "config", "-q"], cwd=tmp_path)
    assert code != 0


# --- Prometheus -------------------------------------------------------------------------------


def test_prometheus_config_and_rules_pass_promtool() -> None:
    promtool = _tool("promtool")
    for command in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],  # every failure mode fires its alert
    ):
        code, output = _run([promtool, *command], cwd=DEPLOY)
        assert code == 0, output


def test_a_broken_rule_fails_promtool(tmp_path: Path) -> None:
    text = (DEPLOY / "alerts.yml").read_text()
    line = "expr: qtc_stream_connected == 0"
    assert line in text
    (tmp_path / "alerts.yml").write_text(text.replace(line, "expr: qtc_stream_connected ==", 1))
    code, _ = _run([_tool("promtool"), "check", "rules", "alerts.yml"], cwd=tmp_path)
    assert code != 0


def test_the_alerts_cover_the_failure_modes_with_the_exported_names() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert {
        "QTCDown",
        "QTCMinutesNotProcessed",
        "QTCReconciliationStalled",
        "QTCBrokerRateLimited",
        "QTCStrategyTimingOutEveryMinute",
        "QTCDiskNearlyFull",
    } <= names
    used = {m for rule in rules for m in re.findall(r"\bqtc_[a-z_]+", rule["expr"])}
    assert used and used <= METRICS, used - METRICS


# --- the image's inputs -----------------------------------------------------------------------


def test_the_default_registry_of_the_image_loads() -> None:
    specs = load_registry(DEPLOY / "teams.example.yaml")
    assert [s.team_id for s in specs] == ["buyhold", "meanrev", "stale"]
    assert all(s.path.is_dir() for s in specs)
