"""Latency of the HTTP service for one case under concurrent clients, on loopback:
``python bench/service_latency.py [--clients 20] [--requests 50] [--case cases/X.json]``.

Starts ``kras-rules serve`` (one uvicorn process, 127.0.0.1, a free port) as a subprocess, warms it
up, then runs CLIENTS threads, each with its own keep-alive connection, each sending REQUESTS
``POST /evaluate`` requests for the same case one after the other. Prints the latency of every
request (p50, p90, p99, max) and the throughput; stops the server it started. Not a test.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50, help="requests per client")
    ap.add_argument("--case", default=str(REPO / "cases" / "luad-g12c-second-line.json"))
    ap.add_argument("--path", default="/evaluate", help="/evaluate (default) or /why")
    a = ap.parse_args()
    case = json.loads(Path(a.case).read_text())
    body = json.dumps({"case": case, "therapy": "adagrasib+cetuximab"} if a.path == "/why" else case)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/health")
                c.getresponse().read()
                c.close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        warm = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(50):
            warm.request("POST", a.path, body=body, headers={"Content-Type": "application/json"})
            assert warm.getresponse().read()
        warm.close()
        lat: list[float] = []
        lock = threading.Lock()
        failures = []

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine = []
            for _ in range(a.requests):
                t = time.perf_counter()
                conn.request("POST", a.path, body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                mine.append(time.perf_counter() - t)
                if r.status != 200:
                    failures.append(r.status)
            conn.close()
            with lock:
                lat.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(a.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(10)
    ms = [x * 1000 for x in lat]
    print(f"POST {a.path}, one case ({Path(a.case).name}), {a.clients} concurrent clients x {a.requests} requests, "
          f"loopback, one uvicorn process, {os.cpu_count()} cores")
    print(f"latency ms: p50 {pct(ms, 50):.1f}  p90 {pct(ms, 90):.1f}  p99 {pct(ms, 99):.1f}  max {max(ms):.1f}  "
          f"mean {statistics.mean(ms):.1f}")
    print(f"throughput: {len(ms) / wall:,.0f} requests/s; failures: {len(failures)}")


if __name__ == "__main__":
    main()
