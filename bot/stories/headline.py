"""A headline as what it says: aggregator and site decoration stripped, folded words
without the ones every headline uses, its numbers (digits and number words, so "Day One"
and "Day Two" differ), and the words that mark a development ("confirms", "cancelled").
Scripts written without spaces (Chinese, Japanese, Thai) are read as overlapping
character pairs, so a headline in them still has parts to compare."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import Stemmer  # PyStemmer: Snowball's stemmers, compiled

from bot.rules.normalise import fold

# " - Publisher", " | Site", " — Site", " :: Site" at the end of a headline
_SUFFIX = re.compile(r"\s+(?:-|\||–|—|::|·|•)\s+([^|–—·•]{1,80}?)\s*$")
_PREFIX = re.compile(r"^\s*([^:|]{1,40}?)\s*(?::|\|)\s+")
# Hosts whose items are other outlets' stories, each headline ending with its publisher
AGGREGATORS = ("news.google.com", "news.yahoo.com", "www.bing.com", "www.msn.com", "flipboard.com",
               "apple.news", "www.newsnow.co.uk", "feeds.feedburner.com")
_NO_SPACE = re.compile(r"[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
                       r"\u4e00-\u9fff\uf900-\ufaff]+")
_TOKEN = re.compile(r"\d+(?:[.,/:-]\d+)+|[^\W_]+(?:[.,'][^\W_]+)*")  # dates, times and scores stay whole
_NUMBER = re.compile(r"(\d+(?:[.,/:-]\d+)*)(?:st|nd|rd|th|e|er|eme|º|ª)?")  # 1,500 and 3rd too
_PARTS = re.compile(r"[/:-]")
SUMMARY_WORDS = 40  # what a short title borrows of its summary

# Words that carry no story: function words of the languages feeds are mostly written
# in, and what outlets put around any headline.
STOPWORDS = frozenset("""
a an and are as at be been but by for from has have he her his i if in into is it its of on or our over out she
so than that the their them they this to up was we were what when where which who why will with would you your
not no after before about against amid as new says say said report reports via just more most how here there
after all also can could may might should its it's than then these those up down off one's s t vs via
update updated updates live breaking video watch photos photo exclusive opinion analysis explainer podcast
today now latest news story stories read listen
der die das und ist im in den dem des ein eine einer mit von zu auf fur für nicht sich auch als bei nach aus
le la les un une des et est en du dans pour sur au aux par pas qui que ne se plus avec ce cette son sa ses
el los las y es por con para del al una un se lo como mas más su sus sobre pero
o os as e em do da dos das no na nos nas um uma para com por ao que se mais
il lo gli di da per con su tra fra che non si del della dei delle al alla
de het een en van op te dat voor met niet zijn aan ook als bij
""".split())

NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000", "million": "1000000",
    "billion": "1000000000", "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5",
    "dozen": "12", "dozens": "12+", "hundreds": "100+", "thousands": "1000+", "millions": "1000000+",
    "deux": "2", "trois": "3", "zwei": "2", "drei": "3", "dos": "2", "tres": "3", "due": "2", "tre": "3",
    "premier": "1", "erste": "1", "primera": "1", "primero": "1", "zweite": "2", "deuxieme": "2", "segundo": "2",
}

# Words that report a new fact about a story, by what they report: a later headline
# with a kind of fact the story did not have is a development (a new alert), not a copy.
_FACTS = {
    "confirm": "confirm confirms confirmed confirming confirmation bestatigt bestatigen confirme confirma "
               "confirmado confirmada conferma confermato bevestigd",
    "deny": "deny denies denied denial dementi desmiente smentisce",
    "cancel": "cancel cancels cancelled canceled cancellation scrapped scraps axed abgesagt annule annulee "
              "cancelado cancelada annullato afgelast",
    "postpone": "postpone postpones postponed delay delays delayed verschoben reporte aplazado rinviato",
    "release": "released releases drops dropped premieres premiered debuts debuted launches launched "
               "erscheint veroffentlicht sort lanza lancia",
    "death": "dies died dead death kill killed kills tot gestorben mort muere muerto morto",
    "arrest": "arrest arrests arrested detained festgenommen arrete detenido arrestato",
    "charge": "charged charges indicted accused angeklagt inculpe acusado",
    "verdict": "convicted guilty acquitted sentenced verdict verurteilt condamne condenado condannato",
    "resign": "resigns resigned resignation quits quit zurucktritt demissionne dimite dimissioni",
    "fired": "fired sacked ousted dismissed entlassen limoge despedido licenziato",
    "sue": "sue sues sued lawsuit verklagt poursuit demanda",
    "win": "wins won beat beats victory gewinnt gagne gana vince",
    "lose": "loses lost defeat defeated verliert perd pierde perde",
    "split": "split splits divorce divorcing divorced breakup trennung divorcent",
    "marry": "engaged engagement married marries wedding verlobt heiratet mariage boda",
    "pregnant": "pregnant pregnancy schwanger enceinte embarazada incinta",
    "leak": "leak leaks leaked",
    "announce": "announces announced unveils unveiled reveals revealed angekundigt annonce anuncia annuncia",
    "approve": "approved approves passes passed signs signed vetoes vetoed bans banned blocks blocked rejects "
               "rejected genehmigt approuve aprobado approvato",
}
DEVELOPMENTS = {word: fact for fact, spelled in _FACTS.items() for word in spelled.split()}


@dataclass(frozen=True, slots=True)
class Headline:
    """What a headline says, ready to compare."""

    text: str  # the headline, decoration stripped
    words: frozenset[str]  # folded, without stopwords and numbers (CJK as character pairs)
    numbers: frozenset[str]  # "3", "30", "1500", "2019", "1" for "one"/"first"
    developments: frozenset[str]  # the kinds of fact it reports ("confirm", "cancel")
    names: frozenset[str] = frozenset()  # folded words capitalised mid-sentence (sentence-case headlines only)
    terms: frozenset[str] = frozenset()  # everything that can be shared: words, and "#" + each number


def site_names(feed_title: str = "", link: str = "") -> tuple[str, ...]:
    """What an outlet calls itself in its headlines: its feed's title (and its first
    part, "Variety" of "Variety - Entertainment News"), and its host's name
    ("theverge" of www.theverge.com)."""
    names: list[str] = []
    host = (urlsplit(link).hostname or "") if link else ""
    if host in AGGREGATORS or "google" in host:
        return ()  # its title is a search ('"britney spears" - Google News'); its items name their sources
    title = " ".join(feed_title.split())
    if title:
        names.append(title)
        for sep in (" - ", " | ", " – ", " — ", ": "):
            if sep in title:
                names.append(title.split(sep, 1)[0])
    if host:
        parts = [p for p in host.split(".") if p not in ("www", "m", "amp", "rss", "feeds", "news")]
        if len(parts) >= 2:
            names.append(parts[-2])
    return tuple(n for n in dict.fromkeys(names) if n)


def _squash(name: str) -> str:
    return re.sub(r"\W+", "", fold(name))


def strip_decoration(title: str, *, source: str = "", sites: tuple[str, ...] = (), link: str = "") -> str:
    """The headline without what outlets and aggregators wrap around it: Google News'
    " - Publisher" (its `<source>`), " | Site" / " - Site" that name the feed or its
    host, a "Site: " prefix, and on aggregator links any short trailing " - Publisher"."""
    names = {_squash(n) for n in (source, *sites) if n and _squash(n)}
    aggregated = bool(link) and (urlsplit(link).hostname or "") in AGGREGATORS
    text = " ".join(title.split())
    for _ in range(2):  # "Headline - Section | Site"
        found = _SUFFIX.search(text)
        if not found or found.start() == 0:
            break
        tail = found.group(1)
        squashed = _squash(tail)
        named = squashed in names or any(squashed and (squashed in n or n in squashed) for n in names if len(n) >= 4)
        if named or (aggregated and len(tail.split()) <= 6):
            text = text[: found.start()].rstrip()
            continue
        break
    found = _PREFIX.match(text)
    if found and _squash(found.group(1)) in names and len(text) > found.end() + 10:
        return text[found.end():]
    head = text.split()
    whole = _squash(sites[0]) if sites else ""  # the feed's whole title, not a part of it
    for n in range(min(4, len(head) - 1), 0, -1):  # "Giant Bombcast 02/02/2016" in the feed "Giant Bombcast"
        if whole and _squash(" ".join(head[:n])) == whole:
            return " ".join(head[n:])
    return text


def is_character_pair(term: str) -> bool:
    """Whether a term is a character pair of a script written without spaces (what
    read_headline makes of Chinese, Japanese or Thai), not a word."""
    return _NO_SPACE.match(term) is not None


def _pairs(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]


_STEMMER = Stemmer.Stemmer("english")
_STEMMING = threading.Lock()  # a Snowball stemmer keeps state while it works


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A folded word's stem, so a story's inflections are one term ("prepares",
    "preparing", "prepared": "prepar"). Snowball's English stemmer (PyStemmer), for words in plain
    Latin letters (the folded form of most European words); others stay whole."""
    if len(word) <= 3 or not word.isascii() or not word.isalpha():
        return word
    with _STEMMING:
        return str(_STEMMER.stemWord(word))


def read_headline(title: str, summary: str = "", *, source: str = "", sites: tuple[str, ...] = (),
                  link: str = "") -> Headline:
    """The headline's profile. The summary adds words only when the headline is short
    (a title of two words says too little to compare on its own)."""
    text = strip_decoration(title, source=source, sites=sites, link=link)
    words: set[str] = set()
    numbers: set[str] = set()
    developments: set[str] = set()
    folded = fold(text)
    body = folded
    if summary and len(_TOKEN.findall(folded)) < 5:
        body = folded + " " + fold(" ".join(summary.split()[:SUMMARY_WORDS]))
    for run in _NO_SPACE.findall(body):
        words.update(_pairs(run))
    for token in _TOKEN.findall(_NO_SPACE.sub(" ", body)):
        if number := _NUMBER.fullmatch(token):  # "03/03/2015" is "3/3/2015"; "1,500" is "1500"
            numbers.add("/".join(part.lstrip("0") or "0" for part in _PARTS.split(number.group(1).replace(",", ""))))
        elif any(c.isdigit() for c in token):  # an identifier: "v201605", "ps5", "e3" differ as numbers do
            numbers.add(token)
        elif token in NUMBER_WORDS:
            numbers.add(NUMBER_WORDS[token])
        elif token not in STOPWORDS and len(token) > 1:
            word = token[:-2] if token.endswith("'s") else token
            if word in DEVELOPMENTS:
                developments.add(DEVELOPMENTS[word])
            words.add(stem(word))
    return Headline(text, frozenset(words), frozenset(numbers), frozenset(developments), _names(text, words),
                    frozenset(words).union("#" + n for n in numbers))


_WORD = re.compile(r"[^\W\d_]+")


def _names(text: str, words: set[str]) -> frozenset[str]:
    """Words written with a capital inside a headline in sentence case: names of people,
    places and things. A Title Case Headline Capitalises Everything, so there it says
    nothing and no names are read."""
    found = _WORD.findall(text)
    content = [w for w in found[1:] if fold(w) not in STOPWORDS]  # the first word is capitalised anyway
    capitalised = [w for w in content if w[0].isupper()]
    if not content or len(capitalised) > 0.6 * len(content):
        return frozenset()
    if found and fold(found[0]) not in STOPWORDS and fold(found[0]) not in DEVELOPMENTS:
        capitalised.append(found[0])  # "Madonna to tour": a first word may be a name too
    return frozenset(f for w in capitalised if (f := stem(fold(w))) in words)
