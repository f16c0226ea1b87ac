"""Load generator (its own process): N keep-alive clients hammer one operation for a fixed time.

    python bench/load.py --urls URL[,URL...] --op token|read --clients N --seconds S \\
        --client-id ID --client-secret SECRET [--token TOKEN] [--processes P]

Client i talks to URL i mod len(URLs) (two replicas: half the clients each, as a load balancer
would spread them). Each client is a thread with one `http.client` keep-alive connection, the
cheapest client the standard library has (a fifth of the CPU of a `requests` session per call),
so on a machine the servers share the generator takes as little of it as it can; `--processes`
spreads the threads over several processes. Prints one JSON line: requests, errors (any status
but 200, or a connection failure, by kind), requests per second, p50 and p99 latency in ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import statistics
import threading
import time
from collections import Counter
from multiprocessing import Pool
from urllib.parse import urlsplit


def client(url: str, args: argparse.Namespace, deadline: float, out: list[float], errors: Counter[str]) -> None:
    """Send requests on one connection until `deadline`; a failed connection is counted and opened again."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    if args.op == "token":
        fields = {"grant_type": "client_credentials", "client_id": args.client_id, "client_secret": args.client_secret}
        method, path, body = "POST", "/v1/oauth/token", json.dumps(fields).encode()
        headers = {"Content-Type": "application/json"}
    else:
        method, path, body = "GET", "/v1/data/employees", None
        headers = {"Authorization": f"Bearer {args.token}"}
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            conn.close()  # the next request opens a new connection
        out.append(time.perf_counter() - start)
        if status != "200":
            errors[status] += 1
    conn.close()


def run(args: argparse.Namespace, indexes: list[int], deadline: float) -> tuple[list[float], Counter[str]]:
    """Clients `indexes` as threads of this process: every latency in seconds, and the errors."""
    urls = args.urls.split(",")
    latencies: list[list[float]] = [[] for _ in indexes]
    errors: list[Counter[str]] = [Counter() for _ in indexes]
    threads = [
        threading.Thread(target=client, args=(urls[i % len(urls)], args, deadline, latencies[n], errors[n]))
        for n, i in enumerate(indexes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [x for per_client in latencies for x in per_client], sum(errors, Counter())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", required=True)
    parser.add_argument("--op", choices=("token", "read"), required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--client-id", default="")
    parser.add_argument("--client-secret", default="")
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    processes = max(1, min(args.processes, args.clients))
    shares = [list(range(args.clients))[p::processes] for p in range(processes)]
    start = time.monotonic()
    deadline = start + args.seconds
    if processes == 1:
        results = [run(args, shares[0], deadline)]
    else:
        with Pool(processes) as pool:
            results = pool.starmap(run, [(args, share, deadline) for share in shares])
    elapsed = time.monotonic() - start
    every = sorted(x for latencies, _ in results for x in latencies)
    errors = sum((errors for _, errors in results), Counter())
    result = {
        "requests": len(every),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "per_second": len(every) / elapsed,
        "p50_ms": statistics.median(every) * 1000 if every else 0.0,
        "p99_ms": every[math.ceil(len(every) * 0.99) - 1] * 1000 if every else 0.0,  # nearest rank
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
