"""User regexes, run by RE2. RE2 matches in time linear in the text, so no pattern a
chat user writes (`(a+)+$` included) can stall the bot; the constructs that need
backtracking (look-around, back-references) are refused at rule time instead."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from bot.i18n import _

MAX_PROGRAM_BYTES = 1 << 20  # RE2 refuses patterns whose compiled form would be larger


@lru_cache(maxsize=4096)
def compile_regex(pattern: str, flags: str = "") -> Any:
    """A compiled RE2 pattern, or ValueError saying in plain words what is wrong."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = "i" not in flags
    options.max_mem = MAX_PROGRAM_BYTES
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else str(exc)
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        if "perl operator" in detail or "backreference" in detail or "escape sequence" in detail:
            detail += " " + _("(look-around and back-references are not supported)")
        raise ValueError(_("invalid regex: {problem}").format(problem=detail)) from None
