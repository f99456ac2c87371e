"""`qtc strategies upload|list|activate|rollback`: a team's versions, on a data directory.

These work whether or not the competition runs: they write the version folders and the
active pointer, and a live run swaps to the active version at its next minute boundary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from qtc.domain.ids import valid_team_id
from qtc.settings import Settings
from qtc.store.strategy_versions import VersionError, VersionStore
from qtc.strategies.sandbox import StrategyPool
from qtc.strategies.upload_checks import UploadRefused, read_folder
from qtc.uploads.service import StrategyDesk

_WHO = "cli"


def add_strategies_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommands of `qtc strategies`."""
    sub = parser.add_subparsers(dest="strategies_command", required=True)
    upload = sub.add_parser("upload", help="check, trial-load and store a new version")
    upload.add_argument("team_id")
    upload.add_argument("path", type=Path, help="a .py file, a .zip, or a folder")
    upload.add_argument("--entry", help="MODULE:CLASS (default strategy:Strategy)")
    upload.add_argument(
        "--no-activate", action="store_true", help="store it without making it active"
    )
    listing = sub.add_parser("list", help="the team's versions and which is active")
    listing.add_argument("team_id")
    listing.add_argument("--json", action="store_true", help="print the JSON the API answers")
    activate = sub.add_parser("activate", help="run this version from the next minute")
    activate.add_argument("team_id")
    activate.add_argument("version", type=int)
    back = sub.add_parser("rollback", help="return to the version active before this one")
    back.add_argument("team_id")
    for each in (upload, listing, activate, back):
        each.add_argument("--data-dir", "--data", dest="data_dir", type=Path, default=None)


def strategies_command(args: argparse.Namespace) -> int:
    """Entry point of `qtc strategies ...`."""
    if not valid_team_id(args.team_id):
        return _fail(f"team id {args.team_id!r} must be 1-21 letters, digits or underscores")
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    store = VersionStore(settings.data_dir)
    try:
        if args.strategies_command == "upload":
            return asyncio.run(_upload(settings, store, args))
        if args.strategies_command == "activate":
            version = store.activate(args.team_id, args.version, by=_WHO, now=datetime.now(UTC))
            print(f"team {args.team_id}: v{version.n} runs from the next minute")
            return 0
        if args.strategies_command == "rollback":
            version = store.rollback(args.team_id, by=_WHO, now=datetime.now(UTC))
            print(f"team {args.team_id}: back to v{version.n} from the next minute")
            return 0
    except VersionError as e:
        return _fail(str(e))
    return _list(store, args)


def _list(store: VersionStore, args: argparse.Namespace) -> int:
    pointer = store.pointer(args.team_id) or {}
    versions = store.versions(args.team_id)
    if args.json:
        shown = {"active": pointer.get("version"), "versions": [v.describe() for v in versions]}
        print(json.dumps(shown, indent=1))
        return 0
    if not versions:
        print(f"team {args.team_id} has no strategy version in {store.data_dir}")
        return 0
    for v in versions:
        mark = "*" if v.n == pointer.get("version") else " "
        print(
            f"{mark} v{v.n:<4} {v.created_at}  {v.size:>8} B  {v.sha256[:12]}  {v.entry}  "
            f"by {v.uploaded_by}"
        )
    return 0


async def _upload(settings: Settings, store: VersionStore, args: argparse.Namespace) -> int:
    path: Path = args.path
    try:
        if path.is_dir():
            parts = sorted(read_folder(path).items())
        else:
            parts = [(path.name, path.read_bytes())]
    except (OSError, ValueError) as e:
        return _fail(f"cannot read {path}: {e}")
    pool = StrategyPool(
        [],
        timeout=settings.strategy_timeout,
        memory_mb=settings.strategy_memory_mb,
        scratch_root=settings.data_dir / "scratch",
        hidden=[settings.data_dir],
        scratch_mb=settings.strategy_scratch_mb,
        python_checks=settings.strategy_python_checks,
        require_isolation=settings.require_isolation,
    )
    desk = StrategyDesk(
        store,
        pool,
        scratch_root=settings.data_dir / "scratch",
        trial_timeout=settings.upload_trial_timeout,
        python_checks=settings.strategy_python_checks,
    )
    try:
        version = await desk.upload(
            args.team_id, parts, entry=args.entry, uploaded_by=_WHO, activate=not args.no_activate
        )
    except UploadRefused as e:
        print("error: strategy refused:", file=sys.stderr)
        for reason in e.reasons:
            print(f"  - {reason}", file=sys.stderr)
        return 1
    finally:
        await pool.close()
    state = "active from the next minute" if not args.no_activate else "stored, not active"
    print(f"team {args.team_id}: stored as v{version.n} ({version.sha256[:12]}), {state}")
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
