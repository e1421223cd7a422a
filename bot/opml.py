"""OPML, the format feed readers exchange subscription lists in: a chat's feeds (and,
in tipoff's own exports, its watches) out, and any reader's export in. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from lxml import etree

from bot.feeds.xmlfeed import ThreadParsers
from bot.i18n import _

MAX_OPML_BYTES = 2 * 1024 * 1024
_PARSERS = ThreadParsers(recover=False)  # strict, no entities, DTD or network; one per thread


class OpmlError(ValueError):
    pass


@dataclass(slots=True)
class OpmlContents:
    feeds: list[tuple[str, str]] = field(default_factory=list)  # (title, url)
    watches: list[str] = field(default_factory=list)  # rules, from tipoff's own exports


def export_opml(title: str, feeds: Iterable[tuple[str, str]], watches: Iterable[str] = ()) -> bytes:
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = etree.SubElement(root, "body")
    for feed_title, url in feeds:
        etree.SubElement(body, "outline", type="rss", text=feed_title or url, title=feed_title or url, xmlUrl=url)
    rules = list(watches)
    if rules:
        group = etree.SubElement(body, "outline", text="tipoff watches")
        for rule in rules:
            etree.SubElement(group, "outline", text=rule, tipoffRule=rule)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def parse_opml(data: bytes) -> OpmlContents:
    """Every feed outline at any depth (and tipoff watch outlines), or OpmlError."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(_("the file is larger than {size} MB").format(size=MAX_OPML_BYTES // 1024 // 1024))
    try:
        root = etree.fromstring(data, _PARSERS.parser)
    except etree.XMLSyntaxError as exc:
        raise OpmlError(_("not an OPML file: {problem} (line {line})").format(
            problem=exc.msg, line=exc.lineno)) from None
    if etree.QName(root).localname.lower() != "opml":
        raise OpmlError(_("not an OPML file: its root element is <{name}>").format(name=etree.QName(root).localname))
    out = OpmlContents()
    for node in root.iter():
        if not isinstance(node.tag, str) or etree.QName(node).localname.lower() != "outline":
            continue
        attrs = {k.lower(): v for k, v in node.attrib.items()}
        if attrs.get("tipoffrule"):
            out.watches.append(attrs["tipoffrule"])
        elif attrs.get("xmlurl"):
            out.feeds.append((attrs.get("title") or attrs.get("text") or "", attrs["xmlurl"].strip()))
    return out
