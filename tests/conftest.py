"""Shared fixtures: the corpus beside the project, a local feed server, factories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.harness import Harness

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


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis: $TIPOFF_REDIS_URL (.ci/run starts one), else a private
    redis-server on a free local port when the binary is installed, else a visible
    skip (a failure under CI, where TIPOFF_REQUIRE_REDIS=1)."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    url = os.environ.get("TIPOFF_REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("TIPOFF_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed (required in CI)")
        pytest.skip("redis-server not installed: the Redis store tests need it (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="tipoff-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture
async def harness(tmp_path):
    made = []

    async def make(feeds, watches, **kw):
        h = await Harness(tmp_path, feeds, watches, **kw).start()
        made.append(h)
        return h
    yield make
    for h in made:
        await h.stop()
