"""Throughput and client CPU of `llm.generate` against the loopback OpenAI server.

    python bench/llm_throughput.py [--requests 5000] [--latency-ms 200] [--concurrency 64]

The server runs in its own process, so the CPU measured here (``time.process_time`` of
this process, during `generate`) is the client's alone: backend, retries, limits, cache
and journal (fsync on) included. Pass: wall time within 1.15x of the ideal
``requests * latency / concurrency`` and under 2 ms of client CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llm import OpenAIBackend, Request, generate

SERVER = Path(__file__).resolve().parent.parent / "tests" / "openai_server.py"
MAX_WALL_RATIO = 1.15
MAX_CPU_MS_PER_REQUEST = 2.0
SHARD_SIZE = 500


def requests(n: int) -> list[Request]:
    return [Request(sample_id=f"bench:{i:05d}", shard=f"shard{i // SHARD_SIZE:03d}",
                    messages=[{"role": "system", "content": "You are a cardiologist."},
                              {"role": "user", "content": f"Interpret ECG number {i}."}],
                    params={"temperature": 0.0, "max_tokens": 512})
            for i in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, str(SERVER), "--port", "0",
                               "--latency-ms", str(args.latency_ms)],
                              stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().split()[-1] + "/v1"
        batch = requests(args.requests)
        backend = OpenAIBackend("deepseek-chat", base_url=base_url, api_key="bench",
                                concurrency=args.concurrency)
        with tempfile.TemporaryDirectory() as work:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            summary = asyncio.run(generate(batch, backend, journal_dir=f"{work}/journal",
                                           cache_dir=f"{work}/cache",
                                           concurrency=args.concurrency))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            usage = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        server.terminate()
        server.wait()

    ideal = args.requests * args.latency_ms / 1000 / args.concurrency
    ratio = wall / ideal
    cpu_ms = cpu / args.requests * 1000
    user_ms = (usage.ru_utime - usage0.ru_utime) / args.requests * 1000
    sys_ms = (usage.ru_stime - usage0.ru_stime) / args.requests * 1000
    wall_ok, cpu_ok = ratio <= MAX_WALL_RATIO, cpu_ms < MAX_CPU_MS_PER_REQUEST
    rows = [
        ("requests (ok)", f"{args.requests} ({summary.ok})", ""),
        ("latency / concurrency", f"{args.latency_ms:g} ms / {args.concurrency}", ""),
        ("ideal wall", f"{ideal:.2f} s", ""),
        ("wall", f"{wall:.2f} s", ""),
        ("wall / ideal", f"{ratio:.3f}", f"<= {MAX_WALL_RATIO}  {'PASS' if wall_ok else 'FAIL'}"),
        ("throughput", f"{args.requests / wall:.0f} req/s", ""),
        ("client CPU", f"{cpu:.2f} s (user {user_ms:.2f} + sys {sys_ms:.2f} ms/req)", ""),
        ("client CPU / request", f"{cpu_ms:.3f} ms",
         f"< {MAX_CPU_MS_PER_REQUEST}  {'PASS' if cpu_ok else 'FAIL'}"),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'metric':<{width}}  {'value':<{value_width}}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {target}".rstrip())
    return 0 if (wall_ok and cpu_ok and summary.ok == args.requests) else 1


if __name__ == "__main__":
    sys.exit(main())
