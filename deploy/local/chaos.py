#!/usr/bin/env python3
"""The orchestrator behind deploy/local/chaos: supervises the four services (restarting any that
dies, as systemd or Kubernetes would), submits jobs of good, flaky and broken image URLs, breaks
the services, the broker and the database on a schedule, waits for every job to finish, and audits
the database and the output CSVs."""
import argparse
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

SERVICES = ["ingest", "downloader", "resizer", "csv-writer"]
# Small, product-sized corpus images: the point is the faults, not the pixels.
FILES = ["j20_squirrel_0.2mp.jpg", "j22_product_brushes_600.jpg", "j21_product_fig_1000.jpg", "p03_photo_fruits_512.png",
         "j17_donna_0.4mp.jpg", "j16_building_0.5mp.jpg", "p12_diagram_palette.png", "j15_ela_0.7mp.jpg"]
# What each kind of URL must end as: resized, or failed with this code.
KINDS = [("ok", None)] * 12 + [("flaky", None), ("unavailable", None), ("throttle", None), ("reset", None), ("slowstart", None),
                               ("missing", "http_status"), ("forbidden", "http_status"), ("text", "unsupported_format")]


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] chaos: {message}", file=sys.stderr, flush=True)


class Supervisor:
    """Keeps one process per service running; kill() is a crash, the next one starts 0.5 s later."""

    def __init__(self, bin_dir, environment, log_dir):
        self.bin_dir, self.environment, self.log_dir = bin_dir, environment, log_dir
        self.processes, self.kills, self.stopping = {}, {name: 0 for name in SERVICES}, False
        self.lock = threading.Lock()
        for name in SERVICES:
            threading.Thread(target=self.keep, args=(name,), daemon=True).start()

    def keep(self, name):
        while not self.stopping:
            with open(os.path.join(self.log_dir, f"{name}.log"), "ab") as output:
                process = subprocess.Popen([os.path.join(self.bin_dir, name)], env=self.environment, stdout=output,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                with self.lock:
                    self.processes[name] = process
                process.wait()
            time.sleep(0.5)

    def kill(self, name):
        with self.lock:
            process = self.processes.get(name)
        if process and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            self.kills[name] += 1
            log(f"killed {name} (pid {process.pid}) with SIGKILL")

    def stop(self):
        self.stopping = True
        with self.lock:
            running = list(self.processes.values())
        for process in running:
            if process.poll() is None:
                process.terminate()
        for process in running:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()


def shell(command):
    subprocess.run(["bash", "-c", command], check=True)


def http(url, body=None, content_type=None, timeout=30):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if content_type else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_environment(amqp_port, pg_port, data_dir, http_port, **settings):
    """What the four programs are started with: this broker, database, data directory and HTTP
    port, private image servers allowed, and `settings` (HALFSIZE_* names)."""
    return dict(os.environ,
                HALFSIZE_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{amqp_port}/",
                HALFSIZE_DATABASE_URL=f"postgresql://halfsize@127.0.0.1:{pg_port}/halfsize",
                HALFSIZE_DATA_DIR=data_dir, HALFSIZE_HTTP_ADDR=f"127.0.0.1:{http_port}",
                HALFSIZE_PUBLIC_URL=f"http://127.0.0.1:{http_port}", HALFSIZE_ALLOW_PRIVATE_NETWORKS="true", **settings)


def wait_until_healthy(public, seconds=120):
    """Waits for ingest's /healthz (broker and database reachable) to answer 200."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if http(f"{public}/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("ingest never became healthy")


def psql(port, sql):
    output = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "halfsize", "-d", "halfsize", "-AtF", "\t", "-c", sql],
                            check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in output.splitlines() if line]


def main():
    parser = argparse.ArgumentParser()
    for name in ["bin", "dir", "corpus"]:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--amqp-port", type=int, required=True)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--short", action="store_true")
    arguments = parser.parse_args()
    jobs, images_per_job = (3, 20) if arguments.short else (20, 100)
    outage = 20 if arguments.short else 90
    rounds = 1 if arguments.short else 3

    log_dir = os.path.join(arguments.dir, "logs")
    os.makedirs(log_dir, exist_ok=True)
    server = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "image_server.py"), "--corpus", arguments.corpus,
                               "--exit-with-stdin"], stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    image_port = int(server.stdout.readline())
    http_port = free_port()
    public = f"http://127.0.0.1:{http_port}"
    environment = service_environment(arguments.amqp_port, arguments.pg_port, os.path.join(arguments.dir, "files"), http_port,
                                      HALFSIZE_CONCURRENCY="2", HALFSIZE_RELAY_AFTER="5", HALFSIZE_REAP_AFTER="120",
                                      HALFSIZE_LOG_LEVEL="notice")
    supervisor = Supervisor(arguments.bin, environment, log_dir)
    try:
        wait_until_healthy(public)
        time.sleep(1)

        # Jobs: every row one URL; kinds and files cycle so each job has some of every kind.
        expected, references = {}, []
        for job in range(jobs):
            rows = ["S. No.,Product Name,Input Image Urls"]
            for row in range(images_per_job):
                kind, failure = KINDS[(job + row) % len(KINDS)]
                file = FILES[row % len(FILES)]
                key = f"{os.getpid()}-{job}-{row}"
                path = {"ok": f"ok/{file}", "slowstart": f"slowstart/{file}", "missing": f"missing/{key}.jpg",
                        "forbidden": f"forbidden/{key}.jpg", "text": f"text/{key}.jpg"}.get(kind, f"{kind}/{key}/{file}")
                rows.append(f"{row + 1},Product {job}-{row},http://127.0.0.1:{image_port}/{path}")
                expected[(job, row + 2)] = failure
            status, body = http(f"{public}/api/v1/jobs", "\n".join(rows).encode() + b"\n", "text/csv")
            if status != 202:
                raise SystemExit(f"chaos: upload {job} answered {status}: {body[:300]!r}")
            references.append(json.loads(body)["reference"])
        log(f"submitted {jobs} jobs of {images_per_job} images")

        # The faults. Each round kills every service once; the broker dies in the first round, the
        # database goes away after it, and the later rounds happen during and after the outage.
        def kill_round(pause):
            for name in SERVICES:
                supervisor.kill(name)
                time.sleep(pause)

        kill_round(1.0)
        log("killing the broker")
        shell(os.environ["CHAOS_KILL_BROKER"])
        time.sleep(3)
        shell(os.environ["CHAOS_START_BROKER"] + " >/dev/null 2>&1")
        log("broker is back")
        time.sleep(2)
        log(f"stopping PostgreSQL for {outage} s")
        shell(os.environ["CHAOS_STOP_DATABASE"])
        outage_end = time.time() + outage
        if rounds > 1:
            time.sleep(outage / 3)
            kill_round(2.0)
        time.sleep(max(0, outage_end - time.time()))
        shell(os.environ["CHAOS_START_DATABASE"] + " >/dev/null 2>&1")
        log("PostgreSQL is back")
        for _ in range(rounds - 2):
            time.sleep(5)
            kill_round(2.0)

        # Wait for every job to end.
        deadline = time.time() + (300 if arguments.short else 900)
        pending = set(references)
        while pending and time.time() < deadline:
            for reference in list(pending):
                try:
                    status, body = http(f"{public}/api/v1/jobs/{reference}", timeout=5)
                    if status == 200 and json.loads(body)["status"] in ("completed", "completed_with_errors", "failed"):
                        pending.discard(reference)
                except OSError:
                    pass
            time.sleep(1)
        log(f"{len(references) - len(pending)} of {len(references)} jobs finished")

        # The audit.
        lost = duplicated = stuck = 0
        job_ids = {row[1]: (int(row[0]), row[2]) for row in psql(arguments.pg_port, "SELECT id, reference, status FROM jobs")}
        total = 0
        for index, reference in enumerate(references):
            job_id, job_status = job_ids[reference]
            items = psql(arguments.pg_port, f"SELECT id, row_number, status, coalesce(error_code, '') FROM items WHERE job_id = {job_id}")
            total += len(items)
            if job_status not in ("completed", "completed_with_errors", "failed"):
                stuck += len(items)  # a job that never finished delivers none of its images
                continue
            for item_id, row, status, code in items:
                want = expected[(index, int(row))]
                if status in ("pending", "downloaded"):
                    stuck += 1
                elif want is None and status != "resized":
                    lost += 1
                    log(f"lost: job {reference} row {row} should be resized, is {status} {code}")
                elif want is not None and (status != "failed" or code != want):
                    lost += 1
                    log(f"wrong: job {reference} row {row} should fail with {want}, is {status} {code}")
            settled_twice = psql(arguments.pg_port, f"""SELECT item_id FROM events WHERE job_id = {job_id} AND item_id IS NOT NULL
                                                      AND status IN ('downloaded', 'resized', 'failed')
                                                      GROUP BY item_id, status HAVING count(*) > 1""")
            duplicated += len(settled_twice)
            status, body = http(f"{public}/api/v1/jobs/{reference}/output.csv")
            records = list(csv.reader(io.StringIO(body.decode()))) if status == 200 else []
            data_rows = [record[0] for record in records[1:]]
            if len(data_rows) < images_per_job:
                lost += images_per_job - len(data_rows)
                log(f"lost: output of {reference} has {len(data_rows)} rows")
            duplicated += len(data_rows) - len(set(data_rows))
            for record in records[1:]:
                row = int(record[0]) + 1
                has_output = record[-1] != ""
                if has_output != (expected[(index, row)] is None):
                    lost += 1
                    log(f"lost: output of {reference} row {row}: {record[-1]!r}")
        retried_downloads = int(psql(arguments.pg_port, "SELECT count(*) FROM events WHERE status = 'retrying'")[0][0])
        retried_ours = sum(open(os.path.join(log_dir, f"{name}.log"), errors="replace").read().count("retrying through a delay queue")
                           for name in SERVICES)
        dead = int(psql(arguments.pg_port, "SELECT count(*) FROM items WHERE error_code = 'dead_lettered'")[0][0])
        log(f"kills: {supervisor.kills}; supplier retries {retried_downloads}, retries of our faults {retried_ours}")
        print(f"images={total} lost={lost} duplicated={duplicated} stuck={stuck} retried={retried_downloads + retried_ours} dead_lettered={dead}",
              flush=True)
        return 1 if lost or duplicated or stuck else 0
    finally:
        supervisor.stop()
        server.terminate()


if __name__ == "__main__":
    sys.exit(main())
