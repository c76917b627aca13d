#!/usr/bin/env python3
"""The whole pipeline against the resize-only ceiling, in one run (bench/pipeline starts the
broker and database and calls this).

Images: the corpus files of 0.2-1 MP, two JPEGs for each PNG, served by nginx (listen backlog
1024, connections kept alive, as a supplier's CDN serves them; `--image-server python` uses
deploy/local/image_server.py instead); each image of a job has its own URL (a query string), so every one is
downloaded and halved. The ceiling: `resizer halve` over the same images, one process per core.
Then, with the four programs running: a 10-image job on the idle system (upload to `completed`),
several 300-image jobs at once, and one big job. Every job's status and output CSV are checked
(all rows, every image) before a figure is printed. CPU seconds come from /proc (each process tree,
children that exited included), statements from pg_stat_statements, AMQP messages from RabbitMQ's
management API.
"""
import argparse
import concurrent.futures
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy", "local"))
from chaos import SERVICES, free_port, http, psql, service_environment, wait_until_healthy  # noqa: E402  (the fault run's helpers)

TICKS = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] bench: {message}", file=sys.stderr, flush=True)


def product_images(corpus):
    """Corpus files of 0.2-1 MP, in a cycle of two JPEGs for each PNG."""
    jpegs, pngs = [], []
    with open(os.path.join(corpus, "manifest.tsv")) as manifest:
        for row in csv.DictReader(manifest, delimiter="\t"):
            if 0.2 <= float(row["megapixels"]) <= 1.0:
                (jpegs if row["format"] == "JPEG" else pngs if row["format"] == "PNG" else []).append(row["file"])
    cycle = []
    for index in range(max(len(jpegs) // 2, len(pngs))):
        cycle += [jpegs[(2 * index) % len(jpegs)], jpegs[(2 * index + 1) % len(jpegs)], pngs[index % len(pngs)]]
    return cycle


def process_tree_cpu(pid):
    """CPU seconds of a process, its reaped children and its living descendants."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += sum(int(fields[index]) for index in (11, 12, 13, 14)) / TICKS
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            for child in children.read().split():
                total += process_tree_cpu(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


class Meter:
    """CPU seconds of each part of the system, database statements and AMQP messages."""

    def __init__(self, pids, pg_port, management):
        self.pids, self.pg_port, self.management = pids, pg_port, management

    def sample(self):
        cpu = {name: sum(process_tree_cpu(pid) for pid in pids()) for name, pids in self.pids.items()}
        statements = int(psql(self.pg_port, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                                            "WHERE query NOT LIKE '%pg_stat_statements%'")[0][0])
        request = urllib.request.Request(self.management + "api/overview", headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="})  # guest:guest
        overview = json.loads(urllib.request.urlopen(request, timeout=10).read())
        stats = overview.get("message_stats", {})
        messages = stats.get("publish", 0) + stats.get("deliver_get", 0)
        return {"cpu": cpu, "statements": statements, "messages": messages}



def start_image_server(kind, corpus, directory):
    """The image server and its port: nginx (a CDN's stand-in, light on the CPU the pipeline
    shares with it) or the tests' Python server."""
    if kind == "python":
        server = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "..", "deploy", "local", "image_server.py"),
                                   "--corpus", corpus, "--exit-with-stdin", "--keep-alive"], stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        return server, int(server.stdout.readline())
    port = free_port()
    prefix = os.path.join(directory, "nginx")
    os.makedirs(prefix, exist_ok=True)
    with open(os.path.join(prefix, "nginx.conf"), "w") as conf:
        conf.write(f"""daemon off; worker_processes 1; pid {prefix}/nginx.pid; error_log {prefix}/error.log; user root;
events {{ worker_connections 4096; }}
http {{
    access_log off; sendfile on; keepalive_requests 1000000; types {{ image/jpeg jpg; image/png png; }}
    client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy; fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
    server {{ listen 127.0.0.1:{port} backlog=1024; location /ok/ {{ alias {os.path.abspath(corpus)}/; }} }}
}}
""")
    server = subprocess.Popen(["nginx", "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"), "-e", os.path.join(prefix, "error.log")],
                              stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            if http(f"http://127.0.0.1:{port}/ok/missing", timeout=1)[0] == 404:
                return server, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("bench: nginx did not start")


def ceiling(resizer, corpus, files, processes, files_dir):
    """Images/s of `resizer halve` over `files`, split over `processes` processes at once, writing
    where the pipeline keeps its files."""
    with tempfile.TemporaryDirectory(dir=files_dir) as out:
        shares = [files[index::processes] for index in range(processes)]
        started = time.monotonic()
        running = [subprocess.Popen([resizer, "halve", "--out", os.path.join(out, str(index))] + [os.path.join(corpus, f) for f in share],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for index, share in enumerate(shares)]
        for process in running:
            if process.wait() != 0:
                raise SystemExit("bench: resizer halve failed")
        return len(files) / (time.monotonic() - started)


class Pipeline:
    def __init__(self, public, image_base, cycle):
        self.public, self.image_base, self.cycle = public, image_base, cycle

    def csv_for(self, tag, count):
        lines = ["S. No.,Product Name,Input Image Urls"]
        for row in range(1, count + 1):
            lines.append(f"{row},Product {row},{self.image_base}/ok/{self.cycle[row % len(self.cycle)]}?i={tag}-{row}")
        return ("\n".join(lines) + "\n").encode()

    def submit(self, tag, count):
        body = self.csv_for(tag, count)
        started = time.monotonic()
        code, answer = http(f"{self.public}/api/v1/jobs", body, "text/csv")
        elapsed = time.monotonic() - started
        if code != 202:
            raise SystemExit(f"bench: upload answered {code}: {answer[:300]!r}")
        return json.loads(answer)["reference"], elapsed

    def status(self, reference):
        started = time.monotonic()
        code, body = http(f"{self.public}/api/v1/jobs/{reference}")
        return json.loads(body), time.monotonic() - started

    def wait(self, reference, poll=0.05, timeout=1800):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report, _ = self.status(reference)
            if report["status"] in ("completed", "completed_with_errors", "failed"):
                return report, time.monotonic()
            time.sleep(poll)
        raise SystemExit(f"bench: job {reference} did not finish in {timeout} s")

    def verify(self, reference, count, report):
        """Every row back, every image halved and served."""
        problems = []
        if report["status"] != "completed" or report["images"]["resized"] != count:
            problems.append(f"status {report['status']}, {report['images']}")
        code, body = http(report.get("output_csv_url") or f"{self.public}/api/v1/jobs/{reference}/output.csv")
        rows = list(csv.reader(io.StringIO(body.decode())))[1:] if code == 200 else []
        with_image = [row for row in rows if row[-1].startswith(f"{self.public}/images/{reference}/")]
        if len(rows) != count or len(with_image) != count:
            problems.append(f"output CSV: {len(rows)} rows, {len(with_image)} with an image, want {count}")
        # Every image of a small job, a sample of a big one, fetched.
        for row in with_image[:: max(1, count // 300)]:
            if http(row[-1])[0] != 200:
                problems.append(f"{row[-1]} is not served")
                break
        if problems:
            raise SystemExit(f"bench: job {reference} is wrong: {'; '.join(problems)}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--amqp-port", type=int, required=True)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--management-port", type=int, required=True)
    parser.add_argument("--small-jobs", type=int, default=4)
    parser.add_argument("--small-size", type=int, default=300)
    parser.add_argument("--big-size", type=int, default=10_000)
    parser.add_argument("--image-server", choices=["nginx", "python"], default="nginx")
    parser.add_argument("--files", required=True, help="where the pipeline's store and the ceiling's outputs are written")
    parser.add_argument("--rabbitmq-pid", type=int, required=True)
    parser.add_argument("--postgres-pid", type=int, required=True)
    arguments = parser.parse_args()
    cores = os.cpu_count()
    cycle = product_images(arguments.corpus)
    resizer = os.path.join(arguments.bin, "resizer")

    server, image_port = start_image_server(arguments.image_server, arguments.corpus, arguments.dir)
    http_port = free_port()
    public = f"http://127.0.0.1:{http_port}"
    environment = service_environment(arguments.amqp_port, arguments.pg_port, os.path.join(arguments.files, "store"), http_port,
                                      HALFSIZE_RABBITMQ_MANAGEMENT_URL=f"http://guest:guest@127.0.0.1:{arguments.management_port}/",
                                      HALFSIZE_LOG_LEVEL="warning", HALFSIZE_MAX_UPLOAD_BYTES=str(64 << 20))
    logs = os.path.join(arguments.dir, "logs")
    os.makedirs(logs, exist_ok=True)
    services = {name: subprocess.Popen([os.path.join(arguments.bin, name)], env=environment, stdin=subprocess.DEVNULL,
                                       stdout=open(os.path.join(logs, f"{name}.log"), "wb"), stderr=subprocess.STDOUT) for name in SERVICES}
    pids = {name: (lambda process=process: [process.pid]) for name, process in services.items()}
    pids["RabbitMQ"] = lambda: [arguments.rabbitmq_pid]
    pids["PostgreSQL"] = lambda: [arguments.postgres_pid]
    pids["image server"] = lambda: [server.pid]
    meter = Meter(pids, arguments.pg_port, f"http://127.0.0.1:{arguments.management_port}/")
    try:
        wait_until_healthy(public)
        time.sleep(2)  # the workers connect on their own
        pipeline = Pipeline(public, f"http://127.0.0.1:{image_port}", cycle)
        results = {}

        small_total = arguments.small_jobs * arguments.small_size
        small_files = [cycle[row % len(cycle)] for _ in range(arguments.small_jobs) for row in range(1, arguments.small_size + 1)]
        log(f"ceiling: resizer halve over the {small_total} images, {cores} processes")
        results["ceiling"] = ceiling(resizer, arguments.corpus, small_files, cores, arguments.files)

        latencies = []
        for attempt in range(5):
            started = time.monotonic()
            reference, _ = pipeline.submit(f"idle{attempt}", 10)
            report, finished = pipeline.wait(reference, poll=0.005)
            pipeline.verify(reference, 10, report)
            latencies.append(finished - started)
            time.sleep(0.5)
        results["ten"] = statistics.median(latencies)
        log(f"10-image job on an idle system: {results['ten'] * 1000:.0f} ms (median of 5)")

        def phase(name, jobs, size):
            time.sleep(3)  # the management API's counters settle (1 s statistics interval)
            before = meter.sample()
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                submitted = list(pool.map(lambda index: pipeline.submit(f"{name}{index}", size), range(jobs)))
            status_times = []
            if jobs == 1:
                # Status requests on the big job while it runs.
                reference = submitted[0][0]
                while True:
                    report, elapsed = pipeline.status(reference)
                    status_times.append(elapsed)
                    if report["status"] in ("completed", "completed_with_errors", "failed"):
                        break
                    time.sleep(0.2)
            finished = [pipeline.wait(reference) for reference, _ in submitted]
            elapsed = max(at for _, at in finished) - started
            time.sleep(3)
            after = meter.sample()
            for (reference, _), (report, _) in zip(submitted, finished):
                pipeline.verify(reference, size, report)
            images = jobs * size
            return {"images": images, "rate": images / elapsed, "seconds": elapsed,
                    "upload": max(upload for _, upload in submitted), "status": status_times,
                    "cpu": {key: after["cpu"][key] - before["cpu"][key] for key in after["cpu"]},
                    "statements": (after["statements"] - before["statements"]) / images,
                    "messages": (after["messages"] - before["messages"]) / images}

        log(f"{arguments.small_jobs} jobs of {arguments.small_size} images at once")
        results["small"] = phase("small", arguments.small_jobs, arguments.small_size)
        log(f"one job of {arguments.big_size} images")
        results["big"] = phase("big", 1, arguments.big_size)
        results["statements"] = psql(arguments.pg_port, """
            SELECT round(total_exec_time::numeric), calls, regexp_replace(left(query, 90), '\\s+', ' ', 'g')
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 6""")
        print_report(results, arguments, cores)
    finally:
        for process in services.values():
            process.terminate()
        for process in services.values():
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
        server.terminate()
        server.wait(timeout=10)


def print_report(results, arguments, cores):
    ceiling_rate = results["ceiling"]
    small, big = results["small"], results["big"]
    print(f"\npipeline benchmark: {cores} cores; images 0.2-1 MP from {arguments.corpus} (2 JPEG : 1 PNG), each its own URL, "
          f"served by {arguments.image_server}")
    print(f"files in {arguments.files}; resize-only ceiling (resizer halve, {cores} processes): {ceiling_rate:.1f} images/s\n")
    print(f"{'':34}{'small jobs':>16}{'big job':>16}")
    print(f"{'jobs x images':34}{f'{arguments.small_jobs} x {arguments.small_size}':>16}{f'1 x {arguments.big_size}':>16}")
    print(f"{'end to end, images/s':34}{small['rate']:>16.1f}{big['rate']:>16.1f}")
    print(f"{'ceiling, images/s':34}{ceiling_rate:>16.1f}{ceiling_rate:>16.1f}")
    print(f"{'ratio to the ceiling':34}{small['rate'] / ceiling_rate:>16.2f}{big['rate'] / ceiling_rate:>16.2f}")
    print(f"{'upload answered in, s':34}{small['upload']:>16.2f}{big['upload']:>16.2f}")
    print(f"{'database statements / image':34}{small['statements']:>16.1f}{big['statements']:>16.1f}")
    print(f"{'AMQP messages / image':34}{small['messages']:>16.1f}{big['messages']:>16.1f}")
    print("CPU seconds (ms per image):")
    for name in small["cpu"]:
        cells = [f"{phase['cpu'][name]:.1f} ({phase['cpu'][name] * 1000 / phase['images']:.2f})" for phase in (small, big)]
        print(f"  {name:32}{cells[0]:>16}{cells[1]:>16}")
    if big["status"]:
        times = sorted(big["status"])
        print(f"status request on the big job while it runs: median {statistics.median(times) * 1000:.1f} ms, "
              f"max {times[-1] * 1000:.1f} ms ({len(times)} requests)")
    print(f"10-image job, upload to completed, idle system: {results['ten'] * 1000:.0f} ms (median of 5)")
    print("database time by statement, whole run (ms, calls, statement):")
    for total, calls, query in results["statements"]:
        print(f"  {total:>8} {calls:>8}  {query}")


if __name__ == "__main__":
    main()
