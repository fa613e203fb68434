"""What installing llm-codex adds to ``llm`` start-up.

Times ``llm --version`` (plugins loaded, no model registry) with llm-codex installed (this
virtualenv) against a virtualenv with bare ``llm`` of the same version and the same versions of
its dependencies, created once under the temporary directory (``python -m venv`` +
``pip install``, from the configured index or cache) and reused by later runs. When that venv
cannot be made, the baseline falls back to this venv with ``LLM_LOAD_PLUGINS=''`` (plugins off),
and says so.

Runs alternate (plugin, bare, bare, plugin, ...) and each command gets a fresh empty llm user
directory; the figures are the ratio of the medians, the median of per-pair ratios and the
ratio of the fastest runs, in the child's CPU time (the primary figure: robust on a busy
machine) and in wall time. ``llm --version`` imports the plugin (hooks and the ``llm codex``
group) but registers no model, so it shows the plugin's bare import cost. The same is
printed for ``llm models`` (which also runs ``register_models``) and ``llm --help``.

Run: ``python benchmarks/startup.py [--pairs 20] [--fresh]``. Goal: ``llm --version`` ratio at
most 1.10.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

BIN = "Scripts" if os.name == "nt" else "bin"


def _baseline_dir() -> Path:
    version = metadata.version("llm")
    py = f"{sys.version_info.major}{sys.version_info.minor}"
    return Path(tempfile.gettempdir()) / f"llm-codex-bench-bare-llm-{version}-py{py}"


def _constraints(path: Path) -> Path:
    """Pin every distribution of this venv except llm-codex itself (same dependency versions)."""
    lines = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower().replace("_", "-") not in ("llm-codex", "pip", "setuptools"):
            lines.append(f"{name}=={dist.version}")
    path.write_text("\n".join(sorted(set(lines))) + "\n")
    return path


def make_baseline(*, fresh: bool) -> Path | None:
    """The bare-llm venv's ``llm`` executable, created if needed; ``None`` when that failed."""
    venv = _baseline_dir()
    llm_exe = venv / BIN / "llm"
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if llm_exe.exists():
        return llm_exe
    print(f"creating the bare-llm baseline venv in {venv} (once) ...", file=sys.stderr)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
        )
        constraints = _constraints(venv / "constraints.txt")
        subprocess.run(
            [
                str(venv / BIN / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"llm=={metadata.version('llm')}",
                "-c",
                str(constraints),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"could not create the baseline venv: {exc} {detail[-400:]!r}", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return llm_exe if llm_exe.exists() else None


def _time(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds of the child, wall seconds) for one run of ``cmd``."""
    with tempfile.TemporaryDirectory() as user_dir:
        env = {**env, "LLM_USER_PATH": user_dir}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, wall


def compare(
    args: list[str],
    plugin: tuple[list[str], dict[str, str]],
    bare: tuple[list[str], dict[str, str]],
    pairs: int,
) -> dict[str, tuple[float, float, float, float, float]]:
    """Per measure ("cpu", "wall"): (median plugin, median bare, ratio of medians, median of
    per-pair ratios, ratio of the minimums) for ``llm args``."""
    _time(plugin[0] + args, plugin[1])  # warm the file cache
    _time(bare[0] + args, bare[1])
    with_plugin: list[tuple[float, float]] = []
    without: list[tuple[float, float]] = []
    for i in range(pairs):
        if i % 2:
            b = _time(bare[0] + args, bare[1])
            p = _time(plugin[0] + args, plugin[1])
        else:
            p = _time(plugin[0] + args, plugin[1])
            b = _time(bare[0] + args, bare[1])
        with_plugin.append(p)
        without.append(b)
    out = {}
    for k, name in enumerate(("cpu", "wall")):
        mp = statistics.median(p[k] for p in with_plugin)
        mb = statistics.median(b[k] for b in without)
        pair = statistics.median(p[k] / b[k] for p, b in zip(with_plugin, without, strict=True))
        best = min(p[k] for p in with_plugin) / min(b[k] for b in without)
        out[name] = (mp, mb, mp / mb, pair, best)
    return out


def main() -> None:
    """Measure and print the start-up ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--fresh", action="store_true", help="rebuild the baseline venv")
    parser.add_argument(
        "--same-venv", action="store_true", help="baseline: this venv with LLM_LOAD_PLUGINS=''"
    )
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("LLM_LOAD_PLUGINS", "LLM_USER_PATH")}
    plugin_llm = Path(sys.executable).parent / "llm"
    plugin = ([str(plugin_llm)], env)
    installed = subprocess.run(
        [str(plugin_llm), "plugins"], env=env, capture_output=True, text=True, check=True
    ).stdout
    if "llm-codex" not in installed:
        sys.exit("llm-codex is not installed in this venv (pip install -e .)")

    bare_llm = None if args.same_venv else make_baseline(fresh=args.fresh)
    if bare_llm is not None:
        bare = ([str(bare_llm)], env)
        label = f"bare llm venv ({bare_llm.parent.parent})"
    else:
        bare = ([str(plugin_llm)], {**env, "LLM_LOAD_PLUGINS": ""})
        label = "this venv with LLM_LOAD_PLUGINS='' (note: not a separate venv)"
    print(f"baseline: {label}; {args.pairs} interleaved pairs")
    for cmd, goal in ((["--version"], " (goal: <= 1.10)"), (["models"], ""), (["--help"], "")):
        result = compare(cmd, plugin, bare, args.pairs)
        for measure in ("cpu", "wall"):
            mp, mb, ratio, pair, best = result[measure]
            print(
                f"llm {' '.join(cmd):10s} {measure:4s}: with plugin {mp * 1000:7.1f} ms  "
                f"bare {mb * 1000:7.1f} ms  ratio {ratio:.3f} (pairs {pair:.3f}, "
                f"min {best:.3f})" + (goal if measure == "cpu" else "")
            )


if __name__ == "__main__":
    main()
