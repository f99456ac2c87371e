"""Request data made safe for a log line: control characters shown as escapes, never obeyed."""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Cc: C0, DEL and C1 controls; Cf: format characters (bidi overrides, zero-width joiners);
# Zl/Zp: U+2028 and U+2029, which many viewers break lines at.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def escaped(value: object) -> str:
    """`str(value)` with every control, format and line-separator character written as an
    escape (`\\n`, `\\x1b`, `\\u2028`) and `\\` doubled, so one value stays on one line and
    reads unambiguously."""
    text = str(value)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape_char(c) for c in text)


def _escape_char(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    if unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
