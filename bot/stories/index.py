"""Recent stories, found by what a headline says without comparing it with every one:
an inverted index from each term to the headlines that hold it, asked only for a new
headline's rarest terms. Stories older than the window are forgotten. In memory, plain
data: what the store keeps of it, and when, is the caller's business."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

from bot.model import Source
from bot.stories.compare import Comparison, compare, idf_weight
from bot.stories.headline import Headline

DEFAULT_WINDOW = 3 * 86400.0
PROBE_TERMS = 6  # a headline's rarest terms that find its candidates
MAX_CANDIDATES = 24  # candidates compared in full, the ones sharing the most probe terms first
COMMON_SHARE = 0.01  # a term in more than this share of recent headlines finds no candidates
PROBE_BUDGET = 300  # postings read per lookup, beyond the rarest term's


@dataclass(slots=True)
class Story:
    id: str  # the key of its first headline
    first_seen: float
    headlines: list[str] = field(default_factory=list)  # member keys, first first
    sources: list[str] = field(default_factory=list)  # outlets that reported it, in order, once each
    facts: set[str] = field(default_factory=set)  # kinds of fact reported so far
    numbers: set[str] = field(default_factory=set)
    terms: Counter[str] = field(default_factory=Counter)  # its headlines' terms, with how many hold each


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a headline went: a new story, or an existing one as a copy or a development."""

    story: Story
    verdict: str  # "new", "copy", "development"
    comparison: Comparison | None = None  # against the story's closest headline
    closest: str | None = None  # that headline's key
    thread: str = ""  # the headline whose alert this one belongs to: its own when new or a development


class StoryIndex:
    def __init__(self, window: float = DEFAULT_WINDOW) -> None:
        self.window = window
        self._headlines: dict[str, tuple[Headline, float, str]] = {}  # key → (profile, seen at, story id)
        self._stories: dict[str, Story] = {}
        self._threads: dict[str, str] = {}  # headline key → the key of the headline its alert is
        self._sources: dict[str, Source] = {}  # headline key → who reported it (when the caller said)
        self._postings: dict[str, list[str]] = {}  # term → headline keys, oldest first
        self._df: Counter[str] = Counter()  # term → stories holding it (ten copies of one story are one)
        self._expiry: list[tuple[float, str]] = []  # (seen at, key), a heap

    def __len__(self) -> int:
        return len(self._headlines)

    def __contains__(self, key: object) -> bool:
        return key in self._headlines

    def story(self, story_id: str) -> Story | None:
        return self._stories.get(story_id)

    def story_of(self, key: str) -> Story | None:
        found = self._headlines.get(key)
        return self._stories.get(found[2]) if found else None

    def find(self, headline: Headline, now: float) -> Placed | None:
        """The story this headline belongs to, without adding it; None when it is new."""
        self.expire(now)
        candidates = self._candidates(headline)
        if not candidates:
            return None
        idf = idf_weight(self._df.__getitem__, len(self._stories))
        weights: dict[str, float] = {}

        def weight(term: str) -> float:  # each term's weight worked out once per lookup
            found = weights.get(term)
            if found is None:
                found = weights[term] = idf(term)
            return found

        best: tuple[float, str, Comparison] | None = None
        for key in candidates:
            earlier, _, story_id = self._headlines[key]
            story = self._stories[story_id]
            verdict = compare(earlier, headline, weight, story.facts, story.numbers)
            if verdict.verdict != "different" and (best is None or verdict.score > best[0]):
                best = (verdict.score, key, verdict)
        if best is None:
            return None
        story = self._stories[self._headlines[best[1]][2]]
        return Placed(story, best[2].verdict, best[2], best[1])

    def reports(self, key: str) -> list[tuple[Source, float]]:
        """Who reported the thread this headline belongs to, and when: each headline of
        the thread with a known source, oldest first."""
        found = self._headlines.get(key)
        story = self._stories.get(found[2]) if found else None
        if story is None:
            return []
        thread = self._threads.get(key)
        return [(self._sources[k], self._headlines[k][1]) for k in story.headlines
                if self._threads.get(k) == thread and k in self._sources]

    def add(self, key: str, headline: Headline, now: float, source: str = "", link: str = "") -> Placed:
        """File a headline under its story (a new one when none is close enough);
        `source`, the outlet that reported it (with its `link`)."""
        if key in self._headlines:
            story = self._stories[self._headlines[key][2]]
            return Placed(story, "copy", None, key, self._threads[key])
        placed = self.find(headline, now)
        if placed is None:
            story = Story(key, now)
            self._stories[key] = story
            placed = Placed(story, "new")
        story = placed.story
        story.headlines.append(key)
        if source and source not in story.sources:
            story.sources.append(source)
        story.facts |= headline.developments
        story.numbers |= headline.numbers
        thread = self._threads.get(placed.closest or "", key) if placed.verdict == "copy" else key
        self._threads[key] = thread
        placed = Placed(story, placed.verdict, placed.comparison, placed.closest, thread)
        self._headlines[key] = (headline, now, story.id)
        if source:
            self._sources[key] = Source(source, headline.text, link)
        for term in headline.terms:
            self._postings.setdefault(term, []).append(key)
            story.terms[term] += 1
            if story.terms[term] == 1:
                self._df[term] += 1
        heapq.heappush(self._expiry, (now, key))
        return placed

    def expire(self, now: float) -> int:
        """Forget headlines seen before the window; a story goes with its last headline."""
        cutoff = now - self.window
        gone = 0
        while self._expiry and self._expiry[0][0] < cutoff:
            _, key = heapq.heappop(self._expiry)
            found = self._headlines.pop(key, None)
            if found is None:
                continue
            headline, _, story_id = found
            self._threads.pop(key, None)
            self._sources.pop(key, None)
            story = self._stories.get(story_id)
            for term in headline.terms:
                keys = self._postings.get(term)
                if keys is not None:
                    keys.remove(key)  # the oldest go first: found at or near the front
                    if not keys:
                        del self._postings[term]
                if story is not None:
                    story.terms[term] -= 1
                    if story.terms[term] > 0:
                        continue
                    del story.terms[term]
                self._df[term] -= 1
                if self._df[term] <= 0:
                    del self._df[term]
            if story is not None:
                story.headlines.remove(key)
                if not story.headlines:
                    del self._stories[story_id]
            gone += 1
        return gone

    def _candidates(self, headline: Headline) -> list[str]:
        """Headlines sharing the most of this one's rarest terms. The rarest terms are
        asked first, and commoner ones only while their lists are short: a same-story
        headline shares a headline's rare terms, and a common term's list would make
        every lookup a scan."""
        df = self._df
        limit = max(50, int(len(self._stories) * COMMON_SHARE))
        probes = sorted((t for t in headline.terms if 0 < df.get(t, 0) <= limit), key=df.__getitem__)
        hits: Counter[str] = Counter()
        asked = read = 0
        for term in probes:
            postings = self._postings[term]
            if asked and read + len(postings) > PROBE_BUDGET or asked == PROBE_TERMS:
                break
            hits.update(postings)
            asked += 1
            read += len(postings)
        # one story shares most of its rare terms: with two or more asked, a headline
        # sharing only one of them cannot reach the measure's bar
        least = max(2, (asked + 1) // 2) if asked >= 2 else 1
        found = [(n, key) for key, n in hits.items() if n >= least]
        if len(found) > MAX_CANDIDATES:
            found = heapq.nlargest(MAX_CANDIDATES, found)
        return [key for _, key in found]
