"""`qtc exchange`: serve the local Alpaca-compatible exchange with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from qtc.exchange.server.control_token import CONTROL_TOKEN_ENV, CONTROL_TOKEN_HEADER
from qtc.exchange.server.local_exchange import (
    DEFAULT_KEY,
    DEFAULT_SECRET,
    ExchangeConfig,
    build_local_exchange,
)
from qtc.exchange.server.options import OptionError, exchange_config
from qtc.logsetup import LogPipeline, add_log_arguments, make_formatter, setup_logging

DEFAULT_PORT = 8765
TOKEN_LINE = "QTC exchange control token"

log = logging.getLogger("qtc.exchange")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"


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
        dest="ms_per_minute",
        type=float,
        default=1000.0,
        help="real milliseconds per simulated minute (accelerated clock)",
    )
    parser.add_argument("--start", default=None, help="simulated start time, ISO 8601 (UTC)")
    parser.add_argument(
        "--symbols", nargs="+", default=None, help="universe (default: the simulated market's)"
    )
    parser.add_argument("--buying-power", default="100000", help="starting cash")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="answer 429 past this many requests per key per minute (0: no limit)",
    )
    parser.add_argument(
        "--control-token",
        default=None,
        metavar="TOKEN",
        help=f"the token /qtc/* requests must send in {CONTROL_TOKEN_HEADER} (default: "
        f"${CONTROL_TOKEN_ENV}, else a random one printed at start); other local users can "
        f"read this flag in the process list, {CONTROL_TOKEN_ENV} they cannot",
    )
    parser.add_argument(
        "--open-control",
        action="store_true",
        help="serve /qtc/* (faults, clock, status overrides) to anyone, without a token",
    )
    add_log_arguments(parser, quiet=False)


def exchange_command(args: argparse.Namespace) -> int:
    """Build the exchange from the flags, print its URLs, and serve until interrupted."""
    try:
        config, token_generated = exchange_config(args)
    except OptionError as e:
        return _startup_error(str(e))
    try:
        logs = _setup_logging(args)
    except ValueError as e:  # QTC_LOG_LEVEL or QTC_LOG_FORMAT the flags would have refused
        return _startup_error(str(e))
    try:
        return _serve(args, config, token_generated)
    finally:
        logs.stop()


def _setup_logging(args: argparse.Namespace) -> LogPipeline:
    """Log lines to stderr, at --log-level (or QTC_LOG_LEVEL), as --log-format says."""
    level = args.log_level or os.environ.get("QTC_LOG_LEVEL", "INFO")
    log_format = args.log_format or os.environ.get("QTC_LOG_FORMAT", "text").lower()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(log_format, TEXT_FORMAT))
    return setup_logging([handler], level=level)


def _serve(args: argparse.Namespace, config: ExchangeConfig, token_generated: bool) -> int:
    import uvicorn

    from qtc.connection_limits import bind_socket
    from qtc.exchange.server.thread import uvicorn_config

    exchange = build_local_exchange(config)
    # Bind first so that --port 0 can print the port it got before serving.
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as e:
        return _startup_error(f"cannot listen on {args.host}:{args.port} ({e.strerror or e})")
    port = sock.getsockname()[1]
    print(f"QTC exchange base URL: http://{args.host}:{port}", flush=True)
    print(f"QTC exchange stream URL: ws://{args.host}:{port}/stream", flush=True)
    print(
        f"clock={config.clock} start={exchange.clock.now().isoformat()} "
        f"symbols={','.join(exchange.feed.universe)}",
        flush=True,
    )
    # On the console only, never through logging: a log file must not hold the token.
    if config.control_token is None:
        log.warning(
            "Control endpoints /qtc/* are open to anyone who can reach port %d (--open-control)",
            port,
        )
    elif token_generated:
        print(f"{TOKEN_LINE} (send as {CONTROL_TOKEN_HEADER}): {config.control_token}", flush=True)
    else:
        print(f"{TOKEN_LINE}: the one given ({CONTROL_TOKEN_ENV} or --control-token)", flush=True)
    try:
        uvicorn.Server(uvicorn_config(exchange.app)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def _startup_error(message: str) -> int:
    """Why the exchange cannot start: one `error: ...` line on stderr; exit code 2."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2
