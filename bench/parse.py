"""Parse throughput on ../shared/corpus/real for the candidate parsers, against
feedparser (the reference most Python feed bots use) as the baseline, with lxml's raw
XML parse as the ceiling. Run: python bench/parse.py [--repeats N]"""

from __future__ import annotations

import argparse
import warnings

from _common import best_of, corpus_files

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
    steady_secs = best_of(args.repeats, each(lambda bk: parse_feed(bk[0], "f", "https://example.org/", known=bk[1]),
                                             steady))
    rows = [
        ("feedparser (baseline)", best_of(args.repeats, each(feedparser.parse, bodies)), total_mb),
        ("fastfeedparser", best_of(args.repeats, each(fastfeedparser.parse, bodies)), total_mb),
        ("tipoff parse_feed (own XML reader + HTML→text + normalise)",
         best_of(args.repeats, each(lambda b: parse_feed(b, "f", "https://example.org/"), bodies)), total_mb),
        ("lxml raw XML parse (ceiling, XML files only)",
         best_of(args.repeats, each(lambda b: etree.fromstring(b, lxml_parser), xml)), xml_mb),
    ]
    baseline = rows[0][1]
    print(f"corpus: {len(bodies)} files, {total_mb:.1f} MB, {entries} entries (best of {args.repeats})")
    for name, secs, mb in rows:
        print(f"{name:62s} {mb / secs:8.1f} MB/s  {secs * 1000:8.1f} ms  x{baseline / secs:6.1f} vs feedparser")
    print(f"{'tipoff parse_feed, steady state (entries known: not normalised)':62s} "
          f"{total_mb / steady_secs:8.1f} MB/s  {steady_secs * 1000:8.1f} ms  x{baseline / steady_secs:6.1f} vs feedparser")
    print(f"tipoff entries/s: {entries / rows[2][1]:,.0f} cold, {entries / steady_secs:,.0f} steady")
    lxml_rate = xml_mb / rows[3][1]
    print(f"tipoff vs lxml raw: {100 * (total_mb / steady_secs) / lxml_rate:.0f}% "
          f"(steady state; cold: {100 * (total_mb / rows[2][1]) / lxml_rate:.0f}%)")


def _ok(fn, body) -> bool:
    try:
        fn(body, "f")
        return True
    except Exception:
        return False


if __name__ == "__main__":
    main()
