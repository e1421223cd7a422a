"""What full_text costs: the extra time per new entry of reading its article (the
extraction of the main text from a page; the fetch is one more request to the
article's host, paced by its budget), against the baseline of what a new entry costs
without it (parsing its share of a feed body and normalising it, from the real corpus),
in the same run. Pages are built like news articles: navigation, a few thousand words
of paragraphs, sidebars, scripts and a footer (60-120 KB).

Prints milliseconds per page and per entry, and ends with `article cost vs baseline: X.Xx`
(how many plain new entries one article costs).

Run: python bench/articles.py [--pages 200]"""

from __future__ import annotations

import argparse
import random
import time

from _common import corpus_files

from match import WORDS, artists


def pages(n: int, rnd: random.Random) -> list[bytes]:
    names = artists(rnd, 500)
    out = []
    for i in range(n):
        def sentence() -> str:
            return " ".join(rnd.choice(WORDS + names) for _ in range(rnd.randint(12, 30))).capitalize() + "."
        paragraphs = "".join(f"<p>{' '.join(sentence() for _ in range(rnd.randint(3, 7)))}</p>"
                             for _ in range(rnd.randint(15, 40)))
        nav = "".join(f'<li><a href="/s/{j}">{rnd.choice(WORDS)}</a></li>' for j in range(60))
        aside = "".join(f'<li><a href="/a/{j}">{sentence()}</a></li>' for j in range(20))
        script = "<script>" + "var x=1;" * 2000 + "</script>"
        out.append(f"<!doctype html><html><head><title>Story {i}</title>{script}</head><body><nav><ul>{nav}</ul></nav>"
                   f"<main><article><h1>{sentence()}</h1>{paragraphs}</article></main><aside><ul>{aside}</ul></aside>"
                   f"<footer>{sentence() * 5}</footer></body></html>".encode())
    return out


def main(n: int) -> None:
    from bot.feeds.articles import extract_text
    from bot.feeds.parse import parse_feed

    rnd = random.Random(5)
    built = pages(n, rnd)
    start = time.perf_counter()
    chars = sum(len(extract_text(p)) for p in built)
    per_page = (time.perf_counter() - start) / n

    bodies = [p.read_bytes() for p in corpus_files("real")]
    start = time.perf_counter()
    entries = 0
    for body in bodies:
        try:
            entries += len(parse_feed(body, "f").entries)  # cold: every entry new, normalised
        except Exception:
            pass
    per_entry = (time.perf_counter() - start) / max(entries, 1)
    print(f"{n} article pages, {sum(map(len, built)) / n / 1024:.0f} KB each on average, "
          f"{chars / n:.0f} characters of text extracted from each")
    print(f"article extraction: {per_page * 1000:.1f} ms a page")
    print(f"baseline, a new feed entry without its article: {per_entry * 1000:.2f} ms ({entries} corpus entries)")
    print(f"article cost vs baseline: {per_page / per_entry:.1f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=200)
    main(ap.parse_args().pages)
