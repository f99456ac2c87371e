"""The load-time AST check: what it refuses (with file:line and name) and what it lets through."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtc.strategies.static_check import (
    StaticCheckError,
    check_source,
    check_strategy_folder,
    require_clean,
)

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"


def hostile(name: str) -> Path:
    return HERE / "hostile" / name


def messages(folder: Path) -> list[str]:
    return [str(v) for v in check_strategy_folder(folder)]


@pytest.mark.parametrize(
    ("name", "line", "fragment"),
    [
        ("imports_os", 3, "import of 'os' is refused (it reaches the file system and processes)"),
        ("imports_socket", 3, "import of 'socket' is refused (it reaches the network)"),
        ("imports_subprocess", 1, "import of 'subprocess' is refused (it reaches processes)"),
        ("opens_file", 3, "use of 'open' is refused"),
        ("escapes_dunder", 3, "access to attribute '__subclasses__' is refused"),
    ],
)
def test_refused_with_file_line_and_name(name: str, line: int, fragment: str) -> None:
    found = messages(hostile(name))
    assert f"{hostile(name) / 'strategy.py'}:{line}: {fragment}" in found


def test_every_dunder_step_and_computed_getattr_are_named() -> None:
    found = "\n".join(messages(hostile("escapes_dunder")))
    for fragment in ("'__class__'", "'__bases__'", "'__subclasses__'", "getattr() with a computed"):
        assert fragment in found


def test_helper_modules_of_a_strategy_are_checked_too() -> None:
    folder = hostile("helper_imports_os")
    assert messages(folder) == [
        f"{folder / 'helper.py'}:2: import of 'shutil' is refused (it reaches the file system)"
    ]


def test_require_clean_raises_with_every_violation() -> None:
    with pytest.raises(StaticCheckError) as info:
        require_clean(hostile("escapes_dunder"))
    assert len(info.value.violations) >= 4
    assert "strategy refused:" in str(info.value)


@pytest.mark.parametrize(
    "folder",
    [
        EXAMPLES / "buy_and_hold",
        EXAMPLES / "mean_reversion",
        EXAMPLES / "stale_canceler",
        HERE / "good" / "steady",
        HERE / "good" / "pandas_scratch",
        hostile("spins"),
        hostile("garbage"),
    ],
)
def test_ordinary_strategies_pass(folder: Path) -> None:
    assert messages(folder) == []


ALLOWED = """
import math, statistics, collections, datetime, random, itertools, functools
import dataclasses, typing, decimal
import numpy as np
import pandas as pd
from collections import deque
from .helpers import thing
from sibling import helper


class Strategy:
    def __init__(self, **params):
        super().__init__()
        self.name = type(self).__name__
        self.window = getattr(self, "window", 20)
"""


def test_allowed_libraries_and_sibling_imports() -> None:
    assert check_source(ALLOWED, Path("s.py"), frozenset({"sibling"})) == []


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("import sys", "import of 'sys' is refused (it reaches the interpreter)"),
        ("import requests", "import of 'requests' is refused (it reaches the network)"),
        ("import urllib.request", "import of 'urllib.request' is refused"),
        ("from http import client", "import of 'http' is refused"),
        ("import shutil", "import of 'shutil' is refused"),
        ("from pathlib import Path", "import of 'pathlib' is refused"),
        ("import io", "import of 'io' is refused"),
        ("import ctypes", "import of 'ctypes' is refused"),
        ("import multiprocessing", "import of 'multiprocessing' is refused"),
        ("import threading", "import of 'threading' is refused"),
        ("import importlib", "import of 'importlib' is refused"),
        ("import builtins", "import of 'builtins' is refused"),
        ("import qtc.domain", "import of 'qtc.domain' is refused"),
        ("import numpy.ctypeslib", "import of 'numpy.ctypeslib' is refused"),
        ("from numpy import ctypeslib", "import of 'numpy.ctypeslib' is refused"),
        ("import scrapy", "import of 'scrapy' is not allowed"),
        ("eval('1')", "use of 'eval' is refused"),
        ("exec('x = 1')", "use of 'exec' is refused"),
        ("compile('1', 'f', 'eval')", "use of 'compile' is refused"),
        ("__import__('os')", "use of '__import__' is refused"),
        ("globals()", "use of 'globals' is refused"),
        ("f = open", "use of 'open' is refused"),
        ("x = __builtins__", "use of '__builtins__' is refused"),
        ("getattr(x, '__globals__')", "getattr() on attribute '__globals__' is refused"),
        ("getattr(x, name)", "getattr() with a computed attribute name is refused"),
        ("setattr(x, name, 1)", "setattr() with a computed attribute name is refused"),
        ("f.__globals__", "access to attribute '__globals__' is refused"),
        ("e.__traceback__.tb_frame", "access to attribute 'tb_frame' is refused"),
        ("import pandas as pd\npd.io.common.os.system('x')", "attribute 'os' is refused"),
        ("import collections\ncollections._sys.modules", "private attribute '_sys'"),
        ("import random\nrandom._os.listdir('/')", "private attribute '_os'"),
        ("from random import _os", "import of '_os' from 'random' is refused"),
        ("getattr(random, '_os')", "getattr() on another object's private '_os'"),
    ],
)
def test_each_door_is_refused(source: str, fragment: str) -> None:
    found = [str(v) for v in check_source(source, Path("s.py"))]
    assert any(fragment in m for m in found), found
    assert all(m.startswith("s.py:") for m in found)


def test_a_strategys_own_private_state_is_allowed() -> None:
    source = "class S:\n    def f(self):\n        self._window = 3\n        return self._window\n"
    assert check_source(source, Path("s.py")) == []


def test_syntax_error_is_a_violation_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "strategy.py").write_text("class Strategy:\n    def f(self x):\n        pass\n")
    (found,) = check_strategy_folder(tmp_path)
    assert found.line == 2
    assert "syntax error" in found.message


def test_missing_folder_is_a_violation(tmp_path: Path) -> None:
    assert "does not exist" in messages(tmp_path / "absent")[0]


def test_parsing_in_many_threads_at_once_never_fails() -> None:
    """CPython 3.11 gh-106905: parallel ast.parse raised SystemError; checks parse serially."""
    import textwrap
    from concurrent.futures import ThreadPoolExecutor

    from qtc.strategies.static_check import check_source

    deep = "x = " + "(" * 60 + "1" + ")" * 60 + "\n"
    source = (
        textwrap.dedent(
            "class Strategy:\n"
            "    def generate_signal(self, team, bars, prices):\n"
            "        return None\n"
        )
        + deep * 50
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: check_source(source, Path("s.py")), range(200)))
    assert all(r == [] for r in results)
