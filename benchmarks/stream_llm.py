"""What streaming through ``llm`` costs per delta, compared with a bare httpx2 read.

Starts the fake Codex backend in a child process (its work is not billed to us), signs in with
a credential file in a temporary llm user directory, then streams answers of 1 and of N text
deltas (default 20,000) three ways:

- ``llm``:  ``llm.get_model("openai-codex/gpt-5.5").prompt(...)``, iterating the chunks (the
  whole plugin: request translation, core client, event translation, llm's own bookkeeping);
- ``core``: ``CodexClient.stream`` alone (what the plugin builds on);
- ``bare``: a bare ``httpx2`` read of the same endpoint (``iter_lines``, nothing parsed).

The marginal cost of the N deltas is "N minus 1" per repetition (process and per-request costs
cancel), from interleaved runs; the median over repetitions is reported in client CPU time (the
primary figure) and in wall time. Then memory: the ``tracemalloc`` peak of one ``llm`` answer of
N and of 10·N one-character deltas (flat in stream length means a ratio near 1, linear near 10),
and of the same 10·N-character answer sent as N ten-character deltas (llm keeps the answer's
text, so what matters is whether memory follows the number of deltas or only the text).

Run: ``python benchmarks/stream_llm.py [--reps 7] [--deltas 20000]``. Goal: llm/bare CPU ratio
at most 1.5; memory ratio well below 10.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL = "openai-codex/gpt-5.5"


def serve() -> None:
    """Child process: run the fake; stdin lines ``long N [D]`` queue N deltas of D (``x``)."""
    from llm_codex.testing import FakeCodexBackend

    fake = FakeCodexBackend().start()
    fake.access_token_ttl = 10 * 365 * 86400
    tokens = fake.issue_tokens(access_ttl=10 * 365 * 86400)
    print(json.dumps({"url": fake.url, "base_url": fake.base_url, "tokens": tokens}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if parts and parts[0] == "long":
            fake.enqueue_long(n_deltas=int(parts[1]), delta=parts[2] if len(parts) > 2 else "x")
            print("ok", flush=True)
    fake.stop()


def main() -> None:
    """Measure and print the marginal costs, their ratios and the memory ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--deltas", type=int, default=20000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return

    home = Path(tempfile.mkdtemp(prefix="llm-codex-bench-"))
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        info = json.loads(child.stdout.readline())
        os.environ.update(
            {
                "LLM_USER_PATH": str(home / "llm"),
                "CODEX_HOME": str(home / "codex"),
                "LLM_CODEX_BASE_URL": info["base_url"],
                "LLM_CODEX_AUTH_URL": info["url"],
            }
        )
        os.environ.pop("LLM_CODEX_USAGE_WARNING", None)

        import httpx2
        import llm

        from llm_codex import config
        from llm_codex.auth import default_auth_manager
        from llm_codex.core.client import CodexClient
        from llm_codex.core.request import build_body, build_headers, encode_body
        from llm_codex.core.types import CodexRequest, TextDelta
        from llm_codex.testing.authfile import write_auth_file

        write_auth_file(config.own_auth_path(), info["tokens"])
        model = llm.get_model(MODEL)
        creds = default_auth_manager().current()
        req = CodexRequest(
            model="gpt-5.5",
            input=[{"type": "message", "role": "user", "content": "Say x."}],
            session_id="0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11",
        )
        core = CodexClient(credentials=default_auth_manager())
        bare_http = httpx2.Client()
        url = info["base_url"] + "/responses"
        content = encode_body(build_body(req))
        headers = build_headers(creds, session_id=req.session_id or "")

        def queue(n: int, delta: str = "x") -> None:
            child.stdin.write(f"long {n} {delta}\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "ok"

        def run_llm(n: int) -> int:
            return sum(len(chunk) for chunk in model.prompt("Say x."))

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
            got = fn(n)
            elapsed = time.process_time() - cpu, time.perf_counter() - wall
            assert got >= n, (fn.__name__, got, n)
            return elapsed

        big = args.deltas
        runners = {"llm": run_llm, "core": run_core, "bare": run_bare}
        for fn in runners.values():  # warm-up: imports, pools, the one catalog refresh
            measure(fn, 1)
            measure(fn, big)
        marginal: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
        for rep in range(args.reps):
            order = list(runners.items())
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
        for name in runners:
            cpu, wall = med[name]
            print(f"  {name:4s}: cpu {cpu * 1000:8.2f} ms   wall {wall * 1000:8.2f} ms")

        def ratio(a: str, b: str, i: int) -> float:
            return med[a][i] / med[b][i] if med[b][i] > 0 else float("inf")

        print(
            f"ratio llm/bare:  cpu {ratio('llm', 'bare', 0):.2f}   wall "
            f"{ratio('llm', 'bare', 1):.2f}   (goal: <= 1.5)"
        )
        print(
            f"ratio core/bare: cpu {ratio('core', 'bare', 0):.2f}   wall "
            f"{ratio('core', 'bare', 1):.2f}   (the core client alone)"
        )
        print(
            f"ratio llm/core:  cpu {ratio('llm', 'core', 0):.2f}   wall "
            f"{ratio('llm', 'core', 1):.2f}   (the plugin layer and llm itself)"
        )

        def peak(n: int, delta: str = "x") -> int:
            queue(n, delta)
            tracemalloc.start()
            try:
                run_llm(n)
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

        peak(big)  # warm-up under tracing
        small, large = peak(big), peak(10 * big)
        same_text = peak(big, "x" * 10)
        print(
            f"memory peak (tracemalloc): {big} deltas {small / 1024:.0f} KiB, "
            f"{10 * big} deltas {large / 1024:.0f} KiB, ratio {large / small:.2f} "
            "(flat ~1, linear ~10)"
        )
        print(
            f"  same {10 * big}-character answer in {big} deltas: {same_text / 1024:.0f} KiB, "
            f"ratio {large / same_text:.2f} (~1: memory follows the answer's text, which llm "
            "keeps, not the number of deltas)"
        )
    finally:
        child.stdin.close()
        child.wait(timeout=10)


if __name__ == "__main__":
    main()
