#!/usr/bin/env python3
"""The load benchmark behind scripts/bench-http.sh: anshang's release binary under wrk, and in the
same run the baselines each figure is divided by:

- reads: actix-web's hello-world (benches/hello, same actix-web version, its own process, as many
  workers) answering a static body of the same size as the endpoint's answer;
- filing on PostgreSQL: pgbench running the rows of a filing as one transaction (3 inserts:
  complaint, audit event, outbox row; and 5 rows: the tracking counter, complaint, clock, event,
  outbox);
- filing on SQLite: the same transactions through Python's sqlite3 (WAL, synchronous=NORMAL, as
  anshang opens its database).

Prints markdown tables (rates, p50/p99, ratios). Run through scripts/bench-http.sh, which builds
the binaries; see docs/performance.md.
"""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANSHANG = os.environ.get("ANSHANG_BENCH_BIN") or os.path.join(ROOT, "target", "release", "anshang")
# The seeder's executable (scripts/bench-http.sh finds it); else run it through cargo.
SEEDER = os.environ.get("ANSHANG_BENCH_SEEDER")
HELLO = os.path.join(ROOT, "benches", "hello", "target", "release", "anshang-bench-hello")
PG_ADMIN = os.environ.get("ANSHANG_BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")
SERVICE_PORT = 18080
HELLO_PORT = 18081
WORKERS = os.cpu_count() or 2


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# wrk


def wrk(url, connections, seconds, script=None, headers=(), lua_env=None):
    """Runs wrk (2 threads) and returns {'rate', 'p50', 'p99', 'requests', 'bad'} (ms)."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    env = dict(os.environ, **(lua_env or {}))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    result = {"rate": rate, "p50": pct(50), "p99": pct(99), "requests": requests}
    result["bad"] = int(bad.group(1)) if bad else 0
    log(f"  {url}: {rate:,.0f}/s, p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, {result['bad']} non-2xx")
    if result["bad"] or errors:
        raise SystemExit(f"wrk {url}: {result['bad']} non-2xx answers; socket errors: {errors.group(1) if errors else 0}\n{out}")
    return result


FILING_LUA = r"""
-- One filing per request, each from its own investor (a new address, so no per-address email
-- budget is met): what many investors filing at once look like.
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("thread_id", math.random(1, 1000000000))
end
function request()
  counter = counter + 1
  local body = string.format([[{"complainant":{"type":"foreign_investor","name":"Bench Investor","company":"Bench GmbH","nationality":"DE","email":"bench-%d-%d@example.de","phone":"+49 30 1234567","language":"en"},"project":"New plant in the high-tech zone","matter_type":"administrative_act","subject":"Construction permit overdue","facts":"We applied for the construction permit in March with complete documents and have received neither a decision nor a request to complete the file. The statutory period has passed.","request":"A decision on the permit, or a written reason for the delay.","review_or_lawsuit":false,"confidential":false}]], thread_id, counter)
  return wrk.format("POST", "/api/v1/complaints", {["Content-Type"] = "application/json"}, body)
end
"""

PACED_LUA = r"""
-- A fixed offered load: each connection waits so that all of them together send RATE requests
-- per second (wrk's delay() hook; the wait does not count in the latency).
local connections = tonumber(os.getenv("PACED_CONNECTIONS"))
local rate = tonumber(os.getenv("PACED_RATE"))
function delay()
  return connections * 1000 / rate
end
"""


def write_lua(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------------------------
# processes


def wait_http(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def start_service(database_url, data_dir):
    env = dict(
        os.environ,
        ANSHANG__DATABASE__URL=database_url,
        ANSHANG__DATABASE__POOL_SIZE="16",
        ANSHANG__SERVER__PORT=str(SERVICE_PORT),
        ANSHANG__SERVER__DATA_DIR=data_dir,
        # One load generator stands for many investors: the per-client limits would answer 429
        # after the first few requests. Every limit is still checked (and on PostgreSQL counted
        # in the database), only with a budget the benchmark does not exhaust.
        ANSHANG__COMPLAINTS__FILINGS_PER_CLIENT_PER_HOUR="1000000000",
        ANSHANG__COMPLAINTS__TRACKING_LOOKUPS_PER_CLIENT_PER_MINUTE="1000000000",
        ANSHANG__AUTH__LOGIN_PER_CLIENT_PER_MINUTE="1000",
        ANSHANG__LOG__LEVEL="info",
    )
    log_file = open(os.path.join(data_dir, "service.log"), "w")
    proc = subprocess.Popen([ANSHANG, "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
    wait_http(f"http://127.0.0.1:{SERVICE_PORT}/readyz")
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()


def http_json(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        return json.loads(raw), len(raw)


def body_size(url, headers):
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        return len(r.read())


# ---------------------------------------------------------------------------------------------
# databases


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True, capture_output=True)


def pg_url(name):
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def fresh_pg(name):
    psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(PG_ADMIN, f"CREATE DATABASE {name}")
    return pg_url(name)


# The rows of a filing, shaped like anshang's (a 0.5 kB complaint with its indexed columns, a
# 0.3 kB audit event, a 2 kB receipt email), for both raw baselines.
BASELINE_TABLES = """
CREATE TABLE b_counter (year INTEGER PRIMARY KEY, last_seq BIGINT NOT NULL);
INSERT INTO b_counter VALUES (2026, 0);
CREATE TABLE b_complaints (id TEXT PRIMARY KEY, tracking_number TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    email TEXT NOT NULL, body TEXT NOT NULL, due_at TIMESTAMP, received_at TIMESTAMP NOT NULL);
CREATE INDEX b_complaints_due ON b_complaints (due_at);
CREATE TABLE b_clocks (id TEXT PRIMARY KEY, complaint_id TEXT NOT NULL REFERENCES b_complaints (id),
    due_at TIMESTAMP NOT NULL, next_step_at TIMESTAMP);
CREATE INDEX b_clocks_next ON b_clocks (next_step_at);
CREATE TABLE b_events (id TEXT PRIMARY KEY, complaint_id TEXT NOT NULL REFERENCES b_complaints (id), seq INTEGER NOT NULL,
    detail TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (complaint_id, seq));
CREATE TABLE b_outbox (id TEXT PRIMARY KEY, complaint_id TEXT, recipient TEXT NOT NULL, body TEXT NOT NULL,
    status TEXT NOT NULL, next_attempt_at TIMESTAMP NOT NULL);
CREATE INDEX b_outbox_pending ON b_outbox (status, next_attempt_at);
"""

PGBENCH_THREE = """\\set n random(1, 1000000000)
BEGIN;
INSERT INTO b_complaints VALUES ('c-' || :n || '-' || :client_id || '-' || txid_current(), 'T-' || txid_current(), 'received', 'investor@example.de', repeat('x', 500), now() + interval '9 days', now());
INSERT INTO b_events VALUES (gen_random_uuid()::text, 'c-' || :n || '-' || :client_id || '-' || txid_current(), 1, repeat('d', 300), md5(random()::text));
INSERT INTO b_outbox VALUES (gen_random_uuid()::text, 'c-' || :n || '-' || :client_id || '-' || txid_current(), 'investor@example.de', repeat('m', 2000), 'pending', now());
COMMIT;
"""

PGBENCH_FIVE = """\\set n random(1, 1000000000)
BEGIN;
UPDATE b_counter SET last_seq = last_seq + 1 WHERE year = 2026 RETURNING last_seq AS seq \\gset
INSERT INTO b_complaints VALUES ('c-' || :n || '-' || :client_id || '-' || txid_current(), 'T-2026-' || :seq, 'received', 'investor@example.de', repeat('x', 500), now() + interval '9 days', now());
INSERT INTO b_clocks VALUES (gen_random_uuid()::text, 'c-' || :n || '-' || :client_id || '-' || txid_current(), now() + interval '9 days', now() + interval '7 days');
INSERT INTO b_events VALUES (gen_random_uuid()::text, 'c-' || :n || '-' || :client_id || '-' || txid_current(), 1, repeat('d', 300), md5(random()::text));
INSERT INTO b_outbox VALUES (gen_random_uuid()::text, 'c-' || :n || '-' || :client_id || '-' || txid_current(), 'investor@example.de', repeat('m', 2000), 'pending', now());
COMMIT;
"""


def pgbench(tmp, name, script, clients, seconds):
    url = fresh_pg("anshang_bench_base")
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input=BASELINE_TABLES, text=True, check=True, capture_output=True)
    path = write_lua(tmp, name + ".sql", script)
    out = subprocess.run(
        ["pgbench", "-n", "-r", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", path, url],
        capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed.group(1)):
        raise SystemExit(f"pgbench {name}: failed transactions\n{out}")
    return {"rate": tps, "avg": latency}


def sqlite_raw(tmp, rows, seconds):
    """The filing's rows (3 or 5) as one transaction per filing, one connection, as fast as it goes."""
    path = os.path.join(tmp, f"raw-{rows}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(BASELINE_TABLES)
    complaint_body, event, mail = "x" * 500, "d" * 300, "m" * 2000
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        cid = str(uuid.uuid4())
        db.execute("BEGIN IMMEDIATE")
        number = done
        if rows == 5:
            number = db.execute("UPDATE b_counter SET last_seq = last_seq + 1 WHERE year = 2026 RETURNING last_seq").fetchone()[0]
        db.execute("INSERT INTO b_complaints VALUES (?, ?, 'received', 'investor@example.de', ?, datetime('now', '+9 days'), datetime('now'))",
                   (cid, f"T-2026-{number}-{cid}", complaint_body))
        if rows == 5:
            db.execute("INSERT INTO b_clocks VALUES (?, ?, datetime('now', '+9 days'), datetime('now', '+7 days'))", (str(uuid.uuid4()), cid))
        db.execute("INSERT INTO b_events VALUES (?, ?, 1, ?, ?)", (str(uuid.uuid4()), cid, event, uuid.uuid4().hex))
        db.execute("INSERT INTO b_outbox VALUES (?, ?, 'investor@example.de', ?, 'pending', datetime('now'))", (str(uuid.uuid4()), cid, mail))
        db.execute("COMMIT")
        done += 1
    rate = done / (time.perf_counter() - started)
    db.close()
    return {"rate": rate}


# ---------------------------------------------------------------------------------------------
# one backend


def seed(database_url, complaints, tmp):
    out = os.path.join(tmp, "seed.env")
    log(f"seeding {complaints} complaints (benches/http_seed.rs) into {database_url.split('@')[-1]}")
    command = [SEEDER, "--bench"] if SEEDER else ["cargo", "bench", "-q", "--bench", "http_seed", "--"]
    subprocess.run(command + ["--url", database_url, "--complaints", str(complaints), "--out", out], check=True, cwd=ROOT)
    facts = {}
    for line in open(out):
        key, _, value = line.strip().partition("=")
        facts[key] = value
    return facts


def run_backend(backend, args, tmp, hello_rates):
    data_dir = os.path.join(tmp, backend)
    os.makedirs(data_dir)
    if backend == "postgres":
        database_url = fresh_pg("anshang_bench")
    else:
        database_url = "sqlite://" + os.path.join(data_dir, "anshang.db")
    facts = seed(database_url, args.complaints, tmp)
    results = {"facts": facts}
    results.update(measure_service(backend, database_url, data_dir, tmp, facts, args.seconds, paced=True, low=True))
    log(f"{backend}: raw baselines")
    if backend == "postgres":
        results["base3"] = pgbench(tmp, "three", PGBENCH_THREE, 16, args.seconds)
        results["base5"] = pgbench(tmp, "five", PGBENCH_FIVE, 16, args.seconds)
        results["base3_4"] = pgbench(tmp, "three4", PGBENCH_THREE, 4, args.seconds)
    else:
        results["base3"] = sqlite_raw(tmp, 3, args.seconds)
        results["base5"] = sqlite_raw(tmp, 5, args.seconds)
    for name in ("base3", "base5", "base3_4"):
        if name in results:
            log(f"{backend}: {name} {results[name]['rate']:,.0f}/s")
    # The hello-world sized like each answer, measured now (same machine state as the reads).
    for name in ("track", "inbox"):
        size = results[name]["size"]
        if size not in hello_rates:
            hello_rates[size] = measure_hello(size, args.seconds)
    if backend == "postgres" and args.grow:
        # A failed step of the growth (a copy the database refuses) keeps what was measured.
        results["growth"] = []
        try:
            growth(database_url, data_dir, tmp, facts, args, results["growth"])
        except subprocess.CalledProcessError as e:
            log(f"growth stopped: {' '.join(e.cmd)[:200]}…\n{(e.stderr or '')[-2000:]}")
    return results


def measure_service(backend, database_url, data_dir, tmp, facts, seconds, paced, low):
    """Tracking and inbox reads at 32 connections (and at half that rate when `paced`), filing at
    16 connections (and 4 when `low`)."""
    service = start_service(database_url, data_dir)
    base = f"http://127.0.0.1:{SERVICE_PORT}"
    results = {}
    try:
        login, _ = http_json("POST", base + "/api/v1/auth/login",
                             {"email": "department@demo.anshang.example", "password": "anshang-demo-2026"})
        token = login["token"]
        track_url = f"{base}/api/v1/track/{facts['TRACKING_NUMBER']}"
        track_headers = {"X-Access-Code": facts["ACCESS_CODE"]}
        inbox_url = f"{base}/api/v1/complaints?limit=50"
        inbox_headers = {"Authorization": f"Bearer {token}"}
        reads = {"track": (track_url, track_headers), "inbox": (inbox_url, inbox_headers)}
        for name, (url, headers) in reads.items():
            size = body_size(url, headers)
            hdrs = [f"{k}: {v}" for k, v in headers.items()]
            log(f"{backend}: {name} ({size} bytes) at 32 connections")
            wrk(url, 8, 2, headers=hdrs)  # warm-up
            full = wrk(url, 32, seconds, headers=hdrs)
            results[name] = {"size": size, "full": full}
            if paced:
                half_rate = max(1, int(full["rate"] / 2))
                paced_script = write_lua(tmp, "paced.lua", PACED_LUA)
                results[name]["paced"] = wrk(url, 16, seconds, script=paced_script, headers=hdrs,
                                             lua_env={"PACED_CONNECTIONS": "16", "PACED_RATE": str(half_rate)})
                results[name]["offered"] = half_rate
        filing_script = write_lua(tmp, "filing.lua", FILING_LUA)
        for connections in (16, 4) if low else (16,):
            log(f"{backend}: filing at {connections} connections")
            results[f"file{connections}"] = wrk(base + "/", connections, seconds, script=filing_script)
    finally:
        stop(service)
    return results


# ---------------------------------------------------------------------------------------------
# growth (PostgreSQL)

# The tables a complaint's reads touch, copied to grow the data. Ids get a suffix per copy;
# copied clocks' next rung moves ten years on, so the copies are open but never due (the
# sweeper's lookup is measured, not the rungs of copies).
GROWN_TABLES = ["complaints", "complaint_clocks", "clock_pauses", "complaint_assignments",
                "extension_requests", "complaint_events"]


def pg_columns(url, table):
    # Generated columns (the inbox's queue group) are computed by the database, never copied.
    out = subprocess.run(["psql", "-At", url, "-c",
                          f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' AND is_generated = 'NEVER' ORDER BY ordinal_position"],
                         capture_output=True, text=True, check=True).stdout
    return [c for c in out.split() if c]


def copy_expression(column):
    if column == "id" or column.endswith("complaint_id") or column.endswith("clock_id"):
        return f"{column} || '-' || g"
    if column == "tracking_number":
        return "tracking_number || '-' || g"
    if column == "tracking_seq":
        return "tracking_seq + g * 100000000"
    if column == "next_step_at":
        return "next_step_at + interval '3650 days'"
    return column


def grow_to(url, copies_from, copies_to):
    """Adds copies number copies_from+1 .. copies_to of the seeded complaints."""
    for table in GROWN_TABLES:
        columns = pg_columns(url, table)
        select = ", ".join(copy_expression(c) for c in columns)
        psql(url, f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table}, "
                  f"generate_series({copies_from + 1}, {copies_to}) g WHERE length({table}.id) = 36")
    subprocess.run(["psql", "-q", url, "-c", "VACUUM ANALYZE"], check=True, capture_output=True)


def sweep_time(database_url, data_dir):
    env = dict(os.environ, ANSHANG__DATABASE__URL=database_url, ANSHANG__SERVER__DATA_DIR=data_dir,
               ANSHANG__LOG__LEVEL="warn")
    started = time.perf_counter()
    subprocess.run([ANSHANG, "sweep", "--once"], env=env, check=True, capture_output=True, cwd=ROOT)
    return (time.perf_counter() - started) * 1000


def growth(database_url, data_dir, tmp, facts, args, rows):
    """Appends a row to `rows` for each total measured (they stay when a later copy fails)."""
    base = int(facts["COMPLAINTS"])
    copies = 1
    for size in [base] + [int(x) for x in args.grow.split(",")]:
        target = max(1, size // base)
        if target > copies:
            log(f"growth: copying the {base:,} seeded complaints up to {target * base:,}")
            started = time.perf_counter()
            grow_to(database_url, copies - 1, target - 1)
            log(f"growth: copied in {time.perf_counter() - started:.0f} s")
            copies = target
        measured = measure_service("postgres", database_url, data_dir, tmp, facts, args.seconds, paced=False, low=False)
        measured["sweep_ms"] = sweep_time(database_url, data_dir)
        measured["complaints"] = copies * base
        log(f"growth: {copies * base:,} complaints, sweep --once {measured['sweep_ms']:.0f} ms")
        rows.append(measured)


def measure_hello(size, seconds):
    proc = subprocess.Popen([HELLO, str(HELLO_PORT), str(WORKERS), str(size)], stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{HELLO_PORT}/")
        url = f"http://127.0.0.1:{HELLO_PORT}/bytes/{size}"
        wrk(url, 8, 2)
        log(f"hello-world, {size} bytes")
        return wrk(url, 32, seconds)
    finally:
        stop(proc)


# ---------------------------------------------------------------------------------------------
# report


def report(all_results, hello_rates, args):
    lines = []
    p = lines.append
    p(f"Machine: {os.cpu_count()} cores, client and server on the same host; wrk 2 threads; "
      f"{args.seconds} s per measurement; {args.complaints} complaints seeded.")
    for backend, r in all_results.items():
        f = r["facts"]
        p("")
        p(f"### {backend}: {f['COMPLAINTS']} complaints across {f['DEPARTMENTS']} departments, "
          f"{f['DRC_OPEN']} open in the inbox read")
        p("")
        p("| what | rate /s | p50 ms | p99 ms | baseline | baseline /s | ratio |")
        p("|---|---|---|---|---|---|---|")
        for name, label, goal in (("track", "`GET /api/v1/track/{n}`", 0.3), ("inbox", "`GET /api/v1/complaints?limit=50` (department)", 0.2)):
            x = r[name]
            h = hello_rates[x["size"]]
            p(f"| {label}, 32 conn. | {x['full']['rate']:,.0f} | {x['full']['p50']:.2f} | {x['full']['p99']:.2f} | "
              f"hello-world, static {x['size']:,} B | {h['rate']:,.0f} | **{x['full']['rate'] / h['rate']:.2f}** (goal ≥ {goal}) |")
        for name, label, goal in (("track", "tracking", None), ("inbox", "inbox", None)):
            x = r[name]
            if "paced" not in x:
                continue
            p(f"| {label} at half capacity ({x['offered']:,}/s offered, 16 conn.) | {x['paced']['rate']:,.0f} | "
              f"{x['paced']['p50']:.2f} | {x['paced']['p99']:.2f} | | | p99 goal < 10 ms |")
        b3, b5 = r["base3"], r["base5"]
        raw = "pgbench" if backend == "postgres" else "Python sqlite3"
        f16, f4 = r["file16"], r["file4"]
        p(f"| `POST /api/v1/complaints`, 16 conn. | {f16['rate']:,.0f} | {f16['p50']:.2f} | {f16['p99']:.2f} | "
          f"{raw}, 3 inserts | {b3['rate']:,.0f} | **{f16['rate'] / b3['rate']:.2f}** (goal ≥ 0.6) |")
        p(f"| | | | | {raw}, 5 rows (the counter, then the 4 rows that carry its number) | {b5['rate']:,.0f} | {f16['rate'] / b5['rate']:.2f} |")
        extra = ""
        if "base3_4" in r:
            extra = f"pgbench 3 inserts, 4 clients: {r['base3_4']['rate']:,.0f}/s, {r['base3_4']['avg']:.2f} ms avg"
        p(f"| `POST /api/v1/complaints`, 4 conn. | {f4['rate']:,.0f} | {f4['p50']:.2f} | {f4['p99']:.2f} | {extra} | | p99 goal < 10 ms |")
    growth_rows = all_results.get("postgres", {}).get("growth")
    if growth_rows:
        first = growth_rows[0]
        p("")
        p("### Growth on PostgreSQL (the seeded complaints copied; rates at 32 / 16 connections)")
        p("")
        p("| complaints | tracking /s | p99 ms | inbox /s | p99 ms | filing /s | p99 ms | `anshang sweep --once` ms | tracking × | inbox × | filing × |")
        p("|---|---|---|---|---|---|---|---|---|---|---|")
        for g in growth_rows:
            p(f"| {g['complaints']:,} | {g['track']['full']['rate']:,.0f} | {g['track']['full']['p99']:.2f} | "
              f"{g['inbox']['full']['rate']:,.0f} | {g['inbox']['full']['p99']:.2f} | {g['file16']['rate']:,.0f} | "
              f"{g['file16']['p99']:.2f} | {g['sweep_ms']:.0f} | "
              f"{g['track']['full']['rate'] / first['track']['full']['rate']:.2f} | "
              f"{g['inbox']['full']['rate'] / first['inbox']['full']['rate']:.2f} | "
              f"{g['file16']['rate'] / first['file16']['rate']:.2f} |")
    plain = hello_rates.get("plain")
    if plain:
        p("")
        p(f"actix-web hello-world (`Hello world!`, 12 B): {plain['rate']:,.0f}/s, p99 {plain['p99']:.2f} ms.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--complaints", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--grow", help="PostgreSQL: also measure at these totals, e.g. 100000,1000000 (copies of the seeded complaints)")
    args = ap.parse_args()
    for tool in ("wrk", "psql", "pgbench"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (scripts/bench-http.sh installs it)")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    hello_rates = {}
    all_results = {}
    with tempfile.TemporaryDirectory(prefix="anshang-bench-") as tmp:
        for backend in backends:
            all_results[backend] = run_backend(backend, args, tmp, hello_rates)
        proc = subprocess.Popen([HELLO, str(HELLO_PORT), str(WORKERS)], stdout=subprocess.DEVNULL)
        try:
            wait_http(f"http://127.0.0.1:{HELLO_PORT}/")
            hello_rates["plain"] = wrk(f"http://127.0.0.1:{HELLO_PORT}/", 32, args.seconds)
        finally:
            stop(proc)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": all_results, "hello": {str(k): v for k, v in hello_rates.items()}}, f, indent=2)
    print(report(all_results, hello_rates, args))


if __name__ == "__main__":
    main()
