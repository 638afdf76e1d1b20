"""Which characters stored text may hold: what XML 1.0 allows, so every output stays valid.

Input (titles, descriptions, authors, bodies, token names…) holding anything else — C0
control characters other than tab, newline and carriage return, lone surrogates, U+FFFE,
U+FFFF — is refused with 422 naming the field (:func:`check_text`, used by the wire models).
Outputs strip the same characters (:func:`strip_forbidden`) so that text stored before the
rule existed still gives well-formed Atom and HTML.
"""

from __future__ import annotations

import re

# The complement of XML 1.0's Char production.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check_text(value: str) -> str:
    """Return ``value`` unchanged, or raise ValueError naming the first forbidden character."""
    found = _FORBIDDEN.search(value)
    if found is not None:
        raise ValueError(
            f"control or non-character U+{ord(found.group()):04X} at position {found.start()} "
            "is not allowed (only tab, newline and carriage return are)"
        )
    return value


def strip_forbidden(value: str) -> str:
    """``value`` without the characters :func:`check_text` refuses."""
    return _FORBIDDEN.sub("", value)
