"""Throughput and latency of our Baidu client, the official ``baidu-aip`` SDK and bare
httpx POST loops (the ceiling), side by side, against a loopback server that answers a
fixed seed-shaped ``body_attr`` body at once.

"bare encoding" base64- and form-encodes the image for every request, as any client of
changing frames must; "bare prepared" posts one body encoded once, an upper bound no
client of real frames can reach.

    .venv/bin/python bench/baidu_client.py [--requests 3000] [--concurrency 1 16]

Every contender sends the same image to the same server; threads share one client each.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")

from monitoring.backends.baidu import BaiduClient  # noqa: E402
from monitoring.backends.base import ClientSettings  # noqa: E402
from tests.servers import free_port  # noqa: E402

IMAGE = ROOT.parent / "shared/data/ppe-sample/images/000000.jpg"


def run_threads(call, total: int, concurrency: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))
    errors = []

    def worker():
        mine = []
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            started = time.perf_counter()
            try:
                call()
            except Exception as exc:  # a benchmark reports, it does not stop
                errors.append(repr(exc))
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


def contenders(base: str, image: bytes):
    ours = BaiduClient(ClientSettings(base_url=base, api_key="ak", secret_key="sk", account="b"))

    def ours_call():
        ours.call("body_attr", image)

    from aip import AipBodyAnalysis

    sdk = AipBodyAnalysis("bench", "ak", "sk")
    sdk._AipBase__accessTokenUrl = f"{base}/oauth/2.0/token"
    sdk._AipBodyAnalysis__bodyAttrUrl = f"{base}/rest/2.0/image-classify/v1/body_attr"

    def sdk_call():
        answer = sdk.bodyAttr(image)
        if "error_code" in answer:
            raise RuntimeError(answer)

    bare = httpx.Client(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
    body = urllib.parse.urlencode({"image": base64.b64encode(image).decode()}).encode()
    url = f"{base}/rest/2.0/image-classify/v1/body_attr?access_token=24.bench-token"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def bare_call():
        bare.post(url, content=body, headers=headers).json()

    def bare_encoding_call():
        # The least any client must do per frame: base64, form-encode, POST, parse.
        encoded = base64.b64encode(image)
        encoded = encoded.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
        bare.post(url, content=b"image=" + encoded, headers=headers).json()

    return [
        ("our client", ours_call),
        ("official SDK", sdk_call),
        ("bare encoding", bare_encoding_call),
        ("bare prepared", bare_call),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "bench/loopback_vendor.py"), str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        image = IMAGE.read_bytes()
        base = f"http://127.0.0.1:{port}"
        print(f"image {IMAGE.name}: {len(image)} bytes; {args.requests} requests per run")
        print(f"{'contender':<14} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} errors")
        table = {}
        for concurrency in args.concurrency:
            for name, call in contenders(base, image):
                call()  # warm up: token, connections
                row = run_threads(call, args.requests, concurrency)
                table[(name, concurrency)] = row
                print(
                    f"{name:<14} {concurrency:>4} {row['rps']:>8.0f} {row['p50_ms']:>8.2f} "
                    f"{row['p95_ms']:>8.2f} {row['errors']} {row['first_error'][:80]}"
                )
        for concurrency in args.concurrency:
            ours = table[("our client", concurrency)]["rps"]
            sdk = table[("official SDK", concurrency)]["rps"]
            encoding = table[("bare encoding", concurrency)]["rps"]
            prepared = table[("bare prepared", concurrency)]["rps"]
            print(
                f"concurrency {concurrency}: ours/SDK = {ours / sdk:.2f}x, "
                f"ours/bare encoding = {ours / encoding:.0%}, "
                f"ours/bare prepared = {ours / prepared:.0%}"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
