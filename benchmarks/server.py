"""What the local server adds: latency to first byte, throughput, and memory over many requests.

Three processes, so no part bills its work to another: the fake Codex backend (a child), the
real ``llm codex serve`` (a child, exactly as users run it, with a login for the fake), and this
process as the client.

1. Latency and throughput with 32 concurrent streaming clients: ``--rounds`` rounds of 32
   concurrent streamed turns, once straight to the fake through the core ``AsyncCodexClient``
   ("direct") and once through the server's ``/v1/chat/completions`` with ``stream: true``
   ("server"). Time to first byte is taken at the first text delta (direct) or the first
   content chunk (server). The rounds of the two paths alternate, so a change of load on the
   machine hits both alike. Reported: median and p95 TTFB of each, their ratio, the ratio of
   throughputs (turns per second), and the server's CPU time per streamed turn.
2. Memory: ``--requests`` short non-stream chat completions (default 10,000; 8 in flight) to
   the server; its RSS (``/proc/<pid>/status`` VmRSS) after the first 1,000 and at the end, and
   the ratio. Steady memory means a ratio close to 1.

Run: ``python benchmarks/server.py [--rounds 10] [--requests 10000]``; ``--quick`` runs a
reduced version (3 rounds, 2,000 requests) in well under a minute. Prints ratios; no asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

CONCURRENCY = 32


def fake_main() -> None:
    """Child process: run the fake; print its URLs and tokens; run until stdin closes."""
    from llm_codex.testing import FakeCodexBackend

    fake = FakeCodexBackend().start()
    long = 10 * 365 * 86400
    fake.access_token_ttl = long
    tokens = fake.issue_tokens(access_ttl=long)
    print(json.dumps({"url": fake.url, "base_url": fake.base_url, "tokens": tokens}), flush=True)
    for line in sys.stdin:
        if line.strip() == "clear":
            fake.clear_requests()
            print("ok", flush=True)
    fake.stop()


class _Static:
    """A credential provider that always returns the same credentials."""

    def __init__(self, creds) -> None:
        self.creds = creds

    def current(self):
        return self.creds

    def after_unauthorized(self, rejected):
        return self.creds

    async def acurrent(self):
        return self.creds

    async def aafter_unauthorized(self, rejected):
        return self.creds


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """Run ``llm codex serve --port 0``; return the process and its /v1 URL."""
    fh = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm", "codex", "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=fh,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "export OPENAI_BASE_URL=" in line:
                return proc, line.split("OPENAI_BASE_URL=")[1].split()[0]
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start:\n" + log.read_text())


async def direct_turn(client, n: int) -> float:
    from llm_codex.core.types import CodexRequest, TextDelta

    req = CodexRequest(
        model="gpt-5.5",
        input=[
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": f"q{n}"}],
            }
        ],
    )
    start = time.perf_counter()
    ttfb = None
    async for event in client.stream(req):
        if ttfb is None and isinstance(event, TextDelta):
            ttfb = time.perf_counter() - start
    return ttfb if ttfb is not None else time.perf_counter() - start


async def server_turn(http: httpx2.AsyncClient, url: str, n: int) -> float:
    body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": f"q{n}"}], "stream": True}
    start = time.perf_counter()
    ttfb = None
    async with http.stream("POST", url + "/chat/completions", json=body) as resp:
        async for line in resp.aiter_lines():
            if ttfb is None and line.startswith("data: ") and '"content":"' in line:
                if '"content":""' not in line:
                    ttfb = time.perf_counter() - start
    return ttfb if ttfb is not None else time.perf_counter() - start


async def rounds(turn, rounds_n: int) -> tuple[list[float], float]:
    """``rounds_n`` rounds of 32 concurrent turns: (TTFBs, turns per second)."""
    ttfbs: list[float] = []
    start = time.perf_counter()
    for r in range(rounds_n):
        ttfbs += await asyncio.gather(*(turn(r * CONCURRENCY + i) for i in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    return ttfbs, rounds_n * CONCURRENCY / elapsed


async def interleaved(direct, server, rounds_n: int) -> tuple[list, float, list, float]:
    """Rounds of both paths, alternating, so a load change on the machine hits both alike:
    (direct TTFBs, direct turns/s, server TTFBs, server turns/s)."""
    d_ttfb: list[float] = []
    s_ttfb: list[float] = []
    d_time = s_time = 0.0
    for _ in range(rounds_n):
        ttfbs, tps = await rounds(direct, 1)
        d_ttfb += ttfbs
        d_time += CONCURRENCY / tps
        ttfbs, tps = await rounds(server, 1)
        s_ttfb += ttfbs
        s_time += CONCURRENCY / tps
    total = rounds_n * CONCURRENCY
    return d_ttfb, total / d_time, s_ttfb, total / s_time


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


async def memory(url: str, total: int, pid: int, fake: subprocess.Popen) -> tuple[int, int]:
    """RSS of the server after 1,000 and after ``total`` short non-stream requests."""
    body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "short"}]}
    limits = httpx2.Limits(max_connections=8)
    at_1k = 0
    done = 0
    async with httpx2.AsyncClient(timeout=60, limits=limits) as http:

        async def one() -> None:
            r = await http.post(url + "/chat/completions", json=body)
            r.raise_for_status()

        while done < total:
            batch = min(500, total - done)
            await asyncio.gather(*(one() for _ in range(batch)))
            done += batch
            fake.stdin.write("clear\n")  # the fake records every request; keep it small
            fake.stdin.flush()
            fake.stdout.readline()
            if at_1k == 0 and done >= min(1000, total):
                at_1k = rss_kib(pid)
            print(f"  {done} requests, server RSS {rss_kib(pid) / 1024:.1f} MiB", flush=True)
    return at_1k, rss_kib(pid)


async def main_async(args: argparse.Namespace) -> None:
    from llm_codex.core.client import AsyncCodexClient
    from llm_codex.core.types import Credentials
    from llm_codex.testing import write_auth_file

    fake = subprocess.Popen(
        [sys.executable, __file__, "--fake"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    info = json.loads(fake.stdout.readline())
    tmp = Path(tempfile.mkdtemp(prefix="llm-codex-bench-"))
    env = {
        **os.environ,
        "LLM_USER_PATH": str(tmp / "llm"),
        "CODEX_HOME": str(tmp / "codex"),
        "LLM_CODEX_BASE_URL": info["base_url"],
        "LLM_CODEX_AUTH_URL": info["url"],
    }
    os.environ.update({k: env[k] for k in ("LLM_CODEX_BASE_URL", "LLM_CODEX_AUTH_URL")})
    write_auth_file(tmp / "llm" / "llm-codex" / "auth.json", info["tokens"])
    server, url = start_server(env, tmp / "server.log")
    try:
        tokens = info["tokens"]
        creds = Credentials(tokens["access_token"], tokens["account_id"])
        core = AsyncCodexClient(credentials=_Static(creds), base_url=info["base_url"])
        limits = httpx2.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx2.AsyncClient(timeout=60, limits=limits) as http:
            # warm both paths (connections, imports, first login read)
            await rounds(lambda n: direct_turn(core, n), 1)
            await rounds(lambda n: server_turn(http, url, n), 1)
            cpu_start = cpu_seconds(server.pid)
            d_ttfb, d_tps, s_ttfb, s_tps = await interleaved(
                lambda n: direct_turn(core, n),
                lambda n: server_turn(http, url, n),
                args.rounds,
            )
            cpu_ms = 1000 * (cpu_seconds(server.pid) - cpu_start) / (args.rounds * CONCURRENCY)
        print(f"{CONCURRENCY} concurrent streaming clients, {args.rounds} rounds (interleaved)")
        print(
            f"  direct: TTFB median {statistics.median(d_ttfb) * 1000:.1f} ms, "
            f"p95 {p95(d_ttfb) * 1000:.1f} ms, {d_tps:.0f} turns/s"
        )
        print(
            f"  server: TTFB median {statistics.median(s_ttfb) * 1000:.1f} ms, "
            f"p95 {p95(s_ttfb) * 1000:.1f} ms, {s_tps:.0f} turns/s"
        )
        median_ratio = statistics.median(s_ttfb) / statistics.median(d_ttfb)
        print(
            f"  ratio server/direct: TTFB median {median_ratio:.2f}, "
            f"p95 {p95(s_ttfb) / p95(d_ttfb):.2f}; throughput {s_tps / d_tps:.2f}"
        )
        print(f"  server CPU per streamed turn: {cpu_ms:.2f} ms")
        print(f"memory over {args.requests} non-stream requests")
        at_1k, at_end = await memory(url, args.requests, server.pid, fake)
        print(
            f"  server RSS after 1k: {at_1k / 1024:.1f} MiB, after {args.requests}: "
            f"{at_end / 1024:.1f} MiB, ratio {at_end / at_1k:.3f}"
        )
    finally:
        server.terminate()
        server.wait(30)
        fake.stdin.close()
        fake.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--quick", action="store_true", help="3 rounds, 2,000 requests")
    args = parser.parse_args()
    if args.fake:
        fake_main()
        return
    if args.quick:
        args.rounds, args.requests = 3, 2000
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
