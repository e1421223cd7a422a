"""RSS 0.90–2.0, RDF and Atom 0.3/1.0 read with lxml, the way the formats say they are
read: an item's link is its own <link> (an <atom:link> beside it does not replace it),
an Atom entry's is its alternate link (no rel means alternate), relative addresses
resolve against xml:base (nested) and then the document's own address, a title is text
unless the format says HTML or it holds real markup, xhtml content is its markup, dates
keep their AM/PM and zones, and an unescaped "&" in an address stays in it. Gives the
same plain item dicts parse.py turns into Entries. No entities are expanded and no DTD
is read; broken documents are read as far as lxml's recovery goes."""

from __future__ import annotations

import base64
import html
import re
import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from itertools import islice
from typing import Any, Callable, Iterable
from urllib.parse import urljoin

from lxml import etree

ATOM10 = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RSS10 = "http://purl.org/rss/1.0/"
RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
MEDIA = "http://search.yahoo.com/mrss/"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


class ThreadParsers(threading.local):
    """An lxml parser per thread. A parser object is locked while it parses: one shared
    by the event loop and the parse threads made the loop wait out a thread's whole
    parse of a big body (25 ms for a 1.6 MB feed) before it could read a small one."""

    def __init__(self, **options: Any) -> None:
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                                      **options)


_PARSERS = ThreadParsers(recover=True, remove_comments=True, remove_pis=True)
# an "&" that starts no entity or character reference: escaped, so "?a=1&b=2" keeps "&b"
_BARE_AMP = re.compile(rb"&(?!(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,8}|#x[0-9A-Fa-f]{1,8});)")
# What makes a title HTML: an element of HTML with its closing tag, a void one, or a
# character reference (a feed that escaped twice). Anything else in angle brackets is
# text: "Nice <gorilla> what's he weigh?", "Use the <dialog> element".
_ELEMENTS = ("a|abbr|b|big|blockquote|cite|code|del|dfn|div|em|font|h[1-6]|i|ins|kbd|li|mark|ol|p|pre|q|s|samp|"
             "small|span|strike|strong|sub|sup|table|td|th|tr|tt|u|ul|var")
_MARKUP = re.compile(rf"<({_ELEMENTS})\b[^<>]*>.*?</\1\s*>|<(?:br|hr|img|wbr)\b[^<>]*/?>|"
                     r"&(?:#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});", re.IGNORECASE | re.DOTALL)


class NotXmlFeed(ValueError):
    """Not a document this reader takes (JSON, HTML, unknown): the caller decides."""


Known = Callable[[str], "str | None"]  # an entry's id → its key when seen before, else None


def read(body: bytes, base_url: str = "", known: Known | None = None, limit: int | None = None) -> dict[str, Any]:
    """{"feed": {"title", "link"}, "entries": [item dicts]}, or NotXmlFeed. An entry whose
    id (its guid or id, else its link) `known` gives a key for (seen before) is only its
    id and that key: the rest of it is never read. Only the first `limit` entries are
    read at all (a podcast feed of 700 episodes is not read to its end every poll)."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml") and head is not body:
        body = head  # a declaration after white space is an error libxml2 recovers from badly (it drops "&amp;")
    if _BARE_AMP.search(body):
        body = _BARE_AMP.sub(b"&amp;", body)
    root = etree.fromstring(body, _PARSERS.parser)
    if root is None:
        raise NotXmlFeed("no XML document")
    name = etree.QName(root)
    if name.localname == "feed" and name.namespace in (ATOM10, ATOM03, None):
        read = _atom(root, name.namespace or ATOM10, base_url, known, limit)
    elif name.localname == "rss":
        read = _rss(root, base_url, known, limit)
    elif name.localname == "RDF":
        read = _rdf(root, base_url, known, limit)
    else:
        raise NotXmlFeed(f"<{name.localname}> is not a feed")
    return {**read, "known_checked": known is not None}  # every entry not marked known is new


# -- RSS and RDF -------------------------------------------------------------------

def _rss(root: etree._Element, base_url: str, known: Known | None, limit: int | None) -> dict[str, Any]:
    channel = root.find("channel")
    if channel is None:
        raise NotXmlFeed("an RSS document without a <channel>")
    base = _base(channel, _base(root, base_url))
    items = [_rss_item(item, _base(item, base), None, known)
             for item in islice(channel.iter("item"), limit)]  # nested too
    return {"feed": {"title": _rss_title(channel.findtext("title")), "link": _join(base, channel.findtext("link"))},
            "entries": items}


def _rdf(root: etree._Element, base_url: str, known: Known | None, limit: int | None) -> dict[str, Any]:
    ns = RSS10 if root.find(f"{{{RSS10}}}channel") is not None or root.find(f"{{{RSS10}}}item") is not None \
        else RSS090
    channel = root.find(f"{{{ns}}}channel")
    base = _base(root, base_url)
    title = channel.findtext(f"{{{ns}}}title") if channel is not None else ""
    link = channel.findtext(f"{{{ns}}}link") if channel is not None else ""
    items = [_rss_item(item, _base(item, base), ns, known)
             for item in islice(root.iterfind(f"{{{ns}}}item"), limit)]
    return {"feed": {"title": _rss_title(title), "link": _join(base, link)}, "entries": items}


_ATOM_LINK, _DC_TITLE, _DC_DATE = f"{{{ATOM10}}}link", f"{{{DC}}}title", f"{{{DC}}}date"
_DC_CREATOR, _DC_SUBJECT, _ENCODED = f"{{{DC}}}creator", f"{{{DC}}}subject", f"{{{CONTENT}}}encoded"
_ABOUT = f"{{{RDF}}}about"


def _rss_item(item: etree._Element, base: str, ns: str | None = None, known: Known | None = None) -> dict[str, Any]:
    """One RSS or RDF item, its children read in one pass."""
    prefix = f"{{{ns}}}" if ns else ""
    asked = ""  # the id `known` was asked about already
    if known is not None:  # most items carry a guid: a known one is done with before its children are read
        guid_first = item.find(prefix + "guid")
        asked = (guid_first.text or "").strip() if guid_first is not None else ""
        if not asked and ns:  # an RDF item is known by its rdf:about, an attribute: no child walk
            asked = item.get(_ABOUT) or ""
        if asked and (key := known(asked)):
            return {"id": asked, "link": "", "key": key}
    first: dict[str, etree._Element] = {}
    tags: list[str] = []
    atom_links: list[etree._Element] = []
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if prefix and tag.startswith(prefix):
            tag = tag[len(prefix):]
        if tag in ("category", _DC_SUBJECT):
            if text := _text_of(child):
                tags.append(text)
        elif tag == _ATOM_LINK:
            atom_links.append(child)
        elif tag not in first:
            first[tag] = child
    guid = first.get("guid")
    guid_text = (guid.text or "").strip() if guid is not None else ""
    link = _text_of(first.get("link"))
    if not link and guid is not None and guid.get("isPermaLink", "true").lower() != "false" \
            and guid_text.startswith(("http://", "https://")):
        link = guid_text
    if not link:
        link = _atom_link(atom_links, base)
    entry_id = guid_text or item.get(_ABOUT) or None
    link = _join(base, link)
    if known is not None and (entry_id or link) != asked and (key := known(entry_id or link)):
        return {"id": entry_id, "link": link, "key": key}
    title_el = first.get("title")
    if title_el is None:
        title_el = first.get(_DC_TITLE)
    date_el = first.get("pubDate")
    if date_el is None:
        date_el = first.get(_DC_DATE)
    return {
        "id": entry_id,
        "title": _rss_title(title_el.text if title_el is not None else None),
        "link": link,
        "description": _own_text(first.get("description")),
        "content": _own_text(first.get(_ENCODED)),
        "published": _date(date_el.text if date_el is not None else None),
        "updated": None,
        "authors": [{"name": a} for a in (_text_of(first.get("author")), _text_of(first.get(_DC_CREATOR))) if a],
        "tags": [{"term": t} for t in tags],
        "source": _text_of(first.get("source")),  # Google News: the publisher of the story
        **_media(item, base),
    }


def _own_text(el: etree._Element | None) -> str:
    return (el.text or "") if el is not None else ""


def _rss_title(title: str | None) -> str:
    """RSS says nothing of a title's type: text, unless it holds real markup."""
    title = title or ""
    return title if _MARKUP.search(title) else html.escape(title, quote=False)


# -- Atom ---------------------------------------------------------------------------

def _atom(root: etree._Element, ns: str, base_url: str, known: Known | None, limit: int | None) -> dict[str, Any]:
    qualified = root.tag.startswith("{")  # Atom written without its namespace is read all the same

    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}" if qualified else tag

    base = _base(root, base_url)
    entries: list[dict[str, Any]] = []
    for entry in islice(root.iterfind(q("entry")), limit):
        here = _base(entry, base)
        eid = _text_of(entry.find(q("id")))
        link = _atom_link(entry.iterfind(q("link")), here)
        if not link and eid.startswith(("http://", "https://")):
            link = eid
        if known is not None and (key := known(eid or link)):
            entries.append({"id": eid or None, "link": link, "key": key})
            continue
        content = entry.find(q("content"))
        entries.append({
            "id": eid or None,
            "title": _atom_text(entry.find(q("title"))) or _rss_title(entry.findtext(f"{{{DC}}}title")),
            "link": link,
            "description": _atom_text(entry.find(q("summary"))),
            "content": _atom_text(content) if content is not None and not content.get("src") else "",
            "published": _date(entry.findtext(q("published")) or entry.findtext(q("issued"))
                               or entry.findtext(q("created"))),
            "updated": _date(entry.findtext(q("updated")) or entry.findtext(q("modified"))),
            "authors": [{"name": _text_of(a.find(q("name")))} for a in entry.iterfind(q("author"))
                        if _text_of(a.find(q("name")))],
            "tags": [{"term": c.get("term") or "", "label": c.get("label") or ""} for c in entry.iterfind(q("category"))],
            **_media(entry, here),
        })
    return {"feed": {"title": _atom_text(root.find(q("title"))), "link": _atom_link(root.iterfind(q("link")), base)},
            "entries": entries}


def _atom_link(links: Iterable[etree._Element], base: str) -> str:
    """The alternate link (a link without rel is one, RFC 4287 4.2.7.2), an HTML one
    first; relative addresses resolved."""
    alternates = [link for link in links if (link.get("rel") or "alternate") == "alternate" and link.get("href")]
    if not alternates:
        return ""
    html_first = sorted(alternates, key=lambda link: (link.get("type") or "text/html") != "text/html")
    return _join(_base(html_first[0], base), html_first[0].get("href"))


def _atom_text(el: etree._Element | None) -> str:
    """A text construct as HTML: text escaped, html as is, xhtml its markup; Atom 0.3's
    escaped and base64 modes too."""
    if el is None:
        return ""
    kind = (el.get("type") or "text").lower()
    if kind in ("xhtml", "application/xhtml+xml") or (el.get("mode") == "xml" and len(el)):
        div = next(iter(el), None)
        inner = div if div is not None and etree.QName(div).localname == "div" else el
        return html.escape(inner.text or "", quote=False) + _children_html(inner)
    binary = "/" in kind and not kind.startswith("text/") and not kind.endswith(("+xml", "/xml"))
    if el.get("mode") == "base64" or binary:  # Atom 0.3's mode; Atom 1.0's other media types (RFC 4287 4.1.3.3)
        try:  # only what really is base64 of UTF-8 text; anything else stays text
            return html.escape(base64.b64decode((el.text or "").strip(), validate=True).decode("utf-8"), quote=False)
        except ValueError:
            if el.get("mode") == "base64":
                return ""
    markup = kind in ("html", "text/html") or el.get("mode") == "escaped"
    if len(el) == 0:
        text = el.text or ""
    elif markup:  # unescaped markup inside an html construct: taken as the markup it is
        text = (el.text or "") + _children_html(el)
    else:
        text = "".join(el.itertext())
    return text if markup else html.escape(text, quote=False)


def _children_html(el: etree._Element) -> str:
    """An element's children (and the text after each) as HTML, namespaces dropped."""
    _strip_ns(el)
    return "".join(etree.tostring(child, encoding="unicode", with_tail=True, method="html") for child in el)


def _strip_ns(el: etree._Element) -> None:
    for node in el.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = etree.QName(node).localname


# -- shared ---------------------------------------------------------------------------

_THUMB, _CONTENT, _GROUP = f"{{{MEDIA}}}thumbnail", f"{{{MEDIA}}}content", f"{{{MEDIA}}}group"


def _media(el: etree._Element, base: str) -> dict[str, list[dict[str, str]]]:
    """Images and enclosures, in one pass over the item's children (media:group's too)."""
    found: dict[str, list[dict[str, str]]] = {"media_thumbnail": [], "media_content": [], "enclosures": []}
    children = list(el)
    for child in children:
        tag = child.tag
        if tag == _GROUP:
            children.extend(child)
            continue
        key = ("media_thumbnail" if tag == _THUMB else "media_content" if tag == _CONTENT else "enclosures"
               if tag == "enclosure" or (isinstance(tag, str) and tag.endswith("link") and child.get("rel") == "enclosure")
               else None)
        if key is not None:
            found[key].append({k: _join(base, v) if k in ("url", "href") else v for k, v in child.attrib.items()})
    return found


def _base(el: etree._Element, parent_base: str) -> str:
    here = el.get(XML_BASE)
    return _join(parent_base, here) if here else parent_base


def _join(base: str, link: str | None) -> str:
    link = (link or "").strip()
    if not link or link.startswith(("http://", "https://")) or not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _text_of(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


# North American zones, and the few others feeds write by name; never a guess: a name not
# here leaves the date in UTC only when it says so
_ZONES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
          "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "BST": 1, "IST": 5.5, "CET": 1, "CEST": 2,
          "EET": 2, "EEST": 3, "WET": 0, "WEST": 1, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "MSK": 3}


_RFC822_ZONE = re.compile(r"(?:[+-]\d{4}|UT|UTC|GMT|Z|[ECMP][SD]T)$")


def _date(value: str | None) -> str | None:
    """A feed's date as an ISO 8601 string in UTC, or None: ISO 8601, RFC 822, and the
    free forms feeds write ("Friday, January 29, 2021 04:42 PM", "4:42 pm EST"), zone
    names read as what they say (BST is an hour ahead of UTC, not UTC)."""
    if not value or not value.strip():
        return None
    text = " ".join(value.split())
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    if when is None and _RFC822_ZONE.search(text) and not re.search(r"\b(am|pm)\b", text, re.IGNORECASE):
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            when = None
    if when is None:
        when = _free_form(text)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return when.astimezone(timezone.utc).isoformat()
    except (OverflowError, ValueError):
        return None


def _free_form(text: str) -> datetime | None:
    import warnings

    from dateutil import parser as dateparser

    zones = {name: int(hours * 3600) for name, hours in _ZONES.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unknown zone name: read as written, no guess
            parsed: datetime = dateparser.parse(text, tzinfos=zones)
            return parsed
    except (ValueError, OverflowError, TypeError):
        return None
