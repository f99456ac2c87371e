"""The checks an uploaded strategy passes before it is stored: shape, sizes, paths, code.

An upload is one or more files (a `strategy.py`, several `.py` files, or one zip of a
package) and an entry point. Everything here works on bytes held in memory; nothing is
written until every check has passed (the caller stores the version). The trial load, the
last check, runs the code in a confined worker of the strategy pool (`StrategyPool.trial`).
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from qtc.strategies.static_check import check_source

MAX_FILE_BYTES = 256 * 1024  # one file, unpacked
MAX_UPLOAD_BYTES = 1024 * 1024  # everything sent in one request (a zip counted packed)
MAX_UNPACKED_BYTES = 2 * 1024 * 1024  # every file of the version together, unpacked
MAX_FILES = 100
MAX_DEPTH = 5  # folders below the version's root
MAX_REASONS = 20  # shown in one answer; the rest are counted
ALLOWED_SUFFIXES = frozenset({".py", ".txt", ".json", ".csv", ".yaml", ".yml", ".md"})
PARAMS_FILE = "params.yaml"
DEFAULT_ENTRY = "strategy:Strategy"
# left out when a folder becomes version 1 (the organiser's own copy of a team's folder)
_NOT_COPIED = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


class UploadRefused(Exception):
    """An upload that fails a check; `reasons` lists every problem found, for the team."""

    def __init__(self, reasons: Sequence[str]) -> None:
        shown = list(reasons[:MAX_REASONS])
        if len(reasons) > MAX_REASONS:
            shown.append(f"... and {len(reasons) - MAX_REASONS} more problems")
        super().__init__("; ".join(shown))
        self.reasons = shown


@dataclass(frozen=True, slots=True)
class Upload:
    """A checked upload's files ({posix path: bytes}), entry point and constructor params."""

    files: dict[str, bytes]
    entry: str = DEFAULT_ENTRY
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return self.entry.partition(":")[0]

    @property
    def class_name(self) -> str:
        return self.entry.partition(":")[2]


def unpack(parts: Sequence[tuple[str, bytes]], entry: str | None = None) -> Upload:
    """The upload's files from its parts ((filename, bytes)); refused with every reason found.

    One part named `*.zip` is unpacked (a single top folder holding everything is dropped);
    otherwise each part is one file, placed by its name. A `params.yaml` among the files gives
    the constructor's parameters."""
    reasons: list[str] = []
    target = _entry(entry, reasons)
    total = sum(len(data) for _, data in parts)
    if not parts:
        reasons.append("no file uploaded: send one or more 'file' parts")
    if total > MAX_UPLOAD_BYTES:
        reasons.append(f"the upload is {total} bytes (at most {MAX_UPLOAD_BYTES})")
        raise UploadRefused(reasons)
    zips = [name for name, _ in parts if name.lower().endswith(".zip")]
    files: dict[str, bytes] = {}
    if zips and len(parts) > 1:
        reasons.append("send one zip alone, or files without a zip")
    elif zips:
        files = _unzip(parts[0][1], reasons)
    else:
        for name, data in parts:
            path = _safe_path(name, reasons)
            if path is not None:
                if path in files:
                    reasons.append(f"{path}: sent twice")
                files[path] = data
    _check_files(files, reasons)
    params = _params(files, reasons)
    if target is not None and files and not reasons:
        _check_entry(files, target, reasons)
    if reasons:
        raise UploadRefused(reasons)
    return Upload(files=files, entry=target or DEFAULT_ENTRY, params=params)


def _entry(entry: str | None, reasons: list[str]) -> str | None:
    raw = (entry or DEFAULT_ENTRY).strip()
    module, sep, class_name = raw.partition(":")
    parts = module.split(".")
    if not sep or not all(p.isidentifier() for p in parts) or not class_name.isidentifier():
        reasons.append(f"entry {raw[:80]!r} must be MODULE:CLASS, e.g. {DEFAULT_ENTRY}")
        return None
    return raw


def _safe_path(name: str, reasons: list[str]) -> str | None:
    """A relative posix path inside the version, or None (with the reason)."""
    shown = name[:120]
    raw = name.replace("\\", "/")
    path = PurePosixPath(raw)
    if not raw or path.is_absolute() or (len(raw) > 1 and raw[1] == ":"):
        reasons.append(f"{shown!r}: absolute paths are refused")
        return None
    if ".." in path.parts:
        reasons.append(f"{shown!r}: '..' in a path is refused")
        return None
    if any(p.startswith(".") for p in path.parts) or any(not p.isprintable() for p in path.parts):
        reasons.append(f"{shown!r}: hidden or unprintable names are refused")
        return None
    if len(path.parts) > MAX_DEPTH + 1:
        reasons.append(f"{shown!r}: more than {MAX_DEPTH} folders deep")
        return None
    return str(path)


def _unzip(data: bytes, reasons: list[str]) -> dict[str, bytes]:
    """The zip's regular files, every entry checked before a byte is unpacked."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        reasons.append(f"not a readable zip file ({e})")
        return {}
    if len(entries) > MAX_FILES * 2:
        reasons.append(f"the zip holds {len(entries)} entries (at most {MAX_FILES} files)")
        return {}
    wanted: list[tuple[zipfile.ZipInfo, str]] = []
    declared = 0
    for info in entries:
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            what = "a symbolic link" if kind == stat.S_IFLNK else "not a regular file"
            reasons.append(f"{info.filename[:120]!r}: {what}, refused")
            continue
        path = _safe_path(info.filename.rstrip("/"), reasons) if info.filename != "/" else None
        if path is None or info.is_dir():
            continue
        if info.flag_bits & 0x1:
            reasons.append(f"{path}: encrypted entries are refused")
            continue
        declared += info.file_size
        if info.file_size > MAX_FILE_BYTES:
            reasons.append(f"{path}: {info.file_size} bytes unpacked (at most {MAX_FILE_BYTES})")
            continue
        wanted.append((info, path))
    if declared > MAX_UNPACKED_BYTES:
        reasons.append(f"the zip unpacks to {declared} bytes (at most {MAX_UNPACKED_BYTES})")
    if reasons:
        return {}
    files: dict[str, bytes] = {}
    for info, path in wanted:
        try:
            with archive.open(info) as member:
                # the declared size is the zip's own word: never read past the limit
                content = member.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            reasons.append(f"{path}: cannot be unpacked ({e})")
            continue
        if len(content) > MAX_FILE_BYTES:
            reasons.append(f"{path}: more than {MAX_FILE_BYTES} bytes unpacked")
            continue
        if path in files:
            reasons.append(f"{path}: appears twice in the zip")
        files[path] = content
    return _strip_top_folder(files)


def _strip_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """`pkg/strategy.py, pkg/helpers.py` -> `strategy.py, helpers.py` (a zipped folder)."""
    tops = {PurePosixPath(p).parts[0] for p in files}
    if len(tops) != 1 or any(len(PurePosixPath(p).parts) == 1 for p in files):
        return files
    return {str(PurePosixPath(*PurePosixPath(p).parts[1:])): data for p, data in files.items()}


def _check_files(files: Mapping[str, bytes], reasons: list[str]) -> None:
    if len(files) > MAX_FILES:
        reasons.append(f"{len(files)} files (at most {MAX_FILES})")
    total = 0
    for path, data in sorted(files.items()):
        total += len(data)
        if PurePosixPath(path).suffix.lower() not in ALLOWED_SUFFIXES:
            allowed = ", ".join(sorted(ALLOWED_SUFFIXES))
            reasons.append(f"{path}: this kind of file is refused (allowed: {allowed})")
        if len(data) > MAX_FILE_BYTES:
            reasons.append(f"{path}: {len(data)} bytes (at most {MAX_FILE_BYTES})")
    if total > MAX_UNPACKED_BYTES:
        reasons.append(f"the files total {total} bytes (at most {MAX_UNPACKED_BYTES})")
    if files and not any(p.endswith(".py") for p in files):
        reasons.append("no Python file in the upload")


def _params(files: Mapping[str, bytes], reasons: list[str]) -> dict[str, Any]:
    raw = files.get(PARAMS_FILE)
    if raw is None:
        return {}
    try:
        params = yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        reasons.append(f"{PARAMS_FILE}: not valid YAML ({str(e)[:200]})")
        return {}
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and k.isidentifier() for k in params
    ):
        reasons.append(f"{PARAMS_FILE}: must be a mapping of Python names to values")
        return {}
    return params


def _check_entry(files: Mapping[str, bytes], entry: str, reasons: list[str]) -> None:
    module = entry.partition(":")[0].replace(".", "/")
    if f"{module}.py" not in files and f"{module}/__init__.py" not in files:
        reasons.append(f"entry {entry}: no file {module}.py in the upload")


def static_reasons(files: Mapping[str, bytes]) -> list[str]:
    """The static check of every Python file, as `file:line: message` lines."""
    siblings = frozenset(
        PurePosixPath(p).parts[0].removesuffix(".py") for p in files if p.endswith(".py")
    )
    reasons: list[str] = []
    for path, data in sorted(files.items()):
        if not path.endswith(".py"):
            continue
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            reasons.append(f"{path}:0: not UTF-8 text")
            continue
        for v in check_source(source, Path(path), siblings):
            reasons.append(f"{path}:{v.line}: {v.message}")
    return reasons


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every regular file of a team's folder ({posix path: bytes}), caches and links left out
    (how a `--teams` or registry folder becomes version 1)."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"strategy folder {root} does not exist")
    files: dict[str, bytes] = {}
    stack = [root]
    while stack:
        current = stack.pop()
        for child in sorted(current.iterdir()):
            if child.name in _NOT_COPIED or child.is_symlink():
                continue
            if child.is_dir():
                stack.append(child)
            elif child.is_file():
                files[child.relative_to(root).as_posix()] = child.read_bytes()
    return files
