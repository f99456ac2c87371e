"""`qtc exchange`: serve the local Alpaca-compatible exchange with uvicorn."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from qtc.exchange.local_exchange import (
    DEFAULT_KEY,
    DEFAULT_SECRET,
    ExchangeConfig,
    build_local_exchange,
)

DEFAULT_PORT = 8765


def add_exchange_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `qtc exchange`."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--key", default=DEFAULT_KEY, help="API key id clients must send")
    parser.add_argument("--secret", default=DEFAULT_SECRET, help="API secret clients must send")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated market")
    parser.add_argument(
        "--clock",
        choices=("manual", "accelerated", "real"),
        default="accelerated",
        help="manual: time moves only by POST /qtc/advance; accelerated: --ms-per-minute",
    )
    parser.add_argument(
        "--ms-per-minute",
        "--speed",
        dest="ms_per_minute",
        type=float,
        default=1000.0,
        help="real milliseconds per simulated minute (accelerated clock)",
    )
    parser.add_argument(
        "--start", type=_iso_time, default=None, help="simulated start time, ISO 8601 (UTC)"
    )
    parser.add_argument(
        "--symbols", nargs="+", default=None, help="universe (default: the simulated market's)"
    )
    parser.add_argument(
        "--buying-power", type=_decimal, default=Decimal("100000"), help="starting cash"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="answer 429 past this many requests per key per minute (0: no limit)",
    )


def exchange_command(args: argparse.Namespace) -> int:
    """Build the exchange from the flags, print its URLs, and serve until interrupted."""
    import uvicorn

    from qtc.exchange.server_thread import bind_socket, uvicorn_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = ExchangeConfig(
        seed=args.seed,
        clock=args.clock,
        ms_per_minute=args.ms_per_minute,
        start=args.start,
        symbols=args.symbols,
        api_key=args.key,
        api_secret=args.secret,
        buying_power=args.buying_power,
        rate_limit_per_minute=args.rate_limit or None,
    )
    exchange = build_local_exchange(config)
    # Bind first so that --port 0 can print the port it got before serving.
    sock = bind_socket(args.host, args.port)
    port = sock.getsockname()[1]
    print(f"QTC exchange base URL: http://{args.host}:{port}", flush=True)
    print(f"QTC exchange stream URL: ws://{args.host}:{port}/stream", flush=True)
    print(
        f"clock={config.clock} start={exchange.clock.now().isoformat()} "
        f"symbols={','.join(exchange.feed.universe)}",
        flush=True,
    )
    try:
        uvicorn.Server(uvicorn_config(exchange.app)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def _iso_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from e
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as e:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from e
