"""Parse throughput on ../shared/corpus/real for the candidate parsers, against
feedparser (the reference most Python feed bots use) as the baseline, with lxml's raw
XML parse as the ceiling. Run: python bench/parse.py [--repeats N]"""

from __future__ import annotations

import argparse
import warnings

from _common import best_of, best_of_each, corpus_files

warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import fastfeedparser
    import feedparser
    from lxml import etree

    from bot.feeds.errors import FeedError
    from bot.feeds.parse import parse_feed

    bodies = [p.read_bytes() for p in corpus_files("real")]
    xml = [b for b in bodies if not b.lstrip().startswith(b"{")]
    total_mb = sum(map(len, bodies)) / 1e6
    xml_mb = sum(map(len, xml)) / 1e6
    lxml_parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)

    def each(fn, items):
        def run():
            for b in items:
                try:
                    fn(b)
                except (ValueError, FeedError):
                    pass
        return run

    entries = sum(len(parse_feed(b, "f").entries) for b in bodies if _ok(parse_feed, b))
    # the steady state: every entry seen before (a changed body whose entries are known)
    from bot.dedupe import entry_key

    known = [{entry_key(e) for e in parse_feed(b, "f", "https://example.org/").entries} if _ok(parse_feed, b)
             else set() for b in bodies]
    steady = list(zip(bodies, known))
    changed, changed_mb = _changed_bodies(bodies)
    # the figures the last line compares are timed in turn, so a slow spell hits them alike
    lxml_secs, steady_secs, changed_secs = best_of_each(
        args.repeats, each(lambda b: etree.fromstring(b, lxml_parser), xml),
        each(lambda bk: parse_feed(bk[0], "f", "https://example.org/", known=bk[1]), steady),
        each(lambda c: c(), changed))
    rows = [
        ("feedparser (baseline)", best_of(args.repeats, each(feedparser.parse, bodies)), total_mb),
        ("fastfeedparser", best_of(args.repeats, each(fastfeedparser.parse, bodies)), total_mb),
        ("tipoff parse_feed (own XML reader + HTML→text + normalise)",
         best_of(args.repeats, each(lambda b: parse_feed(b, "f", "https://example.org/"), bodies)), total_mb),
        ("lxml raw XML parse (ceiling, XML files only)", lxml_secs, xml_mb),
    ]
    baseline = rows[0][1]
    print(f"corpus: {len(bodies)} files, {total_mb:.1f} MB, {entries} entries (best of {args.repeats})")
    for name, secs, mb in rows:
        print(f"{name:62s} {mb / secs:8.1f} MB/s  {secs * 1000:8.1f} ms  x{baseline / secs:6.1f} vs feedparser")
    print(f"{'tipoff parse_feed, steady state (entries known: not normalised)':62s} "
          f"{total_mb / steady_secs:8.1f} MB/s  {steady_secs * 1000:8.1f} ms  x{baseline / steady_secs:6.1f} vs feedparser")
    print(f"{'tipoff, a changed body (one entry added on top, header rewritten)':62s} "
          f"{changed_mb / changed_secs:8.1f} MB/s  {changed_secs * 1000:8.1f} ms  ({len(changed)} feeds)")
    print(f"tipoff entries/s: {entries / rows[2][1]:,.0f} cold, {entries / steady_secs:,.0f} steady")
    lxml_rate = xml_mb / rows[3][1]
    print(f"tipoff vs lxml raw: {100 * (total_mb / steady_secs) / lxml_rate:.0f}% "
          f"(steady state; cold: {100 * (total_mb / rows[2][1]) / lxml_rate:.0f}%; "
          f"a changed body: {100 * (changed_mb / changed_secs) / lxml_rate:.0f}%)")


def _changed_bodies(bodies: list[bytes]):
    """A poll that finds a feed changed the usual way (an entry added on top, the header
    rewritten): each body so changed, read after the original (bot/feeds/layout.py)."""
    from bot.dedupe import key_of
    from bot.feeds.errors import FeedError
    from bot.feeds.layout import Layouts, entry_spans
    from bot.feeds.parse import apply_charset, sniff_kind

    out, size = [], 0
    for n, body in enumerate(bodies):
        layouts, fid = Layouts(refresh=float("inf")), f"f{n}"
        try:
            first = layouts.parse(body, fid, "https://example.org/", now=0, reuse=False, known=set())
        except FeedError:
            continue
        body = apply_charset(body, None)
        kind = sniff_kind(body)
        spans = entry_spans(body, kind)
        if not spans:
            continue
        added = (b'<entry><title>Added</title><link href="https://example.org/added"/><id>urn:added</id></entry>'
                 if kind == "atom" else b"<item><title>Added</title><link>https://example.org/added</link></item>")
        new = body[:spans[0].start] + added + body[spans[0].start:]
        known = set(first.known_keys) | {key_of(fid, e.id) for e in first.entries}
        saved = dict(layouts._last)

        def read(layouts=layouts, saved=saved, new=new, fid=fid, known=known) -> None:
            layouts._last = dict(saved)  # the original's layout again: each repeat reads the same change
            layouts.parse(new, fid, "https://example.org/", now=1, known=known)
        out.append(read)
        size += len(new)
    return out, size / 1e6


def _ok(fn, body) -> bool:
    try:
        fn(body, "f")
        return True
    except Exception:
        return False


if __name__ == "__main__":
    main()
