"""A real component with a few attributes replaced or watched by a test; the rest is real."""

from __future__ import annotations

from typing import Any


class Wrapped:
    """`Wrapped(broker, submit=fake)`: `submit` is the test's, all else the broker's."""

    def __init__(self, inner: Any, **overrides: Any) -> None:
        self.inner = inner
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
