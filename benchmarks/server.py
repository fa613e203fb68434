"""What the local server costs: CPU per streamed turn, added time to first byte, throughput and
memory of ``llm codex serve``, each beside a direct call measured in the same run.

Three processes, so no part bills its work to another: the fake Codex backend (a child), the
real ``llm codex serve`` (a child, exactly as users run it, with a login for the fake), and this
process as the client. The "direct" call is a bare ``httpx2`` client in this process reading
the same stream from the fake (to EOF); the "server" call reads ``/v1/chat/completions`` with
``stream: true`` through the server. Each path has its own client and connection pool, as
real clients do. Batches of the two alternate, so a change of load on the machine (other
jobs share its cores) hits both alike. CPU is CPU-seconds: this process's
own (``resource``) during direct batches, the server's (its threads' run time from
``/proc/<pid>/task/*/schedstat``, nanoseconds) during server batches.

Regimes:

- sequential: one turn at a time (the fake's short default answer). Added time to first byte
  (first text delta / first content chunk) p50 and p90 over the direct call; CPU per turn.
- burst: turns of 500 text deltas each, 32 in flight at all times (a new one starts as one
  ends; ``--burst-turns`` a batch), the fake writing them as fast as it can, so many deltas
  share a network read. Throughput as a ratio to the direct call; CPU per turn. On a small
  machine the three processes share its cores, so throughput follows the CPU all three
  spend per turn: the report gives each one's, and the ratio that CPU alone would allow.
- paced: 8 concurrent turns whose events trickle one per network read, as the real service
  sends them (``--paced-deltas`` deltas, ``--paced-gap`` seconds apart). CPU per turn, as a
  ratio to the bare client's CPU per turn: the proxy hop's per-event cost.
- memory: server RSS after 1,000 and after ``--requests`` short non-stream requests; and RSS
  along one ``--long``-delta stream (at 10 % of it and at its end). Flat means ratios near 1.

Every CPU figure is given per round as a range (min–max over ``--rounds``) and as a median.

``--face responses``, ``--face anthropic`` or ``--face ollama`` sends the server's turns through
``/v1/responses``, Anthropic's ``/v1/messages`` or Ollama's ``/api/chat`` instead of chat
completions (same regimes, same ratios), so a
face's cost per event can be compared with the others'.

Run: ``python benchmarks/server.py`` (about 20 seconds here); ``--quick`` (3 rounds, fewer turns, a
shorter long stream) in about 10. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2

BURST = 32
PACED_CONCURRENCY = 8


# --- the fake, in its own process -----------------------------------------------------------------


class _Forever:
    """A scenario queue that hands out the same scenario to every turn (None: the default)."""

    def __init__(self) -> None:
        self.scenario: Any = None

    def __bool__(self) -> bool:
        return self.scenario is not None

    def __len__(self) -> int:
        return int(self.scenario is not None)

    def __getitem__(self, index: int) -> Any:
        return self.scenario

    def popleft(self) -> Any:
        return self.scenario

    def append(self, scenario: Any) -> None:
        self.scenario = scenario

    appendleft = append

    def clear(self) -> None:
        self.scenario = None


def fake_main() -> None:
    """Child process: run the fake; print its URLs and tokens; obey ``mode``/``clear`` lines."""
    from llm_codex.testing import FakeCodexBackend
    from llm_codex.testing.planner import Scenario

    fake = FakeCodexBackend().start()
    queue = _Forever()
    fake._queue = queue  # type: ignore[assignment]  # every turn gets the current mode
    long = 10 * 365 * 86400
    fake.access_token_ttl = long
    tokens = fake.issue_tokens(access_ttl=long)
    print(json.dumps({"url": fake.url, "base_url": fake.base_url, "tokens": tokens}), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "clear":
            fake.clear_requests()
        elif command == "mode":
            spec = json.loads(arg) if arg else None
            queue.scenario = Scenario(spec.pop("kind"), spec) if spec else None
        print("ok", flush=True)
    fake.stop()


class Fake:
    """The fake child, driven through its stdin."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--fake"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info = json.loads(self.proc.stdout.readline())

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def mode(self, **spec: Any) -> None:
        self.command("mode " + json.dumps(spec) if spec else "mode")

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


# --- measuring ------------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_cpu(pid: int, *, precise: bool = True) -> float:
    """CPU seconds of ``pid`` so far: the sum of its threads' run time in
    ``/proc/<pid>/task/*/schedstat`` (nanoseconds; live threads only), or with ``precise``
    False user + system from ``stat`` (ticks of 10 ms, but counting finished threads too)."""
    try:
        if not precise:
            raise ValueError
        return (
            sum(
                int(task.joinpath("schedstat").read_text().split()[0])
                for task in Path(f"/proc/{pid}/task").iterdir()
            )
            / 1e9
        )
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def span(values: list[float], scale: float = 1.0, fmt: str = ".1f") -> str:
    """``min–max (median m)`` of ``values`` times ``scale``."""
    lo, hi, mid = min(values) * scale, max(values) * scale, statistics.median(values) * scale
    return f"{lo:{fmt}}–{hi:{fmt}} (median {mid:{fmt}})"


# --- the two ways of making a turn ----------------------------------------------------------------


class Direct:
    """A bare httpx2 client reading the fake's stream to EOF, as a proxy's upstream reads it."""

    def __init__(self, http: httpx2.AsyncClient, base_url: str, tokens: dict[str, Any]) -> None:
        from llm_codex.core.request import build_headers
        from llm_codex.core.types import Credentials

        self.http = http
        self.url = base_url + "/responses"
        creds = Credentials(tokens["access_token"], tokens["account_id"])
        self.headers = build_headers(creds, session_id="5d0c1d6e-8a4b-4c0f-9d1e-000000000000")

    async def turn(self, n: int) -> float:
        from llm_codex.core.request import build_body, encode_body
        from llm_codex.core.types import CodexRequest

        text = {"type": "input_text", "text": f"q{n}"}
        req = CodexRequest(
            model="gpt-5.5",
            input=[{"type": "message", "role": "user", "content": [text]}],
            session_id=self.headers["session-id"],
        )
        content = encode_body(build_body(req))
        start = time.perf_counter()
        ttfb = None
        async with self.http.stream("POST", self.url, content=content, headers=self.headers) as r:
            async for chunk in r.aiter_bytes():
                if ttfb is None and b"response.output_text.delta" in chunk:
                    ttfb = time.perf_counter() - start
        return ttfb if ttfb is not None else time.perf_counter() - start


def _first_text(chunk: bytes, face: str) -> bool:
    """Whether ``chunk`` carries the turn's first non-empty text on ``face``."""
    if face == "responses":
        return b"response.output_text.delta" in chunk
    if face == "anthropic":
        return b'"type":"text_delta"' in chunk
    return any(
        b'"content":"' in line and b'"content":""' not in line for line in chunk.split(b"\n")
    )


class Served:
    """The same turn through ``llm codex serve``, streamed, on one of its faces:
    ``/v1/chat/completions`` (default), ``/v1/responses``, Anthropic's ``/v1/messages`` or
    Ollama's ``/api/chat`` (NDJSON)."""

    def __init__(self, http: httpx2.AsyncClient, url: str, face: str = "chat") -> None:
        self.http = http
        self.face = face
        if face == "responses":
            self.url = url + "/responses"
        elif face == "anthropic":
            self.url = url + "/messages"
        elif face == "ollama":
            self.url = url.removesuffix("/v1") + "/api/chat"
        else:
            self.url = url + "/chat/completions"

    def body(self, n: int) -> dict[str, Any]:
        if self.face == "responses":
            return {"model": "gpt-5.5", "input": f"q{n}", "stream": True}
        message = {"role": "user", "content": f"q{n}"}
        body: dict[str, Any] = {"model": "gpt-5.5", "messages": [message], "stream": True}
        if self.face == "anthropic":
            body["max_tokens"] = 1024
        return body

    async def turn(self, n: int) -> float:
        start = time.perf_counter()
        ttfb = None
        async with self.http.stream("POST", self.url, json=self.body(n)) as r:
            async for chunk in r.aiter_bytes():
                if ttfb is None and _first_text(chunk, self.face):
                    ttfb = time.perf_counter() - start
        return ttfb if ttfb is not None else time.perf_counter() - start


Turn = Callable[[int], Awaitable[float]]


async def batch(
    turn: Turn, size: int, first: int, total: int | None = None
) -> tuple[list[float], float]:
    """``total`` turns (default ``size``) with ``size`` of them in flight at all times (each
    that ends starts the next): their TTFBs and the wall time of the whole."""
    numbers = iter(range(first, first + (total or size)))
    ttfbs: list[float] = []

    async def worker() -> None:
        for n in numbers:
            ttfbs.append(await turn(n))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(size)))
    return ttfbs, time.perf_counter() - start


class Regime:
    """Interleaved rounds of direct and server turns, CPU and time of each side per round."""

    def __init__(self, name: str, server_pid: int, fake_pid: int) -> None:
        self.name = name
        self.pid = server_pid
        self.fake_pid = fake_pid
        self.fake_cpu: list[float] = []  # the fake's CPU per turn, both paths, per round
        self.c_cpu: list[float] = []  # this process's CPU per turn reading the server
        self.d_ttfb: list[float] = []
        self.s_ttfb: list[float] = []
        self.d_cpu: list[float] = []  # per turn, one value per round
        self.s_cpu: list[float] = []
        self.d_time = self.s_time = 0.0
        self.turns = 0

    async def round(
        self, direct: Turn, served: Turn, size: int, batches: int, total: int | None = None
    ) -> None:
        """``batches`` batches each way, alternating batch by batch, of ``total`` turns
        (default ``size``) with ``size`` in flight; CPU is summed over each side's own
        batches."""
        n = 0
        d_cpu = s_cpu = c_cpu = 0.0
        fake_cpu = proc_cpu(self.fake_pid, precise=False)  # a thread per connection
        for _ in range(batches):
            cpu = own_cpu()
            ttfbs, wall = await batch(direct, size, n, total)
            d_cpu += own_cpu() - cpu
            n += total or size
            self.d_ttfb += ttfbs
            self.d_time += wall
            cpu, own = proc_cpu(self.pid), own_cpu()
            ttfbs, wall = await batch(served, size, n, total)
            s_cpu += proc_cpu(self.pid) - cpu
            c_cpu += own_cpu() - own
            n += total or size
            self.s_ttfb += ttfbs
            self.s_time += wall
        self.d_cpu.append(d_cpu / (n // 2))
        self.s_cpu.append(s_cpu / (n // 2))
        self.fake_cpu.append((proc_cpu(self.fake_pid, precise=False) - fake_cpu) / n)
        self.c_cpu.append(c_cpu / (n // 2))
        self.turns += n // 2

    def report(self, *, ttfb: bool = False, throughput: bool = False) -> None:
        ratios = [s / d for s, d in zip(self.s_cpu, self.d_cpu, strict=True) if d > 0]
        print(f"{self.name}")
        print(f"  server CPU per turn: {span(self.s_cpu, 1000, '.2f')} ms")
        print(f"  bare client CPU per turn (direct): {span(self.d_cpu, 1000, '.2f')} ms")
        print(f"  ratio server/direct CPU per turn: {span(ratios, 1, '.2f')}")
        print(
            f"  (the fake backend's CPU per turn: {span(self.fake_cpu, 1000, '.2f')} ms; the "
            f"client's reading the server: {span(self.c_cpu, 1000, '.2f')} ms)"
        )
        if ttfb:
            d50, s50 = pct(self.d_ttfb, 0.5), pct(self.s_ttfb, 0.5)
            d90, s90 = pct(self.d_ttfb, 0.9), pct(self.s_ttfb, 0.9)
            print(
                f"  TTFB direct p50 {d50 * 1000:.2f} ms p90 {d90 * 1000:.2f} ms; server p50 "
                f"{s50 * 1000:.2f} ms p90 {s90 * 1000:.2f} ms; added p50 "
                f"{(s50 - d50) * 1000:.2f} ms, p90 {(s90 - d90) * 1000:.2f} ms "
                f"(ratio p50 {s50 / d50:.2f})"
            )
        if throughput:
            d_tps, s_tps = self.turns / self.d_time, self.turns / self.s_time
            fake, med = statistics.median(self.fake_cpu), statistics.median
            bound = (fake + med(self.d_cpu)) / (fake + med(self.s_cpu) + med(self.c_cpu))
            print(
                f"  throughput direct {d_tps:.1f} turns/s, server {s_tps:.1f} turns/s, "
                f"ratio {s_tps / d_tps:.2f} (the CPU per turn of fake + client, over that of "
                f"fake + server + client: {bound:.2f})"
            )


# --- memory ---------------------------------------------------------------------------------------


async def memory_requests(url: str, total: int, pid: int, fake: Fake) -> tuple[int, int]:
    """RSS of the server after 1,000 and after ``total`` short non-stream requests."""
    body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "short"}]}
    at_1k = 0
    done = 0
    limits = httpx2.Limits(max_connections=8)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as http:

        async def one() -> None:
            r = await http.post(url + "/chat/completions", json=body)
            r.raise_for_status()

        while done < total:
            size = min(500, total - done)
            await asyncio.gather(*(one() for _ in range(size)))
            done += size
            fake.command("clear")  # the fake records every request; keep it small
            if at_1k == 0 and done >= min(1000, total):
                at_1k = rss_kib(pid)
    return at_1k, rss_kib(pid)


async def memory_long_stream(url: str, n_deltas: int, pid: int) -> tuple[int, int, int]:
    """RSS at 10 % of one ``n_deltas`` stream, its peak, and at the end; the stream is checked."""
    body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "long"}], "stream": True}
    samples: list[tuple[int, int]] = []  # (characters received, RSS)
    received = 0
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            samples.append((received, rss_kib(pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    text = 0
    async with httpx2.AsyncClient(timeout=600) as http:
        async with http.stream("POST", url + "/chat/completions", json=body) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    delta = json.loads(line[6:])["choices"]
                    if delta and delta[0]["delta"].get("content"):
                        text += len(delta[0]["delta"]["content"])
                        received = text
    stop.set()
    sampler.join()
    end = rss_kib(pid)
    if text != n_deltas:
        print(f"  (warning: received {text} characters, expected {n_deltas})")
    tenth = next((rss for got, rss in samples if got >= n_deltas // 10), end)
    peak = max([rss for _, rss in samples] + [end])
    return tenth, peak, end


# --- the run --------------------------------------------------------------------------------------


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str, str]:
    """Run ``llm codex serve --port 0``; return the process, its /v1 URL and its stack line."""
    fh = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm", "codex", "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=fh,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        for line in text.splitlines():
            if "export OPENAI_BASE_URL=" in line:
                stack = text.split("(HTTP stack: ", 1)[1].split(")")[0] if "(HTTP" in text else ""
                return proc, line.split("OPENAI_BASE_URL=")[1].split()[0], stack.strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start:\n" + log.read_text())


async def main_async(args: argparse.Namespace) -> None:
    from llm_codex.testing import write_auth_file

    fake = Fake()
    info = fake.info
    tmp = Path(tempfile.mkdtemp(prefix="llm-codex-bench-"))
    env = {
        **os.environ,
        "LLM_USER_PATH": str(tmp / "llm"),
        "CODEX_HOME": str(tmp / "codex"),
        "LLM_CODEX_BASE_URL": info["base_url"],
        "LLM_CODEX_AUTH_URL": info["url"],
    }
    write_auth_file(tmp / "llm" / "llm-codex" / "auth.json", info["tokens"])
    server, url, stack = start_server(env, tmp / "server.log")
    pid = server.pid
    print(f"server HTTP stack: {stack or 'not announced'}; face: {args.face}")
    try:
        # One client (and pool) per path, as a real client keeps its own connections: with a
        # shared pool of BURST connections, each burst batch would close the other path's
        # idle connections and open its own again, billing reconnects to both.
        limits = httpx2.Limits(max_connections=BURST, max_keepalive_connections=BURST)
        async with (
            httpx2.AsyncClient(timeout=120, limits=limits) as http_direct,
            httpx2.AsyncClient(timeout=120, limits=limits) as http_served,
        ):
            direct = Direct(http_direct, info["base_url"], info["tokens"]).turn
            served = Served(http_served, url, args.face).turn
            await batch(direct, 4, 0)  # warm both paths: connections, imports, the login read
            await batch(served, 4, 0)

            if "sequential" in args.regimes:
                await sequential(args, fake, pid, direct, served)
            if "burst" in args.regimes:
                await burst(args, fake, pid, direct, served)
            if "paced" in args.regimes:
                await paced(args, fake, pid, direct, served)
        if "memory" in args.regimes:
            await memory(args, fake, pid, url)
    finally:
        server.terminate()
        server.wait(30)
        fake.stop()


async def sequential(args, fake, pid, direct, served) -> None:
    fake.mode()
    seq = Regime("sequential (1 at a time, short answer)", pid, fake.proc.pid)
    for _ in range(args.rounds):
        await seq.round(direct, served, 1, args.sequential)
    seq.report(ttfb=True)


async def burst(args, fake, pid, direct, served) -> None:
    fake.mode(kind="long", n_deltas=500, delta="x")
    burst = Regime(
        f"burst ({BURST} in flight, {args.burst_turns} turns a batch, 500 deltas)",
        pid,
        fake.proc.pid,
    )
    for _ in range(args.rounds):
        await burst.round(direct, served, BURST, 1, args.burst_turns)
    burst.report(throughput=True)


async def paced(args, fake, pid, direct, served) -> None:
    text = "word " * args.paced_deltas
    fake.mode(kind="slow", text=text, chunks=5, delay=args.paced_gap)
    paced = Regime(
        f"paced ({PACED_CONCURRENCY} concurrent, {args.paced_deltas} deltas, one event "
        f"per read, {args.paced_gap * 1000:g} ms apart)",
        pid,
        fake.proc.pid,
    )
    for _ in range(args.rounds):
        await paced.round(direct, served, PACED_CONCURRENCY, 1)
    paced.report()


async def memory(args, fake, pid, url) -> None:
    fake.mode()
    at_1k, at_end = await memory_requests(url, args.requests, pid, fake)
    print(f"memory over {args.requests} non-stream requests")
    print(
        f"  server RSS after 1,000: {at_1k / 1024:.1f} MiB, after {args.requests}: "
        f"{at_end / 1024:.1f} MiB, ratio {at_end / at_1k:.3f}"
    )
    fake.mode(kind="long", n_deltas=args.long, delta="x")
    tenth, peak, end = await memory_long_stream(url, args.long, pid)
    print(f"memory along one {args.long}-delta stream")
    print(
        f"  server RSS at 10 %: {tenth / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, end "
        f"{end / 1024:.1f} MiB, ratio end/10 % {end / tenth:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sequential", type=int, default=40, help="turns per sequential round")
    parser.add_argument(
        "--burst-turns",
        type=int,
        default=4 * BURST,
        help=f"turns per burst batch, {BURST} in flight (a new one starts as one ends)",
    )
    parser.add_argument("--paced-deltas", type=int, default=100)
    parser.add_argument("--paced-gap", type=float, default=0.003)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--long", type=int, default=500_000)
    parser.add_argument(
        "--quick", action="store_true", help="a shorter run (about 10 seconds here)"
    )
    parser.add_argument(
        "--face",
        choices=["chat", "responses", "anthropic", "ollama"],
        default="chat",
        help="the server endpoint the streamed turns go through",
    )
    parser.add_argument(
        "--regimes",
        default="sequential,burst,paced,memory",
        help="comma-separated subset of sequential,burst,paced,memory",
    )
    args = parser.parse_args()
    if args.fake:
        fake_main()
        return
    args.regimes = set(args.regimes.split(","))
    if args.quick:
        args.rounds, args.sequential, args.requests, args.long = 3, 20, 1500, 100_000
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
