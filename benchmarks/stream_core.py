"""How much the core client costs per streamed delta, compared with a bare httpx2 read.

Starts the fake Codex backend in a child process (so its work is not billed to us), then streams
answers of 1 and of 20,000 text deltas both through ``CodexClient`` (SSE decoding, event
assembly, coalescing, the caller's loop over events) and through a bare ``httpx2`` read of the
same endpoint (``iter_lines``, nothing parsed). The marginal cost of the 20,000 deltas is
"20k minus 1", taken per repetition from interleaved runs, and the median over repetitions is
reported in client CPU time (the primary figure) and in wall time.

Run: ``python benchmarks/stream_core.py [--reps 9] [--deltas 20000]``. The goal is a CPU ratio
core/bare of at most 1.5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx2

from llm_codex.core.client import CodexClient
from llm_codex.core.request import build_body, build_headers, encode_body
from llm_codex.core.types import CodexRequest, Credentials, TextDelta


def serve() -> None:
    """Child process: run the fake; stdin lines ``long N`` queue an N-delta answer."""
    from llm_codex.testing import FakeCodexBackend

    fake = FakeCodexBackend().start()
    fake.access_token_ttl = 10 * 365 * 86400
    tokens = fake.issue_tokens(access_ttl=10 * 365 * 86400)
    info = {
        "base_url": fake.base_url,
        "access_token": tokens["access_token"],
        "account_id": tokens["account_id"],
    }
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if parts and parts[0] == "long":
            fake.enqueue_long(n_deltas=int(parts[1]), delta="x")
            print("ok", flush=True)
    fake.stop()


class _Static:
    """A credential provider that always returns the same credentials."""

    def __init__(self, creds: Credentials) -> None:
        self.creds = creds

    def current(self) -> Credentials:
        return self.creds

    def after_unauthorized(self, rejected: Credentials) -> Credentials:
        return self.creds

    async def acurrent(self) -> Credentials:
        return self.creds

    async def aafter_unauthorized(self, rejected: Credentials) -> Credentials:
        return self.creds


def main() -> None:
    """Measure and print the marginal costs and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--deltas", type=int, default=20000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        info = json.loads(child.stdout.readline())
        creds = Credentials(info["access_token"], info["account_id"])
        req = CodexRequest(
            model="gpt-5.5",
            input=[{"type": "message", "role": "user", "content": "Say x."}],
            session_id="0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11",
        )
        core = CodexClient(credentials=_Static(creds), base_url=info["base_url"])
        bare_http = httpx2.Client()
        url = info["base_url"] + "/responses"
        content = encode_body(build_body(req))
        headers = build_headers(creds, session_id=req.session_id or "")

        def queue(n: int) -> None:
            child.stdin.write(f"long {n}\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "ok"

        def run_core(n: int) -> int:
            chars = 0
            for event in core.stream(req):
                if type(event) is TextDelta:
                    chars += len(event.text)
            return chars

        def run_bare(n: int) -> int:
            lines = 0
            with bare_http.stream("POST", url, content=content, headers=headers) as resp:
                for _line in resp.iter_lines():
                    lines += 1
            return lines

        def measure(fn: Callable[[int], int], n: int) -> tuple[float, float]:
            queue(n)
            cpu, wall = time.process_time(), time.perf_counter()
            fn(n)
            return time.process_time() - cpu, time.perf_counter() - wall

        big = args.deltas
        assert run_core(0) is not None  # warm-up (default reply), also checks the setup
        for fn in (run_core, run_bare):
            measure(fn, 1)
            measure(fn, big)
        marginal: dict[str, list[tuple[float, float]]] = {"core": [], "bare": []}
        for rep in range(args.reps):
            order = [("core", run_core), ("bare", run_bare)]
            if rep % 2:
                order.reverse()
            for name, fn in order:
                small_cpu, small_wall = measure(fn, 1)
                big_cpu, big_wall = measure(fn, big)
                marginal[name].append((big_cpu - small_cpu, big_wall - small_wall))
        med = {
            name: (
                statistics.median(m[0] for m in values),
                statistics.median(m[1] for m in values),
            )
            for name, values in marginal.items()
        }
        print(f"marginal cost of {big} deltas (median of {args.reps} interleaved reps)")
        for name in ("core", "bare"):
            cpu, wall = med[name]
            print(f"  {name:4s}: cpu {cpu * 1000:8.2f} ms   wall {wall * 1000:8.2f} ms")
        cpu_ratio = med["core"][0] / med["bare"][0] if med["bare"][0] > 0 else float("inf")
        wall_ratio = med["core"][1] / med["bare"][1] if med["bare"][1] > 0 else float("inf")
        print(f"ratio core/bare: cpu {cpu_ratio:.2f}   wall {wall_ratio:.2f}   (goal: <= 1.5)")
    finally:
        child.stdin.close()
        child.wait(timeout=10)


if __name__ == "__main__":
    main()
