"""Cold-start import cost and package size of the LLM caller functions.

For each function, medians over fresh processes, loaded as Lambda loads them (tracing on, so
Powertools' Tracer patches libraries through aws_xray_sdk):
- handler: `import <name>_llm.handler` and its first `caller()` (the clients it builds from its
  settings on the first invocation, the rest of what was Lambda's init phase);
- SDK: its SDK alone (for Bedrock boto3 plus a bedrock-runtime client, which its handler builds
  at import);
- overhead: the handler timed in a process that has already imported the SDK, i.e. what the
  handler adds to the SDK, measured directly (handler - SDK, the difference of two noisy medians,
  is printed too). Goal: overhead <= 0.15 s.
And the built size of the function plus the AgentCoreLayer when `make build` filled .aws-sam/build.
--no-pyc imports with no byte-code for anything outside the standard library, as Lambda loads what
`sam build` packages (it ships no .pyc) on a cold start without SnapStart.
Writes bench/results/cold_start.json.
Usage: python bench/cold_start.py [--repeats N] [--top] [--no-pyc] [--build-dir DIR]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from sfn_agents.launchers import LAMBDA_LACKS

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "agent_core"
GOAL_S = 0.15
# name: (logical id, the SDK's import as the handler needs it)
FUNCTIONS = {
    "anthropic": ("AnthropicLlmFunction", "import anthropic"),
    "openai": ("OpenAiLlmFunction", "import openai"),
    "gemini": ("GeminiLlmFunction", "from google import genai"),
    "bedrock": ("BedrockLlmFunction", "import boto3; boto3.client('bedrock-runtime')"),
}
# In the dev venv but not in Lambda's runtime nor in the built packages; botocore, s3transfer and
# X-Ray's patch_all import them when present: hidden, as the local engine hides them.
ABSENT = list(LAMBDA_LACKS)
ABSENT_BUT_GEMINI = ["requests"]  # google-auth brings it to the Gemini package only
CHILD = """import sys, time
sys.path[:0] = {path!r}
sys.modules.update(dict.fromkeys({absent!r}))
{setup}
print("-- timed --", file=sys.stderr)
t, c = time.perf_counter(), time.process_time()
{code}
print(time.perf_counter() - t, time.process_time() - c)
"""
# Byte-code goes to these folders, not into the repo. PYCACHE gets everything (a warm-up run fills
# it); STDLIB_ONLY gets the standard library's part, for --no-pyc.
PYCACHE = Path(tempfile.gettempdir()) / "sfn-agents-bench-pycache"
STDLIB_ONLY = Path(tempfile.gettempdir()) / "sfn-agents-bench-pycache-stdlib"
NO_PYC = False


def child_env(name: str, fn_dir: Path) -> dict[str, str]:
    """What Lambda and template.yaml set; LAMBDA_TASK_ROOT turns Powertools tracing on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    return env | {
        "LAMBDA_TASK_ROOT": str(fn_dir),
        "AWS_LAMBDA_FUNCTION_NAME": f"sfn-agents-llm-{name}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": "fake",
        "AWS_SESSION_TOKEN": "fake",
        "POWERTOOLS_SERVICE_NAME": f"llm-{name}",
        "POWERTOOLS_METRICS_NAMESPACE": "sfn-agents",
        "LLM_API_KEYS_SECRET": "/sfn-agents/bench/llm-api-keys",
        "ARTIFACT_BUCKET": "sfn-agents-bench-artifacts",
        "DEFAULT_MODEL": "bench-model",
        "LLM_TIMEOUT_SECONDS": "120",
        "LLM_MAX_RETRIES": "1",
    }


def handler_code(name: str) -> str:
    return f"from {name}_llm import handler; handler.caller()"


def run_child(
    name: str, code: str, setup: str = "", importtime: bool = False, warm_up: bool = False
) -> subprocess.CompletedProcess[str]:
    fn_dir = ROOT / "functions" / "llm" / name
    cache = ["-X", f"pycache_prefix={PYCACHE}"]
    if NO_PYC and not warm_up:
        cache = ["-B", "-X", f"pycache_prefix={STDLIB_ONLY}"]
    absent = ABSENT + (ABSENT_BUT_GEMINI if name != "gemini" else [])
    source = CHILD.format(path=[str(fn_dir), str(LAYER)], absent=absent, setup=setup, code=code)
    done = subprocess.run(
        [sys.executable, "-I", *cache, *(["-X", "importtime"] if importtime else []), "-c", source],
        env=child_env(name, fn_dir),
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"{name}: `{code}` failed:\n{done.stderr[-3000:]}")
    return done


def warm_up(name: str) -> None:
    """Compile byte-code and fill the page cache; keep only the stdlib's byte-code for --no-pyc."""
    run_child(name, handler_code(name), warm_up=True)
    stdlib = Path(sysconfig.get_path("stdlib")).relative_to("/")
    shutil.copytree(PYCACHE / stdlib, STDLIB_ONLY / stdlib, dirs_exist_ok=True)


def seconds(name: str, code: str, setup: str = "") -> tuple[float, float]:
    """(wall, CPU) seconds; CPU time is less hurt by other processes on a busy machine."""
    wall, cpu = run_child(name, code, setup).stdout.split()[-2:]
    return float(wall), float(cpu)


def beyond_sdk(name: str, sdk: str) -> dict[str, Any]:
    """`python -X importtime` of the handler after the SDK: slowest modules and packages."""
    stderr = run_child(name, handler_code(name), sdk, importtime=True).stderr
    extra: dict[str, tuple[float, float]] = {}  # module -> (self s, cumulative s)
    for line in stderr.partition("-- timed --")[2].splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, cumulative, module = line.removeprefix("import time:").split("|")
            extra[module.strip()] = (int(own) / 1e6, int(cumulative) / 1e6)
    packages: dict[str, float] = defaultdict(float)
    for module, (self_s, _) in extra.items():
        packages[module.split(".")[0]] += self_s
    return {
        "modules_cumulative_s": dict(sorted(extra.items(), key=lambda i: -i[1][1])[:10]),
        "packages_self_s": dict(sorted(packages.items(), key=lambda i: -i[1])[:10]),
    }


def tree_bytes(folder: Path) -> tuple[int, int]:
    """(unzipped, deflate-zipped) bytes of a folder, zipped as `sam deploy` would upload it."""
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(folder))
        return sum(p.stat().st_size for p in files), handle.tell()


def sizes(build_dir: Path, logical_id: str) -> dict[str, int] | None:
    function, layer = build_dir / logical_id, build_dir / "AgentCoreLayer"
    if not (function.is_dir() and layer.is_dir()):
        return None
    (fn_raw, fn_zip), (layer_raw, layer_zip) = tree_bytes(function), tree_bytes(layer)
    return {
        "function_bytes": fn_raw,
        "function_zip_bytes": fn_zip,
        "layer_bytes": layer_raw,
        "layer_zip_bytes": layer_zip,
        "with_layer_bytes": fn_raw + layer_raw,
        "with_layer_zip_bytes": fn_zip + layer_zip,
    }


def measure(name: str, sdk: str, repeats: int) -> dict[str, Any]:
    warm_up(name)
    handler = handler_code(name)
    kinds = {"handler": ("", handler), "sdk": ("", sdk), "overhead": (sdk, handler)}
    runs: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for _ in range(repeats):  # interleaved, so drifting load hits every kind alike
        for kind, (setup, code) in kinds.items():
            runs[kind].append(seconds(name, code, setup))
    result: dict[str, Any] = {
        f"{kind}{unit}": round(statistics.median(run[i] for run in runs[kind]), 4)
        for kind in kinds
        for i, unit in enumerate(("_s", "_cpu_s"))
    }
    result["handler_minus_sdk_s"] = round(result["handler_s"] - result["sdk_s"], 4)
    return result | {"within_goal": result["overhead_s"] <= GOAL_S, "runs_wall_cpu_s": runs}


def main() -> None:
    global NO_PYC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", action="store_true", help="slowest imports beyond the SDK")
    parser.add_argument("--no-pyc", action="store_true", help="no byte-code outside the stdlib")
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    args = parser.parse_args()
    NO_PYC = args.no_pyc

    results: dict[str, dict[str, Any]] = {}
    for name, (logical_id, sdk) in FUNCTIONS.items():
        results[name] = measure(name, sdk, args.repeats)
        results[name]["size"] = sizes(args.build_dir, logical_id)
        if args.top:
            results[name]["beyond_sdk"] = beyond_sdk(name, sdk)

    pyc = "no .pyc outside the stdlib" if NO_PYC else "with .pyc"
    print(f"Medians of {args.repeats} fresh processes, {pyc}, seconds; goal: overhead <= {GOAL_S}")
    print("function   handler    SDK  handler-SDK  overhead  (CPU)  goal  MB +layer (zip)")
    for name, r in results.items():
        size = r["size"]
        mb = "-" if size is None else f"{size['with_layer_bytes'] / 1e6:.1f}"
        mb += "" if size is None else f" ({size['with_layer_zip_bytes'] / 1e6:.1f})"
        print(
            f"{name:<10}{r['handler_s']:>8.3f}{r['sdk_s']:>7.3f}{r['handler_minus_sdk_s']:>+13.3f}"
            f"{r['overhead_s']:>+10.3f}{r['overhead_cpu_s']:>+7.3f}"
            f"  {'ok  ' if r['within_goal'] else 'OVER'}  {mb}"
        )
    if any(r["size"] is None for r in results.values()):
        print(f"No build in {args.build_dir}: run `make build` for package sizes.")
    for name, r in results.items() if args.top else ():
        print(f"\n{name}: top-level packages imported beyond the SDK (self time, s)")
        for package, own in r["beyond_sdk"]["packages_self_s"].items():
            print(f"  {own:7.3f}  {package}")
        print(f"{name}: slowest modules imported beyond the SDK (cumulative time, s)")
        for module, (_, cumulative) in r["beyond_sdk"]["modules_cumulative_s"].items():
            print(f"  {cumulative:7.3f}  {module}")

    out = ROOT / "bench" / "results" / ("cold_start_no_pyc.json" if NO_PYC else "cold_start.json")
    out.parent.mkdir(exist_ok=True)
    document = {"python": sys.version.split()[0], "repeats": args.repeats, "goal_s": GOAL_S}
    out.write_text(json.dumps(document | {"no_pyc": NO_PYC, "functions": results}, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
