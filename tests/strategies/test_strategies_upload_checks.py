"""The upload checks: what an uploaded strategy must look like before anything is written."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from qtc.strategies.upload_checks import (
    MAX_FILE_BYTES,
    MAX_UNPACKED_BYTES,
    UploadRefused,
    static_reasons,
    unpack,
)

GOOD = b"class Strategy:\n    def generate_signal(self, team, bars, prices):\n        return None\n"


def _zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def _reasons(parts, entry=None) -> list[str]:
    with pytest.raises(UploadRefused) as refused:
        unpack(parts, entry)
    return refused.value.reasons


def test_a_single_file_with_params_is_accepted() -> None:
    upload = unpack([("strategy.py", GOOD), ("params.yaml", b"window: 5\n")])
    assert upload.files == {"strategy.py": GOOD, "params.yaml": b"window: 5\n"}
    assert upload.entry == "strategy:Strategy" and upload.params == {"window": 5}


def test_a_zipped_folder_loses_its_top_folder_and_keeps_its_package() -> None:
    packed = _zip({"mine/strategy.py": GOOD, "mine/lib/__init__.py": b"", "mine/lib/x.py": b""})
    upload = unpack([("mine.zip", packed)], "strategy:Strategy")
    assert sorted(upload.files) == ["lib/__init__.py", "lib/x.py", "strategy.py"]


def test_paths_out_of_the_folder_and_links_are_refused() -> None:
    packed = _zip({"strategy.py": GOOD, "../evil.py": b"", "/abs.py": b""}, {"link.py": "/etc"})
    reasons = _reasons([("s.zip", packed)])
    assert any("'..' in a path" in r for r in reasons)
    assert any("absolute paths" in r for r in reasons)
    assert any("'link.py': a symbolic link" in r for r in reasons)


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = _zip({"strategy.py": GOOD, "data.txt": b"0" * (MAX_UNPACKED_BYTES * 4)})
    assert len(bomb) < 100_000
    reasons = _reasons([("bomb.zip", bomb)])
    assert any(f"at most {MAX_FILE_BYTES}" in r for r in reasons)


def test_files_outside_the_allow_list_and_a_missing_entry_are_refused() -> None:
    reasons = _reasons([("strategy.py", GOOD), ("model.pkl", b"\x80")])
    assert any("model.pkl: this kind of file is refused" in r for r in reasons)
    assert _reasons([("other.py", GOOD)]) == [
        "entry strategy:Strategy: no file strategy.py in the upload"
    ]
    assert "must be MODULE:CLASS" in _reasons([("strategy.py", GOOD)], "nocolon")[0]


def test_the_static_check_names_file_and_line() -> None:
    files = {
        "strategy.py": b"import helpers\n\nimport os\n",
        "helpers.py": b"def f(:\n",
    }
    assert static_reasons(files) == [
        "helpers.py:1: syntax error: invalid syntax",
        "strategy.py:3: import of 'os' is refused (it reaches the file system and processes)",
    ]
