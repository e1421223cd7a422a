"""Telegram's HTML parse mode, as the Bot API documents it, for the fake server: only
the listed tags, tags balanced, only &lt; &gt; &amp; &quot; and numeric entities, and
every other <, > or & escaped. Returns the visible text, or raises with the error
message Telegram gives ("can't parse entities: ...")."""

from __future__ import annotations

import re

ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji",
           "code", "pre", "blockquote"}
_TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:"[^"<>]*"|\'[^\'<>]*\'|[^\s"\'<>=]+))?)*)\s*>')
_ATTR = re.compile(r'([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|([^\s"\'<>=]+)))?')
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class TelegramHTMLError(ValueError):
    pass


def visible_text(markup: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(markup):
        ch = markup[i]
        if ch == "<":
            m = _TAG.match(markup, i)
            if not m:
                raise TelegramHTMLError(f"can't parse entities: Unexpected start tag at byte offset {i}")
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in ALLOWED:
                raise TelegramHTMLError(f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {i}')
            if closing:
                if not stack or stack[-1] != name:
                    raise TelegramHTMLError(f'can\'t parse entities: Unmatched end tag at byte offset {i}, '
                                            f'expected "</{stack[-1] if stack else ""}>", found "</{name}>"')
                stack.pop()
            else:
                attrs = {a.group(1).lower(): next((g for g in a.groups()[1:] if g is not None), "")
                         for a in _ATTR.finditer(m.group(3))}
                if name == "a" and "href" not in attrs:
                    raise TelegramHTMLError("can't parse entities: <a> needs an href")
                if stack and stack[-1] in ("pre", "code") and not (stack[-1] == "pre" and name == "code"):
                    raise TelegramHTMLError(f'can\'t parse entities: tag "{name}" inside "{stack[-1]}"')
                stack.append(name)
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(markup, i)
            if not m:
                raise TelegramHTMLError(f"can't parse entities: Unsupported entity at byte offset {i}")
            ref = m.group(1)
            out.append(_NAMED[ref] if ref in _NAMED else chr(int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])))
            i = m.end()
        elif ch == ">":
            raise TelegramHTMLError(f"can't parse entities: Unexpected > at byte offset {i}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise TelegramHTMLError(f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
