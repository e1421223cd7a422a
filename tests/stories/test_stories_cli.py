"""`tipoff stories`: feeds fetched and parsed, their entries grouped into stories, each
with its sources and why it joined. Nothing stored or sent."""

from __future__ import annotations

import asyncio
import json
import sys

from tests.conftest import PROJECT

GOOGLE_NEWS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>"britney spears" - Google News</title><link>https://news.google.com/</link>
<item><title>Lady Gaga and Britney Spears are preparing a duet, sources say - Billboard</title>
 <link>https://news.google.com/rss/articles/CBMiAAA?oc=5</link><guid isPermaLink="false">CBMiAAA</guid>
 <pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate><source url="https://www.billboard.com">Billboard</source></item>
<item><title>Britney Spears and Lady Gaga preparing duet, say sources - Rolling Stone</title>
 <link>https://news.google.com/rss/articles/CBMiBBB?oc=5</link><guid isPermaLink="false">CBMiBBB</guid>
 <pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate><source url="https://www.rollingstone.com">Rolling Stone</source></item>
<item><title>Britney Spears confirms duet with Lady Gaga - NME</title>
 <link>https://news.google.com/rss/articles/CBMiCCC?oc=5</link><guid isPermaLink="false">CBMiCCC</guid>
 <pubDate>Tue, 24 Nov 2026 12:00:00 GMT</pubDate><source url="https://www.nme.com">NME</source></item>
<item><title>3 dead in Paris warehouse fire - BBC</title>
 <link>https://news.google.com/rss/articles/CBMiDDD?oc=5</link><guid isPermaLink="false">CBMiDDD</guid>
 <pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate><source url="https://www.bbc.co.uk">BBC</source></item>
<item><title>30 dead in Paris warehouse fire - Le Monde</title>
 <link>https://news.google.com/rss/articles/CBMiEEE?oc=5</link><guid isPermaLink="false">CBMiEEE</guid>
 <pubDate>Tue, 24 Nov 2026 11:00:00 GMT</pubDate><source url="https://www.lemonde.fr">Le Monde</source></item>
</channel></rss>"""

PUBLISHER = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Variety</title><link>https://variety.com/</link>
<item><title>Lady Gaga and Britney Spears Are Preparing a Duet, Sources Say | Variety</title>
 <link>https://variety.com/2026/music/news/gaga-spears-duet-1234/</link>
 <pubDate>Tue, 24 Nov 2026 08:30:00 GMT</pubDate></item>
<item><title>Madonna announces a world tour for 2027</title>
 <link>https://variety.com/2026/music/news/madonna-tour-1235/</link>
 <pubDate>Tue, 24 Nov 2026 08:40:00 GMT</pubDate></item>
</channel></rss>"""


async def run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "stories", *args, cwd=PROJECT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_google_news_items_and_a_publishers_own_copy_are_one_story(feed_server, tmp_path):
    news = feed_server.serve("/news", GOOGLE_NEWS.encode(), content_type="application/rss+xml")
    own = tmp_path / "variety.xml"
    own.write_text(PUBLISHER)
    code, out, err = await run(news, str(own), "--json")
    assert code == 0, err
    stories = [json.loads(line) for line in out.splitlines()]
    assert len(stories) == 1  # only stories told more than once, without --all
    duet = stories[0]
    assert duet["headline"] == "Lady Gaga and Britney Spears are preparing a duet, sources say - Billboard"
    assert duet["sources"] == ["Billboard", "Variety", "Rolling Stone", "NME"]
    assert [e["verdict"] for e in duet["entries"]] == ["new", "copy", "copy", "development"]
    assert "confirm" in duet["entries"][3]["why"]

    code, out, _ = await run(news, str(own), "--all")
    assert code == 0
    assert "7 entries from 2 feeds: 4 stories, 1 told by more than one entry" in out
    assert "[NEW FACT] NME: Britney Spears confirms duet with Lady Gaga - NME  (a new fact: confirm)" in out
    assert "3 dead in Paris warehouse fire" in out and "30 dead in Paris warehouse fire" in out


async def test_a_feed_that_cannot_be_read_is_named_and_the_rest_still_grouped(feed_server, tmp_path):
    own = tmp_path / "variety.xml"
    own.write_text(PUBLISHER)
    code, out, err = await run(str(tmp_path / "missing.xml"), str(own), "--all")
    assert code == 0 and "missing.xml" in err
    assert "2 entries from 1 feed: 2 stories" in out
    code, _, err = await run(str(tmp_path / "missing.xml"))
    assert code == 1 and "missing.xml" in err
