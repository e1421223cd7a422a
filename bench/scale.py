"""Workers on one Redis: feeds/s with 1, 2 and 4 `tipoff run` processes sharing N
locally served feeds (bodies from ../shared/corpus/real, served by an aiohttp server in
its own process, each feed changing on every request so every poll parses and
matches), against a redis-server this script starts on a free local port.

For each worker count: the time until the workers have polled every feed `--rounds`
times (the server counts), as feeds/s, and the ratio to one worker measured in the
same run. On this 2-core machine the ceiling is the cores: the feed server and Redis
share them with the workers.

Run: python bench/scale.py [--feeds 2000] [--workers 1,2,4] [--rounds 2]"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import ROOT, corpus_files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(n_feeds: int, port: int, counts: "multiprocessing.Array[int]") -> None:  # type: ignore[type-arg]
    import asyncio

    from aiohttp import web

    import re

    # <ttl> would (rightly) make tipoff poll a feed less often than the benchmark asks
    bodies = [re.sub(rb"<ttl>[^<]*</ttl>", b"", p.read_bytes()) for p in corpus_files("real")
              if p.suffix in (".xml", ".rss") and b"<item" in p.read_bytes()][:40]

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        counts[i] += 1
        base = bodies[i % len(bodies)]
        at = base.find(b"<item")
        fresh = (f"<item><title>story {i}-{counts[i]}</title><guid>s{i}-{counts[i]}</guid>"
                 f"<link>https://bench.example/{i}/{counts[i]}</link></item>").encode()
        return web.Response(body=base[:at] + fresh + base[at:], content_type="application/rss+xml")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


def run(workers: int, n_feeds: int, rounds: int, feed_port: int, redis_url: str, counts, folder: Path) -> float:  # type: ignore[no-untyped-def]
    for i in range(n_feeds):
        counts[i] = 0
    config = folder / f"scale-{workers}.toml"
    feeds = "".join(f'[[feeds]]\nurl = "http://127.0.0.1:{feed_port}/feed/{i}"\nevery = "1s"\n'
                    for i in range(n_feeds))
    config.write_text(f'[store]\nprefix = "bench-{uuid.uuid4().hex[:8]}:"\nlease = "30s"\n'
                      f'[fetch]\nconcurrency = 50\nper_host = 50\n'
                      f'[[watches]]\nrule = "duet"\n{feeds}')
    env = {**os.environ, "TIPOFF_STORE_URL": redis_url, "TIPOFF_LOG_LEVEL": "ERROR"}
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config),
                               "--data", str(folder / f"d{workers}-{n}")], cwd=ROOT,
                              env={**env, "TIPOFF_WORKER": f"bench-{workers}-{n}"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for n in range(workers)]
    try:
        while min(counts[:n_feeds]) < rounds:
            time.sleep(0.2)
            if any(p.poll() is not None for p in procs):
                sys.exit("bench: a worker exited early")
        return n_feeds * rounds / (time.perf_counter() - start)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--rounds", type=int, default=2, help="polls of every feed to time")
    args = ap.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench: redis-server is not installed (apt-get install redis-server)")
    redis_port, feed_port = free_port(), free_port()
    folder = Path(tempfile.mkdtemp(prefix="tipoff-scale-"))
    redis = subprocess.Popen([binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    counts = multiprocessing.Array("i", args.feeds, lock=False)
    server = multiprocessing.Process(target=_server, args=(args.feeds, feed_port, counts), daemon=True)
    server.start()
    time.sleep(1.5)
    results: dict[int, float] = {}
    try:
        for w in (int(x) for x in args.workers.split(",")):
            results[w] = run(w, args.feeds, args.rounds, feed_port, f"redis://127.0.0.1:{redis_port}/0",
                             counts, folder)
            ratio = results[w] / results[min(results)]
            print(f"{w} worker{'s' if w != 1 else ''}: {results[w]:,.0f} feeds/s "
                  f"({args.feeds} feeds, every poll parses a changed body); vs 1 worker: {ratio:.2f}x", flush=True)
    finally:
        server.terminate()
        redis.terminate()
        redis.wait(5)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
