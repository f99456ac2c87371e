"""Reading what a run left on disk, as a user would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def jsonl_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file (each must be whole JSON); none when the file is missing."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
