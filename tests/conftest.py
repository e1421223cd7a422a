"""Shared fixtures: the corpus beside the project, a local feed server, factories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer

PROJECT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT.parent / "shared" / "corpus"


def corpus_path() -> Path:
    """../shared/corpus, or a visible skip (a user's clone has none). Under CI
    (TIPOFF_REQUIRE_CORPUS=1, set by .ci/run) its absence is a failure instead."""
    if CORPUS.is_dir():
        return CORPUS
    if os.environ.get("TIPOFF_REQUIRE_CORPUS") == "1":
        pytest.fail(f"the feed corpus is missing at {CORPUS} (required in CI)")
    pytest.skip(f"feed corpus not found at {CORPUS}: corpus tests need ../shared/corpus beside the project")


@pytest.fixture
def corpus() -> Path:
    return corpus_path()


@pytest.fixture
async def feed_server():
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
