"""The load-time AST check: refuse code that can reach the network, files or the interpreter."""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_PARSE_LOCK = threading.Lock()

# Top-level modules a strategy may import (besides its own sibling modules).
ALLOWED_MODULES = frozenset(
    {
        "__future__", "abc", "array", "bisect", "calendar", "cmath", "collections", "copy",
        "dataclasses", "datetime", "decimal", "enum", "fractions", "functools", "heapq",
        "itertools", "json", "math", "numbers", "operator", "random", "re", "statistics",
        "string", "textwrap", "time", "typing", "typing_extensions", "warnings", "zoneinfo",
        "numpy", "pandas", "scipy", "sklearn", "statsmodels",
    }
)  # fmt: skip

# Refused with a reason, so the team knows why rather than just "not allowed".
DANGEROUS_MODULES = {
    "os": "the file system and processes", "posix": "the file system and processes",
    "nt": "the file system and processes", "sys": "the interpreter", "socket": "the network",
    "ssl": "the network", "select": "the network", "selectors": "the network",
    "asyncio": "the network and processes", "subprocess": "processes",
    "_posixsubprocess": "processes", "pty": "processes", "signal": "processes",
    "requests": "the network", "urllib": "the network", "urllib3": "the network",
    "http": "the network", "httpx": "the network", "aiohttp": "the network",
    "ftplib": "the network", "smtplib": "the network", "telnetlib": "the network",
    "websockets": "the network", "xmlrpc": "the network", "shutil": "the file system",
    "pathlib": "the file system", "io": "the file system", "tempfile": "the file system",
    "glob": "the file system", "fileinput": "the file system", "pickle": "the interpreter",
    "marshal": "the interpreter", "shelve": "the file system", "sqlite3": "the file system",
    "mmap": "memory and files", "ctypes": "the interpreter's memory", "cffi": "native code",
    "multiprocessing": "processes", "threading": "threads", "_thread": "threads",
    "concurrent": "threads and processes", "importlib": "the import system",
    "imp": "the import system", "pkgutil": "the import system", "runpy": "the interpreter",
    "builtins": "the interpreter", "inspect": "the interpreter", "gc": "the interpreter",
    "code": "the interpreter", "codeop": "the interpreter", "types": "the interpreter",
    "resource": "the interpreter", "platform": "processes", "webbrowser": "processes",
    "qtc": "the competition's own code",
}  # fmt: skip

# Submodules of allowed packages that still open a door.
DANGEROUS_SUBMODULES = frozenset(
    {"numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy.testing", "pandas.io"}
)

# Builtins that evaluate code, open files or reach the interpreter; refused even unused.
DANGEROUS_BUILTINS = frozenset(
    {
        "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars",
        "breakpoint", "input", "help", "exit", "quit", "memoryview", "__builtins__",
        "__loader__", "__spec__",
    }
)  # fmt: skip

ATTRIBUTE_BUILTINS = frozenset({"getattr", "setattr", "delattr", "hasattr"})

# Special names a strategy may use as attributes (super().__init__, type(x).__name__, ...).
SAFE_DUNDERS = frozenset(
    {
        "__init__", "__name__", "__doc__", "__qualname__", "__len__", "__iter__", "__next__",
        "__repr__", "__str__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
        "__hash__", "__contains__", "__getitem__", "__setitem__", "__delitem__", "__enter__",
        "__exit__", "__post_init__", "__add__", "__sub__", "__mul__", "__truediv__",
        "__floordiv__", "__mod__", "__neg__", "__abs__", "__bool__", "__float__", "__int__",
        "__round__", "__call__", "__annotations__", "__version__", "__all__",
    }
)  # fmt: skip

# Non-dunder attributes that walk to frames, code objects or modules holding `os`/`sys`.
DANGEROUS_ATTRIBUTES = frozenset(
    {
        "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "tb_frame", "tb_next",
        "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "co_code",
        "func_globals", "os", "sys", "subprocess", "socket", "shutil", "ctypes", "ctypeslib",
        "importlib", "builtins", "system", "popen", "f2py",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Violation:
    """One refused construct: where it is and what it is."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class StaticCheckError(Exception):
    """The strategy folder holds code the sandbox refuses; `violations` lists each one."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        shown = "; ".join(str(v) for v in violations[:10])
        more = f" (and {len(violations) - 10} more)" if len(violations) > 10 else ""
        super().__init__(f"strategy refused: {shown}{more}")


def _python_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        yield path


def _sibling_modules(folder: Path) -> frozenset[str]:
    names = {p.stem for p in folder.glob("*.py")}
    names |= {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return frozenset(names)


class _Checker(ast.NodeVisitor):
    def __init__(self, file: Path, siblings: frozenset[str]) -> None:
        self.file = file
        self.siblings = siblings
        self.violations: list[Violation] = []

    def _refuse(self, node: ast.AST, message: str) -> None:
        self.violations.append(Violation(self.file, getattr(node, "lineno", 0), message))

    def _check_module(self, node: ast.AST, name: str) -> None:
        top = name.split(".")[0]
        if top in self.siblings and top not in DANGEROUS_MODULES:
            return
        if top in DANGEROUS_MODULES:
            reach = DANGEROUS_MODULES[top]
            self._refuse(node, f"import of '{name}' is refused (it reaches {reach})")
        elif top not in ALLOWED_MODULES:
            self._refuse(node, f"import of '{name}' is not allowed (not in the allowed modules)")
        elif any(name == d or name.startswith(d + ".") for d in DANGEROUS_SUBMODULES):
            self._refuse(node, f"import of '{name}' is refused")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module is not None:
            self._check_module(node, node.module)
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if any(full == d or full.startswith(d + ".") for d in DANGEROUS_SUBMODULES):
                    self._refuse(node, f"import of '{full}' is refused")
                elif (
                    alias.name in DANGEROUS_ATTRIBUTES
                    or alias.name in DANGEROUS_BUILTINS
                    or _is_private(alias.name)
                ):
                    self._refuse(node, f"import of '{alias.name}' from '{node.module}' is refused")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DANGEROUS_BUILTINS or _is_bad_dunder(node.id):
            self._refuse(node, f"use of '{node.id}' is refused")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_bad_dunder(node.attr) or node.attr in DANGEROUS_ATTRIBUTES:
            self._refuse(node, f"access to attribute '{node.attr}' is refused")
        elif _is_private(node.attr) and not _is_own(node.value):
            self._refuse(node, f"access to another object's private attribute '{node.attr}'")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ATTRIBUTE_BUILTINS and len(node.args) >= 2:
            name = node.args[1]
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                self._refuse(node, f"{func.id}() with a computed attribute name is refused")
            elif _is_bad_dunder(name.value) or name.value in DANGEROUS_ATTRIBUTES:
                self._refuse(node, f"{func.id}() on attribute '{name.value}' is refused")
            elif _is_private(name.value) and not _is_own(node.args[0]):
                self._refuse(node, f"{func.id}() on another object's private '{name.value}'")
        self.generic_visit(node)


def _is_private(name: str) -> bool:
    """`_sys`, `_os`: a module's or library's internals (`collections._sys` reaches `sys`)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_own(node: ast.expr) -> bool:
    """`self._x` and `cls._x`: a strategy's own private state is its business."""
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _is_bad_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name not in SAFE_DUNDERS


def check_source(
    source: str, file: Path, siblings: frozenset[str] = frozenset()
) -> list[Violation]:
    """Check one file's source; a syntax error is itself a violation."""
    try:
        with _PARSE_LOCK:  # CPython 3.11 gh-106905: ast.parse in parallel threads can fail
            tree = ast.parse(source, filename=str(file))
    except SyntaxError as e:
        return [Violation(file, e.lineno or 0, f"syntax error: {e.msg}")]
    checker = _Checker(file, siblings)
    checker.visit(tree)
    return checker.violations


def check_strategy_folder(folder: Path) -> list[Violation]:
    """Check every .py file of a strategy folder; an empty list means it may be loaded."""
    folder = Path(folder)
    if not folder.is_dir():
        return [Violation(folder, 0, "strategy folder does not exist")]
    siblings = _sibling_modules(folder)
    violations: list[Violation] = []
    for path in _python_files(folder):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            violations.append(Violation(path, 0, f"cannot read the file: {e}"))
            continue
        violations.extend(check_source(source, path, siblings))
    return violations


def require_clean(folder: Path) -> None:
    """Raise StaticCheckError listing every violation in the folder, if any."""
    violations = check_strategy_folder(folder)
    if violations:
        raise StaticCheckError(violations)
