"""The flags of `qtc exchange` read into an ExchangeConfig, each value checked and named."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from qtc.domain.decimals import NotANumber, bounded_decimal
from qtc.exchange.server.control_token import CONTROL_TOKEN_ENV, new_control_token, token_problem
from qtc.exchange.server.local_exchange import ExchangeConfig

# The same window `qtc run --start` accepts.
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_START_AHEAD = timedelta(days=366)
MIN_MS_PER_MINUTE = 1.0
MAX_MS_PER_MINUTE = 3_600_000.0  # an hour of real time per simulated minute
MAX_RATE_LIMIT = 1_000_000
MAX_PORT = 65_535


class OptionError(ValueError):
    """A flag's value `qtc exchange` cannot start with; the message names the flag."""


def exchange_config(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> tuple[ExchangeConfig, bool]:
    """The config the flags describe, and whether its control token was generated here (then
    the operator must be shown it). Raises OptionError naming the first bad flag."""
    token, generated = control_token(args, os.environ if env is None else env)
    if not 0 <= args.port <= MAX_PORT:
        raise OptionError(f"--port {args.port} is out of range (0 to {MAX_PORT})")
    if not 0 <= args.rate_limit <= MAX_RATE_LIMIT:
        raise OptionError(f"--rate-limit {args.rate_limit} is out of range (0 to {MAX_RATE_LIMIT})")
    config = ExchangeConfig(
        seed=args.seed,
        clock=args.clock,
        ms_per_minute=ms_per_minute(args.ms_per_minute),
        start=None if args.start is None else start_time(args.start),
        symbols=args.symbols,
        api_key=args.key,
        api_secret=args.secret,
        buying_power=buying_power(args.buying_power),
        rate_limit_per_minute=args.rate_limit or None,
        control_token=token,
    )
    return config, generated


def control_token(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str | None, bool]:
    """(token, generated): `--control-token`, else `$QTC_CONTROL_TOKEN`, else a fresh one;
    (None, False) with `--open-control`, which excludes the other two."""
    given = args.control_token if args.control_token is not None else env.get(CONTROL_TOKEN_ENV)
    if args.open_control:
        if given is not None:
            raise OptionError(
                f"--open-control turns the control token off: drop --control-token and "
                f"{CONTROL_TOKEN_ENV}, or --open-control"
            )
        return None, False
    if given is None:
        return new_control_token(), True
    problem = token_problem(given)
    if problem is not None:
        where = "--control-token" if args.control_token is not None else CONTROL_TOKEN_ENV
        raise OptionError(f"{where}: {problem}")
    return given, False


def buying_power(raw: str) -> Decimal:
    """`--buying-power` under the domain's rule for a capital."""
    try:
        return bounded_decimal(raw, "capital")
    except NotANumber as e:
        raise OptionError(f"--buying-power {_shown(raw)}: {e}") from e


def ms_per_minute(value: float) -> float:
    """`--ms-per-minute`: a finite number of real milliseconds per simulated minute."""
    if not (math.isfinite(value) and MIN_MS_PER_MINUTE <= value <= MAX_MS_PER_MINUTE):
        raise OptionError(
            f"--ms-per-minute {value} is out of range "
            f"({MIN_MS_PER_MINUTE:.0f} to {MAX_MS_PER_MINUTE:.0f})"
        )
    return value


def start_time(raw: str) -> datetime:
    """`--start`: an ISO 8601 time (naive means UTC) from 1970 to a year from now."""
    out_of_range = OptionError(
        f"--start {_shown(raw)} is out of range ({EARLIEST_START.year} to a year from now)"
    )
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise OptionError(f"--start {_shown(raw)} is not an ISO 8601 time") from e
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as e:  # an offset pushing it past year 1 or 9999
        raise out_of_range from e
    if not EARLIEST_START <= moment <= datetime.now(UTC) + LATEST_START_AHEAD:
        raise out_of_range
    return moment


def _shown(raw: str) -> str:
    return repr(raw) if len(raw) <= 40 else f"{raw[:30]!r}..."
