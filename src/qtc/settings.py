"""One typed settings object, built once at startup from flags and the environment."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. Environment variables: `QTC_<NAME>`, and Alpaca's own names."""

    model_config = SettingsConfigDict(env_prefix="QTC_", extra="ignore")

    data_dir: Path = Path("data")
    log_file: Path = Path("logs/qtc-orchestrator.log")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    quiet: bool = False  # the console shows the status line, warnings and errors only
    reconcile_interval: float = 30.0
    retention_days: float = 7.0
    cleanup_interval: float = 3600.0

    api_enabled: bool = True
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_rate_limit_per_minute: int = 600
    metrics_enabled: bool = True  # /metrics and what it counts; /healthz and /readyz stay

    speed: float = 400.0  # accelerated clock: simulated time runs this many times faster
    seed: int = 42
    duration_minutes: int | None = None
    # simulated runs: stop this many minutes into the next session (the demo), unless a
    # duration ends the run first; and jump over the closed market instead of pacing it
    minutes_into_next_session: int | None = Field(default=None, ge=1)
    fast_forward_closed: bool = False

    strategy_timeout: float = 5.0
    strategy_memory_mb: int = 512
    strategy_scratch_mb: int = Field(default=64, ge=1, le=65536)  # per worker, a private tmpfs
    # AST check and audit hook: clear early errors; off only to prove the kernel alone holds
    strategy_python_checks: bool = True
    require_isolation: bool = False  # refuse to start when a kernel layer is missing
    # strategy uploads: the trial load's time limit (for the load and for one call), the
    # uploads a team may make per minute (a burst of that many, then one per 60/n seconds),
    # and the consecutive failing minutes after which a version is flagged as failing
    upload_trial_timeout: float = Field(default=5.0, gt=0)
    upload_rate_limit_per_minute: int = Field(default=4, ge=1)
    strategy_failing_minutes: int = Field(default=3, ge=1)
    auto_rollback: bool = False  # a failing version is replaced by the previous one
    # where strategies run: local (forked workers), ray, ray:auto, ray:HOST:PORT, ray://HOST:PORT
    workers: str = "local"
    history_minutes: int = 120
    symbols: list[str] | None = None  # None: the simulated market's default universe

    participation: Decimal = Decimal("0.1")
    half_spread_bps: Decimal = Decimal("2")
    market_order_margin: Decimal = Decimal("0.05")

    alpaca_api_key: SecretStr | None = Field(default=None, validation_alias="ALPACA_API_KEY")
    alpaca_api_secret: SecretStr | None = Field(default=None, validation_alias="ALPACA_API_SECRET")
    alpaca_paper: bool = Field(default=True, validation_alias="ALPACA_PAPER")
    alpaca_base_url: str | None = Field(default=None, validation_alias="ALPACA_BASE_URL")
    alpaca_stream_url: str | None = Field(default=None, validation_alias="ALPACA_STREAM_URL")
    alpaca_data_url: str | None = Field(default=None, validation_alias="ALPACA_DATA_URL")
    alpaca_rate_limit_per_minute: int = 190

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: Any) -> Any:
        """`QTC_LOG_LEVEL=debug` is as good as `DEBUG`."""
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @property
    def use_alpaca(self) -> bool:
        return self.alpaca_api_key is not None and self.alpaca_api_secret is not None
