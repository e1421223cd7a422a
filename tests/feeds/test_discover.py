from bot.feeds.discover import common_paths, feed_links

PAGE = b"""<!doctype html><html><head><base href="https://pop.example/news/">
<link rel="alternate" type="application/rss+xml" title="All news" href="feed.xml">
<link rel="alternate" type="application/atom+xml" href="https://pop.example/atom.xml">
<link rel="alternate" type="application/feed+json" href="/feed.json">
<link rel="alternate" type="application/rss+xml" href="feed.xml">
<link rel="stylesheet" type="text/css" href="/x.css">
<link rel="alternate" hreflang="fr" href="/fr/">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
</head><body></body></html>"""


def test_declared_feeds_in_page_order_absolute_and_unique():
    links = feed_links(PAGE, "https://pop.example/news/today")
    assert [(l.url, l.kind) for l in links] == [("https://pop.example/news/feed.xml", "RSS"),
                                                ("https://pop.example/atom.xml", "Atom"),
                                                ("https://pop.example/feed.json", "JSON Feed")]
    assert links[0].title == "All news"


def test_common_paths_are_on_the_sites_root():
    paths = common_paths("https://pop.example/news/today")
    assert paths[0] == "https://pop.example/feed" and "https://pop.example/rss.xml" in paths
