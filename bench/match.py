"""Matching throughput: tipoff's single-automaton matcher against the naive loop most
feed bots run (every watch's own compiled regexes searched in every entry), on the
entries of ../shared/corpus/real, for 10 to 100,000 watches generated from music
vocabularies (artist names, song and music words). Both run in this process; the naive
loop is timed on a sample of entries when a full pass would take minutes (entries/s is a
rate, so a sample measures it, and the ratio compares both on that same sample). Ends with `speedup at 10000 watches: X.Xx`.

Run: python bench/match.py [--watches 10,1000,10000,100000]"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import datetime, timezone

from _common import best_of, corpus_files

FIRST = ["Lady", "Britney", "Taylor", "Ariana", "Billie", "Dua", "Olivia", "Sabrina", "Harry", "Bruno", "Kendrick",
         "Travis", "Doja", "Miley", "Selena", "Justin", "Katy", "Lana", "Nicki", "Cardi", "Post", "Bad", "Peso",
         "Karol", "Rosalía", "Stromae", "Aya", "Burna", "Tems", "Rema", "Charli", "Chappell", "Noah", "Zach",
         "Morgan", "Luke", "Kacey", "Jack", "Phoebe", "Lizzo", "Megan", "Ice", "Jelly", "Tyla", "Victoria"]
LAST = ["Gaga", "Spears", "Swift", "Grande", "Eilish", "Lipa", "Rodrigo", "Carpenter", "Styles", "Mars", "Lamar",
        "Scott", "Cat", "Cyrus", "Gomez", "Bieber", "Perry", "Del Rey", "Minaj", "B", "Malone", "Bunny", "Pluma",
        "G", "Vila", "Nakamura", "Boy", "Ayra", "Xcx", "Roan", "Kahan", "Bryan", "Wallen", "Musgraves", "Harlow",
        "Bridgers", "Thee Stallion", "Spice", "Roll", "Monét", "Sheeran", "Weeknd", "Beyoncé", "Adele", "Rihanna"]
WORDS = ["duet", "tour", "album", "single", "remix", "collab", "concert", "festival", "grammy", "chart", "release",
         "video", "tease", "announce", "stage", "ballad", "anthem", "cover", "acoustic", "encore", "setlist",
         "headline", "vinyl", "debut", "comeback", "award", "residency", "documentary", "lyrics", "premiere"]
NOISE = ["rumor", "rumour", "fake", "parody", "tribute", "karaoke", "leak", "gossip"]


def artists(rng: random.Random, n: int) -> list[str]:
    names = {f"{f} {l}" for f in FIRST for l in LAST}
    out = sorted(names)
    rng.shuffle(out)
    while len(out) < n:  # beyond the real-ish pairs: synthetic stage names
        out.append(f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(['Jr', 'II', 'Band', 'Trio', 'Duo'])}{len(out)}")
    return out[:n]


def make_rules(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    names = artists(rng, max(n, 100))
    rules = []
    for i in range(n):
        a, b = names[i], rng.choice(names)
        word, noise = rng.choice(WORDS), rng.choice(NOISE)
        shape = i % 6
        if shape == 0:
            rules.append(f'"{a}" AND "{b}" AND {word}')
        elif shape == 1:
            rules.append(f'"{a}" ({word} OR {rng.choice(WORDS)}) -{noise}')
        elif shape == 2:
            rules.append(f'title:"{a}" {word}*')
        elif shape == 3:
            rules.append(f'"{a}" OR "{b}"')
        elif shape == 4:
            rules.append(f'"{a}" -{noise}*')
        else:
            rules.append(f'("{a}" OR {a.split()[-1]}) AND {word}')
    return rules


# -- the naive baseline: what a typical bot does -------------------------------------

def naive_compile(rule_text: str):
    """Each watch as a list of (required?, regex) from its words and phrases: the usual
    keyword-list implementation. Good enough for the shapes generated above."""
    from bot.rules.syntax import And, Not, Term, parse_rule

    def build(node):
        if isinstance(node, Term):
            body = r"\s+".join(re.escape(w) for w in node.text.split())
            tail = r"\w*" if node.wildcard else r"\b"
            return ("t", re.compile(r"\b" + body + tail, re.IGNORECASE))
        if isinstance(node, Not):
            return ("n", build(node.child))
        return ("a" if isinstance(node, And) else "o", [build(c) for c in node.children])
    return build(parse_rule(rule_text))


def naive_eval(node, text: str) -> bool:
    kind, payload = node
    if kind == "t":
        return payload.search(text) is not None
    if kind == "n":
        return not naive_eval(payload, text)
    if kind == "a":
        return all(naive_eval(c, text) for c in payload)
    return any(naive_eval(c, text) for c in payload)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--watches", default="10,1000,10000,100000")
    ap.add_argument("--naive-budget", type=float, default=20.0, help="seconds the naive loop may take per size")
    args = ap.parse_args()

    from bot.feeds.errors import FeedError
    from bot.feeds.parse import parse_feed
    from bot.model import Watch, WatchId
    from bot.rules.matcher import compile_watches, entry_fields

    entries = []
    for path in corpus_files("real"):
        try:
            entries.extend(parse_feed(path.read_bytes(), "f", "https://example.org/").entries)
        except FeedError:
            pass
    fields = [entry_fields(e, "Bench Feed") for e in entries]
    texts = ["\n".join((f["title"], f["summary"], f["content"], f["tag"])) for f in fields]
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    print(f"{len(entries)} entries from the real corpus")
    print(f"{'watches':>8} {'compile':>9} {'tipoff entries/s':>17} {'naive entries/s':>16} {'speedup':>9} {'hits':>6}")
    print("(speedup compares both on the same entries; tipoff entries/s is over all of them)")

    results = {}
    for n in (int(x) for x in args.watches.split(",")):
        rules = make_rules(n)
        watches = [Watch(WatchId(f"w{i}"), r, (), epoch) for i, r in enumerate(rules)]
        start = time.perf_counter()
        matcher = compile_watches(watches)
        matcher.match_fields(fields[0])  # builds the automaton
        compile_s = time.perf_counter() - start
        hits = 0

        def run_ours() -> None:
            nonlocal hits
            hits = sum(len(matcher.match_fields(f)) for f in fields)
        ours = len(fields) / best_of(3, run_ours)
        fresh = iter(range(10**6))

        def add_and_rebuild() -> None:
            # a watch with terms no other watch has, so the automaton must be rebuilt
            k = next(fresh)
            matcher.add(Watch(WatchId("extra"), f'"zebra quartet{k}" AND marimba{k}', (), epoch))
            matcher.match_fields(fields[0])
            matcher.remove(WatchId("extra"))
        add_ms = best_of(3, add_and_rebuild) * 1000

        naive = [naive_compile(r) for r in rules]
        order = list(range(len(texts)))
        random.Random(n).shuffle(order)  # a random sample, not the first (longest?) entries
        sample: list[int] = []
        start = time.perf_counter()
        for i in order:  # as many entries as the budget allows, at least 5
            for w in naive:
                naive_eval(w, texts[i])
            sample.append(i)
            if time.perf_counter() - start > args.naive_budget and len(sample) >= 5:
                break
        theirs = len(sample) / (time.perf_counter() - start)
        sample_fields = [fields[i] for i in sample]
        ours_on_sample = len(sample) / best_of(3, lambda: [matcher.match_fields(f) for f in sample_fields])
        results[n] = (ours, theirs, compile_s, ours_on_sample)
        note = "" if len(sample) == len(texts) else f"  (naive timed on a random {len(sample)} entries)"
        print(f"{n:>8} {compile_s:>8.2f}s {ours:>17,.0f} {theirs:>16,.1f} {ours_on_sample / theirs:>8.1f}x "
              f"{hits:>6}{note}")
        print(f"{'':>8} adding one watch with new terms: {add_ms:.1f} ms")

    sizes = sorted(results)
    if len(sizes) > 1:
        print(f"throughput at {sizes[-1]} watches vs {sizes[0]}: {results[sizes[0]][0] / results[sizes[-1]][0]:.2f}x slower")
    if 10000 in results:
        _, theirs, _, ours_on_sample = results[10000]
        print(f"speedup at 10000 watches: {ours_on_sample / theirs:.1f}x")


if __name__ == "__main__":
    main()
