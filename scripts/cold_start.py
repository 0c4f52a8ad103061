#!/usr/bin/env python3
"""Cold-start bench: every release function, its size, init and invocation times.

Run `make bench-cold-start` (it builds with `make package` first). For each function in
target/lambda/<name>/bootstrap it prints:

- size: the stripped binary, and the zip Lambda would receive;
- init: from process start to the function's first `GET /runtime/invocation/next` (what
  Lambda reports as "Init Duration"), measured by a Runtime API served here;
- first: the first invocation, from the event handed over to the response (Lambda's
  "Duration" of a cold invocation);
- warm: the median of the next invocations;
- rss: the process's peak resident memory;
- emulator: the same function started under `cargo lambda watch --only-lambda-apis` (the
  local Lambda emulator) and invoked through its invoke API: cold (start to first response,
  as a caller sees it) and warm median.

The release binaries have only the AWS backend (as on Lambda), so they run against a moto
server this script starts and provisions (`haven-admin provision`), with their sample event
from events/. Init is therefore the real one (SDK configuration, clients, settings). Most
sample events carry no valid token, so an HTTP function answers 401/403 after parsing and
authorising without calling AWS; functions that do call AWS (health, workers) include moto's
latency, which is far above DynamoDB's. Needs the standard library, and the venv's
cargo-lambda and moto.
"""

import argparse
import http.server
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM = 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RuntimeApi:
    """The Lambda Runtime API (2018-06-01), enough to time one function at a time."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.first_next = None
        self.handed_at = {}
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"{}", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self._reply(404)
                now = time.perf_counter()
                if api.first_next is None:
                    api.first_next = now
                request_id, body = api.events.get()
                api.handed_at[request_id] = time.perf_counter()
                deadline = int((time.time() + 30) * 1000)
                self._reply(
                    200,
                    body,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:bench",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                        "Content-Type": "application/json",
                    },
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                now = time.perf_counter()
                parts = self.path.split("/")
                if "invocation" in parts:
                    request_id = parts[parts.index("invocation") + 1]
                    ok = parts[-1] == "response"
                    self._reply(202)
                    api.responses.put((request_id, ok, now, body))
                else:  # init/error
                    self._reply(202)
                    api.responses.put((None, False, now, body))

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a killed function's connection resets; nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, request_id, body, timeout=30):
        self.events.put((request_id, body))
        rid, ok, at, payload = self.responses.get(timeout=timeout)
        if rid is None:
            raise RuntimeError(f"init error: {payload[:300]!r}")
        if not ok:
            raise RuntimeError(f"invocation error: {payload[:300]!r}")
        return at - self.handed_at[rid]


def peak_rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


AWS_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_EC2_METADATA_DISABLED": "true",
    "HAVEN_BACKEND": "aws",
}


def function_env(name, data_dir, runtime_api):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": data_dir,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_ENDPOINT_URL": ENDPOINT[0],
        "HAVEN_STAGE": "bench",
        "RUST_LOG": "warn",
        **AWS_ENV,
    }
    return env


ENDPOINT = [""]


def start_moto():
    out = subprocess.run([str(ROOT / "scripts" / "moto.sh")], capture_output=True, text=True, check=True)
    pid, url = out.stdout.split()
    env = {**os.environ, **AWS_ENV, "AWS_ENDPOINT_URL": url}
    # The stack as a deployment has it: tables, queues, topics, keys, and a token-signing key
    # (otherwise every token check would look for one in the table).
    for command in ["provision", "rotate-signing-key"]:
        subprocess.run(
            ["cargo", "run", "--quiet", "-p", "haven-local", "--bin", "haven-admin", "--", command],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return int(pid), url


def zipped_size(binary):
    with tempfile.TemporaryDirectory() as d:
        z = Path(d) / "f.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
            f.write(binary, "bootstrap")
        return z.stat().st_size


def bench_own_api(name, binary, event):
    # A Runtime API of its own per function: a killed process leaves a server thread blocked
    # in its `next`, which must not take the next function's event.
    api = RuntimeApi()
    try:
        return run_on_api(api, name, binary, event)
    finally:
        api.server.shutdown()


def run_on_api(api, name, binary, event):
    with tempfile.TemporaryDirectory() as data_dir:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(binary)],
            env=function_env(name, data_dir, f"127.0.0.1:{api.port}"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            first = api.invoke("cold-0", event)
            init = api.first_next - t0
            warm = [api.invoke(f"warm-{i}", event) for i in range(WARM)]
            rss = peak_rss_mb(proc.pid)
        except Exception as e:
            proc.kill()
            _, err = proc.communicate()
            raise RuntimeError(f"{name}: {e!r}; its stderr: {err.decode(errors='replace')[-1500:]}") from e
        proc.kill()
        proc.communicate()
        return init, first, statistics.median(warm), rss


def bench_emulator(name, binary, event):
    """Under cargo lambda's emulator: start to first response, and the warm median. A fresh
    emulator per function, for the same reason as a fresh Runtime API."""
    port = free_port()
    emulator = start_emulator(port)
    # `--only-lambda-apis` serves one function, named `_`.
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/_/invocations"

    def call():
        req = urllib.request.Request(url, data=event, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    with tempfile.TemporaryDirectory() as data_dir:
        env = function_env(name, data_dir, f"http://127.0.0.1:{port}/.rt")
        env["AWS_LAMBDA_FUNCTION_NAME"] = "_"
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            call()
            cold = time.perf_counter() - t0
            warm = []
            for _ in range(WARM):
                t = time.perf_counter()
                call()
                warm.append(time.perf_counter() - t)
        finally:
            proc.kill()
            proc.wait()
            emulator.kill()
            emulator.wait()
    return cold, statistics.median(warm)


def start_emulator(port):
    cargo_lambda = ROOT / ".venv" / "bin" / "cargo-lambda"
    proc = subprocess.Popen(
        [str(cargo_lambda), "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("cargo lambda watch did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lambda-dir", default=str(ROOT / "target" / "lambda"))
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--no-emulator", action="store_true", help="skip the cargo lambda pass")
    parser.add_argument("functions", nargs="*", help="only these functions")
    args = parser.parse_args()

    lambda_dir = Path(args.lambda_dir)
    names = sorted(p.name for p in lambda_dir.iterdir() if (p / "bootstrap").is_file()) if lambda_dir.is_dir() else []
    if args.functions:
        names = [n for n in names if n in args.functions]
    if not names:
        sys.exit(f"no functions under {lambda_dir}: run `make package` first")

    moto_pid, ENDPOINT[0] = start_moto()
    rows = []
    try:
        print(f"{'function':28} {'size MB':>8} {'zip MB':>7} {'init ms':>8} {'first ms':>9} {'warm ms':>8} {'rss MB':>7} {'emu cold':>9} {'emu warm':>9}")
        for name in names:
            binary = lambda_dir / name / "bootstrap"
            event = (ROOT / "events" / f"{name}.json").read_bytes()
            size = binary.stat().st_size
            zsize = zipped_size(binary)
            init, first, warm, rss = bench_own_api(name, binary, event)
            emu_cold = emu_warm = float("nan")
            if not args.no_emulator:
                emu_cold, emu_warm = bench_emulator(name, binary, event)
            row = {
                "function": name,
                "size_bytes": size,
                "zip_bytes": zsize,
                "init_ms": init * 1000,
                "first_ms": first * 1000,
                "warm_ms": warm * 1000,
                "peak_rss_mb": rss,
                "emulator_cold_ms": emu_cold * 1000,
                "emulator_warm_ms": emu_warm * 1000,
            }
            rows.append(row)
            print(
                f"{name:28} {size / 1e6:8.2f} {zsize / 1e6:7.2f} {row['init_ms']:8.2f} {row['first_ms']:9.2f} "
                f"{row['warm_ms']:8.3f} {rss:7.1f} {row['emulator_cold_ms']:9.1f} {row['emulator_warm_ms']:9.2f}",
                flush=True,
            )
    finally:
        os.kill(moto_pid, 15)

    def summary(key):
        values = [r[key] for r in rows]
        return min(values), statistics.median(values), max(values)

    print()
    for key, label in [
        ("size_bytes", "size (bytes)"),
        ("init_ms", "init (ms)"),
        ("first_ms", "first invocation (ms)"),
        ("warm_ms", "warm invocation (ms)"),
        ("peak_rss_mb", "peak RSS (MB)"),
        ("emulator_cold_ms", "emulator cold (ms)"),
        ("emulator_warm_ms", "emulator warm (ms)"),
    ]:
        lo, mid, hi = summary(key)
        print(f"{label:24} min {lo:12.3f}  median {mid:12.3f}  max {hi:12.3f}")
    largest = max(rows, key=lambda r: r["size_bytes"])
    print(f"largest binary: {largest['function']} {largest['size_bytes'] / 1e6:.2f} MB (stripped)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
