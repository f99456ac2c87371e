"""What crosses the process boundary: framing, views into floats, strategy output into JSON.

Host to worker: pickle (the host is trusted), with each view's Decimals turned into floats,
because strategies do their math with floats; the orchestrator turns what comes back into
Decimals with `to_decimal` when it validates the signals.
Worker to host: JSON only, bounded in size, so a hostile strategy can never make the host
unpickle something it crafted.
"""

from __future__ import annotations

import json
import numbers
import reprlib
import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

HEADER = struct.Struct("!I")
MAX_REPLY_BYTES = 1 << 20
MAX_SIGNALS = 200
MAX_STRING = 10_000
MAX_DEPTH = 6
MAX_ITEMS = 1_000


class GarbageOutput(ValueError):
    """A strategy returned something that is not plain data (a set, an object, a generator...)."""


def frame(payload: bytes) -> bytes:
    """A length-prefixed message."""
    return HEADER.pack(len(payload)) + payload


_PLAIN = (float, int, str, bool, type(None))


def to_floats(value: Any) -> Any:
    """A view with Decimals as floats and tuples as lists; everything else as it is."""
    kind = type(value)
    if kind is Decimal:
        return float(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, Mapping):
        return {k: to_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [
            float(v) if type(v) is Decimal else v if type(v) in _PLAIN else to_floats(v)
            for v in value
        ]
    return value


def to_json_safe(value: Any, path: str = "return value", depth: int = 0) -> Any:
    """Strategy output as JSON values, or GarbageOutput naming the first unsupported part.

    NaN and infinities are kept (as JSON's NaN/Infinity) so that validation names them.
    Decimals become strings, numpy scalars become int or float.
    """
    if depth > MAX_DEPTH:
        raise GarbageOutput(f"{path} is nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise GarbageOutput(f"{path} is a string of {len(value)} characters (max {MAX_STRING})")
        return value
    if type(value) in (int, float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise GarbageOutput(f"{path} has {len(value)} keys (max {MAX_ITEMS})")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise GarbageOutput(f"{path} has a key of type {type(k).__name__}, not str")
            if len(k) > 100:
                raise GarbageOutput(f"{path} has a key longer than 100 characters")
            out[k] = to_json_safe(v, f"{path}[{k!r}]", depth + 1)
        return out
    if isinstance(value, list | tuple):
        limit = MAX_SIGNALS if depth == 0 else MAX_ITEMS
        if len(value) > limit:
            raise GarbageOutput(f"{path} has {len(value)} items (max {limit})")
        return [to_json_safe(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise GarbageOutput(f"{path} is a {type(value).__name__}, which is not plain data")


def encode_reply(reply: dict[str, Any]) -> bytes:
    """JSON bytes of a worker reply (NaN allowed so validation can name it)."""
    return json.dumps(reply, separators=(",", ":"), allow_nan=True).encode()


def decode_reply(payload: bytes) -> dict[str, Any]:
    """Parse a worker reply, which is untrusted input: any flaw is a ValueError naming it.

    The worker's own code bounds what it sends, but a strategy can write to its socket
    directly, so the host checks again: a JSON object, nested and sized within the limits.
    """
    if len(payload) > MAX_REPLY_BYTES:
        raise ValueError(f"reply of {len(payload)} bytes (max {MAX_REPLY_BYTES})")
    try:
        reply = json.loads(payload)
    except RecursionError:
        raise ValueError("reply nested too deeply") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"reply is not UTF-8: {e.reason}") from None
    if not isinstance(reply, dict):
        raise ValueError("reply is not a JSON object")
    for key in ("error", "signal"):
        if key in reply:
            value = reply[key]
            reply[key] = value[:1000] if isinstance(value, str) else short_repr(value)
    if "output" in reply:
        try:
            reply["output"] = to_json_safe(reply["output"])
        except GarbageOutput as e:
            raise ValueError(f"output {e}") from None
    return reply


def short_repr(value: Any, limit: int = 500) -> str:
    """A bounded repr that never raises and never builds a huge string (for error lines)."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = 200
    shortener.maxlist = shortener.maxdict = shortener.maxset = shortener.maxtuple = 20
    shortener.maxlevel = 4
    try:
        text = shortener.repr(value)
    except Exception as e:  # a hostile __repr__
        text = f"<{type(value).__name__}: repr failed: {type(e).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."
