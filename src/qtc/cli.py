"""The `qtc` command line: run, serve, compact, exchange, strategies and teams."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
from collections.abc import Sequence

PRIVATE_UMASK = 0o077  # data and log files 0600, folders 0700
NOFILE_IF_UNLIMITED = 1 << 20  # Linux's default fs.nr_open


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qtc", description="Live trading competitions.")
    sub = parser.add_subparsers(dest="command", required=True)

    from qtc.runner import add_run_arguments

    add_run_arguments(sub.add_parser("run", help="run the competition's minute loop"))

    from qtc.exchange.server.cli import add_exchange_arguments

    add_exchange_arguments(
        sub.add_parser("exchange", help="serve the local Alpaca-compatible exchange")
    )

    from qtc.serve import add_serve_arguments

    add_serve_arguments(
        sub.add_parser("serve", help="serve the team API read-only from a competition's files")
    )

    from qtc.compaction import add_compact_arguments

    add_compact_arguments(
        sub.add_parser("compact", help="rotate a stopped competition's closed months")
    )

    from qtc.uploads.cli import add_strategies_arguments

    add_strategies_arguments(
        sub.add_parser("strategies", help="a team's strategy versions: upload, list, activate")
    )

    teams = sub.add_parser("teams", help="manage teams").add_subparsers(dest="teams_command")
    key = teams.add_parser("key", help="issue (or re-issue) a team's API key; printed once")
    key.add_argument("team_id")
    key.add_argument("--data-dir", default="data")
    return parser


def prepare_process() -> None:
    """Before anything opens a file: private file modes, and the soft open-file limit raised
    to the hard one (the servers' connection caps are computed from it)."""
    os.umask(PRIVATE_UMASK)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NOFILE_IF_UNLIMITED if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):  # above the kernel's nr_open
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qtc` console script."""
    prepare_process()
    args = build_parser().parse_args(argv)
    if args.command == "run":
        from qtc.runner import run_command

        return run_command(args)
    if args.command == "exchange":
        from qtc.exchange.server.cli import exchange_command

        return exchange_command(args)
    if args.command == "serve":
        from qtc.serve import serve_command

        return serve_command(args)
    if args.command == "compact":
        from qtc.compaction import compact_command

        return compact_command(args)
    if args.command == "strategies":
        from qtc.uploads.cli import strategies_command

        return strategies_command(args)
    if args.command == "teams" and args.teams_command == "key":
        from qtc.api.keys import issue_key_command

        return issue_key_command(args)
    build_parser().print_help(sys.stderr)
    return 2
