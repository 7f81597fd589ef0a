"""API contract fuzzing: schemathesis against a fresh anshang instance.

Started by scripts/api-contract.sh (which provides the virtualenv and the debug binary). Steps:

1. start `anshang serve --demo --port 0` on a temporary data directory (SQLite, or a fresh
   PostgreSQL database made on the server named by ANSHANG_CONTRACT_PG_URL), with the per-client
   rate limits raised so that the fuzzer reaches the logic behind them (the 429 answers stay
   documented) and email sent to a closed port, so that the outbox holds failed messages;
2. sign in as the bootstrap administrator and change its one-time password;
3. before each run, seed records through the API (complaints in every state with attachments
   and an extension request, ballot rounds with codes, a finalised year and a review, a
   department and an account) and walk the success paths the fuzzer seldom composes; every
   answer is checked against the document, as schemathesis checks its own;
4. run `schemathesis run` once without a token and once with a token of each role (fresh tokens
   of the demo accounts, the administrator's for admin), drawing ids, tracking numbers, access
   codes, ballot codes and years from the seeded records; every answer must be documented
   (status, content type, headers, schema) and none may be a 5xx, nor may the server log hold one;
5. print one summary line (operations x runs, requests, operations with a checked success) and
   exit non-zero on any failure.

Only the standard library is used here (and jsonschema_rs, which schemathesis brings along).
"""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
# The administrator runs last: it may deactivate accounts and change departments.
ROLES = ["operator", "department", "coordinator", "commission", "admin"]
DEMO_PASSWORD = "anshang-demo-2026"
ADMIN_PASSWORD = "contract-fuzz-admin-2026"
RAISED = "1000000"
# How often a parameter bound to a dictionary of seeded values takes one of them.
PROBABILITY = 0.7
# Text that must never reach a client in an error answer: driver and database messages, hosts
# and ports, file-system paths and errors, library names, panics.
LEAK = re.compile(
    r"diesel|r2d2|sqlite|postgres|libpq|connection refused|connection to server|database is locked"
    r"|127\.0\.0\.1:|\bport \d{2,5}|os error|no such file|/tmp/|/root/|/var/|/home/|panicked|thread '",
    re.IGNORECASE,
)


def leaks(status, raw):
    """The internal text an error answer gives away, if any."""
    if status < 400 or not raw:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    m = LEAK.search(text)
    return text[max(0, m.start() - 60):m.end() + 60] if m else None


def log(msg):
    print(f"== {msg}", flush=True)


class Api:
    """A small client for seeding. Every answer is checked against the OpenAPI document like
    schemathesis checks its own: the status is documented, the content type is one documented for
    it, and a JSON body matches the documented schema (formats included)."""

    def __init__(self, base):
        self.base = base
        self.doc = None
        self.checked = 0
        self.succeeded = set()  # operations ("METHOD /template") that answered 2xx
        self.mismatches = []

    def load_document(self):
        _, self.doc = self.call("GET", "/api/v1/openapi.json", expect=200)
        self.templates = []
        for template, item in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.templates.append((re.compile(pattern), template, item))

    def check(self, method, path, status, content_type, raw):
        if self.doc is None:
            return
        route = path.split("?", 1)[0]
        found = [(t, item) for rx, t, item in self.templates if rx.match(route) and method.lower() in item]
        # A literal segment beats a template one (…/rounds before …/{round}).
        found.sort(key=lambda f: f[0].count("{"))
        if not found:
            self.mismatches.append(f"{method} {route}: not in the document")
            return
        template, item = found[0]
        where = f"{method} {template} -> {status}"
        self.checked += 1
        if 200 <= status < 300:
            self.succeeded.add(f"{method} {template}")
        response = item[method.lower()]["responses"].get(str(status))
        if response is None:
            self.mismatches.append(f"{where}: undocumented status")
            return
        content = response.get("content", {})
        media = (content_type or "").split(";")[0].strip()
        if not content:
            if raw:
                self.mismatches.append(f"{where}: a body where none is documented")
            return
        if media not in content:
            self.mismatches.append(f"{where}: content type {media!r} is not among {sorted(content)}")
            return
        schema = content[media].get("schema")
        if schema is None or not (media == "application/json" or media.endswith("+json")):
            return
        root = dict(schema, components=self.doc.get("components", {}))
        import jsonschema_rs
        errors = list(jsonschema_rs.Draft202012Validator(root, validate_formats=True).iter_errors(json.loads(raw)))
        for e in errors[:3]:
            self.mismatches.append(f"{where}: {e.message} at {list(e.instance_path)}")

    def call(self, method, path, token=None, body=None, content_type="application/json", headers=None, expect=None):
        data = None
        h = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = content_type
        if token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                status, raw, answered_type = res.status, res.read(), res.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            status, raw, answered_type = e.code, e.read(), e.headers.get("Content-Type")
        self.check(method, path, status, answered_type, raw)
        leaked = leaks(status, raw)
        if leaked:
            self.mismatches.append(f"{method} {path.split('?', 1)[0]} -> {status}: the answer names internals: {leaked!r}")
        if expect is not None and status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise SystemExit(f"seeding: {method} {path} answered {status}, expected {expect}: {raw[:500]!r}")
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw


def closed_port():
    """A local port that was free a moment ago (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, data_dir, db_url, log_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSHANG")}
    env.update({
        "ANSHANG__DATABASE__URL": db_url,
        "ANSHANG__AUTH__LOGIN_PER_CLIENT_PER_MINUTE": RAISED,
        "ANSHANG__AUTH__LOGIN_PER_ACCOUNT_PER_MINUTE": RAISED,
        "ANSHANG__COMPLAINTS__TRACKING_LOOKUPS_PER_CLIENT_PER_MINUTE": RAISED,
        "ANSHANG__COMPLAINTS__FILINGS_PER_CLIENT_PER_HOUR": RAISED,
        "ANSHANG__BALLOTS__ATTEMPTS_PER_CLIENT_PER_MINUTE": RAISED,
        "ANSHANG__LOG__LEVEL": "info",
        # Email goes to a port nobody listens on and fails at the first attempt, so that the
        # outbox holds failed messages to retry.
        "ANSHANG__MAIL__SMTP_URL": f"smtp://127.0.0.1:{closed_port()}",
        "ANSHANG__MAIL__MAX_ATTEMPTS": "1",
        "ANSHANG__MAIL__DELIVER_INTERVAL_SECS": "1",
    })
    cmd = [str(binary), "--data-dir", str(data_dir), "serve", "--port", "0", "--demo"]
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=open(log_path, "wb"), text=True)
    before = []
    for line in child.stdout:
        if line.startswith("anshang: listening on port "):
            port = int(line.rsplit(" ", 1)[1])
            # Keep reading what the server may still print, so that it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in child.stdout], daemon=True).start()
            return child, port, before
        before.append(line.rstrip("\n"))
    child.wait()
    raise SystemExit(f"the server exited before listening: {before}\n{pathlib.Path(log_path).read_text()[-3000:]}")


def sign_in(api, email, password):
    _, body = api.call("POST", "/api/v1/auth/login", body={"email": email, "password": password}, expect=200)
    return body


def tokens_for(api, admin_email):
    tokens = {role: sign_in(api, f"{role}@demo.anshang.example", DEMO_PASSWORD)["token"] for role in ROLES if role != "admin"}
    tokens["admin"] = sign_in(api, admin_email, ADMIN_PASSWORD)["token"]
    return tokens


def complaint(subject):
    return {
        "complainant": {
            "type": "foreign_invested_enterprise", "name": "Anna Müller",
            "company": "Hunan Precision Parts Co., Ltd.", "nationality": "Germany",
            "email": "anna.mueller@example.de", "phone": "+49 30 1234567", "language": "en",
        },
        "project": "Chenzhou plant expansion, phase 2", "matter_type": "administrative_act",
        "subject": subject, "facts": "We applied on 2026-08-01; no decision since.",
        "request": "A decision on the permit.", "review_or_lawsuit": False, "confidential": False,
    }


def seed(api, t, run):
    """Fresh records for one run of the fuzzer (an earlier run may have withdrawn, closed or
    deactivated the last ones); returns the values for its dictionaries."""
    _, departments = api.call("GET", "/api/v1/departments", expect=200)
    dept = {d["code"]: d["id"] for d in departments}
    drc = dept["drc"]

    filed = []
    for n in range(4):
        _, c = api.call("POST", "/api/v1/complaints", body=complaint(f"Permit not decided ({n})"), expect=201)
        filed.append(c)
    ids = [c["id"] for c in filed]
    # 0: assigned to drc, with an extension request and attachments; 1: replied (to rate or
    # contest); 2: received (to assign or reject); 3: assigned, waiting for the investor's answer.
    for i in (0, 1, 3):
        api.call("POST", f"/api/v1/complaints/{ids[i]}/assign", t["coordinator"], {"department_id": drc}, expect=200)
    _, view = api.call("POST", f"/api/v1/complaints/{ids[0]}/extension-requests", t["department"], {"days": 5, "reason": "site visit"}, expect=200)
    extension_ids = [e["id"] for e in view.get("extensions", []) if "id" in e]
    api.call("POST", f"/api/v1/complaints/{ids[1]}/reply", t["department"], {"text": "The permit was issued.", "outcome": "resolved"}, expect=200)
    api.call("POST", f"/api/v1/complaints/{ids[3]}/request-info", t["department"], {"question": "Which plot?"}, expect=200)
    api.call("POST", f"/api/v1/complaints/{ids[3]}/notes", t["coordinator"], {"text": "Called the bureau; plot 7."}, expect=200)
    # A repeat of the first complaint, hinted and closed as its duplicate.
    _, repeat = api.call("POST", "/api/v1/complaints", body=complaint("Permit not decided (0)"), expect=201)
    api.call("GET", f"/api/v1/complaints/{repeat['id']}/possible-duplicates", t["coordinator"], expect=200)
    api.call("POST", f"/api/v1/complaints/{repeat['id']}/mark-duplicate", t["coordinator"],
             {"duplicate_of": filed[0]["tracking_number"]}, expect=200)
    _, att = api.call("POST", f"/api/v1/complaints/{ids[0]}/attachments?filename=note.txt", t["operator"], b"site notes\n", "application/octet-stream", expect=201)
    attachment_ids = [att["id"]]
    code0 = {"X-Access-Code": filed[0]["access_code"]}
    api.call("POST", f"/api/v1/track/{filed[0]['tracking_number']}/attachments?filename=photo.txt", None, b"more notes\n", "application/octet-stream", headers=code0, expect=200)

    # Ballot rounds: a draft, an open one with unused codes, a published one.
    now = datetime.now(timezone.utc)
    depts = [dept[c] for c in ("drc", "commerce", "finance")]

    def round_with_roll(title):
        _, r = api.call("POST", "/api/v1/ballots/rounds", t["commission"], {
            "title": title, "year": now.year, "department_ids": depts, "min_group_size": 3,
            "opens_at": (now - timedelta(minutes=1)).isoformat(), "closes_at": (now + timedelta(hours=2)).isoformat(),
        }, expect=201)
        roll = "name,category,contact,departments\n" + "".join(f"Voter {i},enterprise_served,paper,drc;commerce;finance\n" for i in range(6))
        api.call("POST", f"/api/v1/ballots/rounds/{r['id']}/voters", t["commission"], roll.encode(), "text/csv", expect=200)
        return r["id"]

    key_shares = {}

    def issue_and_open(rid):
        _, issued = api.call("POST", f"/api/v1/ballots/rounds/{rid}/issue-codes", t["commission"], expect=200)
        _, opened = api.call("POST", f"/api/v1/ballots/rounds/{rid}/open", t["commission"], expect=200)
        key_shares[rid] = opened["key_shares"]
        return [letter["code"] for letter in issued["letters"]]

    answers = {"overall": "satisfied", "efficiency": "basically_satisfied", "attitude": "satisfied", "integrity": "dissatisfied"}
    draft = round_with_roll("draft round")
    open_round = round_with_roll("open round")
    open_codes = issue_and_open(open_round)
    published = round_with_roll("published round")
    for code in issue_and_open(published)[:4]:
        api.call("POST", f"/api/v1/ballots/{published}/cast", None, {"code": code, "ratings": [{"department_id": d, "answers": answers} for d in depts]}, expect=201)
    api.call("POST", f"/api/v1/ballots/rounds/{published}/close", t["commission"], expect=200)
    # The trustees open the sealed ballots with their key shares.
    api.call("POST", f"/api/v1/ballots/rounds/{published}/unseal", t["commission"], {"key_shares": key_shares[published]}, expect=200)
    api.call("POST", f"/api/v1/ballots/rounds/{published}/publish", t["commission"], expect=200)

    # Assessment: the year's snapshot; the review left pending by the last seeding is decided
    # and the department asks for a new one, pending for this run.
    year = now.year
    again = {"reason": f"before fuzzing run {run}"} if run else {}
    api.call("POST", f"/api/v1/assessment/{year}/finalize", t["commission"], again, expect=200)
    _, reviews = api.call("GET", f"/api/v1/assessment/{year}/reviews", t["commission"], expect=200)
    for r in reviews:
        if r.get("decision") is None:
            api.call("POST", f"/api/v1/assessment/{year}/reviews/{r['id']}/decision", t["commission"], {"changed": False, "reason": "The count is right."}, expect=200)
    api.call("POST", f"/api/v1/assessment/{year}/reviews", t["department"], {"reasons": "The overdue count is wrong."}, expect=(201, 409))
    _, reviews = api.call("GET", f"/api/v1/assessment/{year}/reviews", t["commission"], expect=200)
    review_ids = [r["id"] for r in reviews]

    # Paths only the seeding walks, so that their successful answers are checked too: an
    # extension decided and the case returned; a case reassigned and withdrawn for the caller;
    # a question answered, a reply contested; a reply rated.
    extra = []
    for n in range(4):
        _, c = api.call("POST", "/api/v1/complaints", body=complaint(f"Seeding only ({n})"), expect=201)
        api.call("POST", f"/api/v1/complaints/{c['id']}/assign", t["coordinator"], {"department_id": drc}, expect=200)
        extra.append(c)
    returned, reassigned, contested, rated = extra
    _, view = api.call("POST", f"/api/v1/complaints/{returned['id']}/extension-requests", t["department"], {"days": 3, "reason": "survey"}, expect=200)
    request_id = view["extensions"][-1]["id"]
    api.call("POST", f"/api/v1/complaints/{returned['id']}/extension-requests/{request_id}/decision", t["coordinator"], {"approve": True, "days": 3, "reason": "granted"}, expect=200)
    api.call("POST", f"/api/v1/complaints/{returned['id']}/return", t["department"], {"reason": "not within our remit"}, expect=200)
    api.call("POST", f"/api/v1/complaints/{reassigned['id']}/reassign", t["coordinator"], {"department_id": dept["commerce"], "reason": "commerce decides"}, expect=200)
    api.call("POST", f"/api/v1/complaints/{reassigned['id']}/withdraw", t["operator"], {"reason": "the caller withdrew"}, expect=200)
    investor = lambda c: {"X-Access-Code": c["access_code"]}
    api.call("POST", f"/api/v1/complaints/{contested['id']}/request-info", t["department"], {"question": "Which plot?"}, expect=200)
    api.call("POST", f"/api/v1/track/{contested['tracking_number']}/answer", None, {"answer": "Plot 7."}, headers=investor(contested), expect=200)
    for c in (contested, rated):
        api.call("POST", f"/api/v1/complaints/{c['id']}/reply", t["department"], {"text": "The permit was issued.", "outcome": "resolved"}, expect=200)
    api.call("POST", f"/api/v1/track/{contested['tracking_number']}/contest", None, {"reason": "It was not."}, headers=investor(contested), expect=200)
    api.call("POST", f"/api/v1/track/{rated['tracking_number']}/rate", None, {"rating": "satisfied", "comment": "Thank you."}, headers=investor(rated), expect=200)

    # Administration: a department and an account made and changed, the year's official
    # calendar loaded again, a failed email sent again.
    api.call("GET", "/api/v1/admin/departments", t["admin"], expect=200)
    _, made = api.call("POST", "/api/v1/departments", t["admin"], {
        "code": f"seeded-{run}", "name_zh": "测试部门", "name_en": "Seeded department", "kind": "department",
        "contact_email": "seeded@example.gov.cn", "head_email": "seeded-head@example.gov.cn"}, expect=201)
    api.call("PATCH", f"/api/v1/departments/{made['id']}", t["admin"], {"name_en": "Seeded department, renamed"}, expect=200)
    _, account = api.call("POST", "/api/v1/users", t["admin"], {"email": f"seeded-{run}@example.gov.cn", "display_name": "Seeded", "role": "operator"}, expect=201)
    # Signing out ends every token of the account, so the fuzzer does not call it with the run's
    # token (see run_schemathesis); the seeded account signs out here instead.
    seeded = sign_in(api, f"seeded-{run}@example.gov.cn", account["one_time_password"])
    api.call("POST", "/api/v1/auth/logout", seeded["token"], expect=204)
    api.call("POST", "/api/v1/auth/logout", seeded["token"], expect=401)
    api.call("POST", f"/api/v1/users/{account['user']['id']}/reset-password", t["admin"], expect=200)
    api.call("PATCH", f"/api/v1/users/{account['user']['id']}", t["admin"], {"active": False}, expect=200)
    official = ROOT / "config" / "calendar" / f"cn-{year}.toml"
    if official.exists():
        api.call("PUT", f"/api/v1/calendar/{year}", t["admin"], official.read_bytes(), "application/toml", expect=200)
    _, failed = api.call("GET", "/api/v1/admin/outbox?status=failed&limit=1", t["admin"], expect=200)
    for message in failed:
        api.call("POST", f"/api/v1/admin/outbox/{message['id']}/retry", t["admin"], expect=200)

    _, users = api.call("GET", "/api/v1/users", t["admin"], expect=200)
    _, outbox_items = api.call("GET", "/api/v1/admin/outbox", t["admin"], expect=200)
    return {
        "complaint_ids": ids,
        "tracking_numbers": [c["tracking_number"] for c in filed],
        "access_codes": [c["access_code"] for c in filed],
        "attachment_ids": attachment_ids,
        "extension_ids": extension_ids,
        "department_ids": list(dept.values()),
        "round_ids": [draft, open_round, published],
        "ballot_codes": open_codes,
        "open_round": [open_round],
        "round_department_ids": depts,
        "assigned_number": [filed[0]["tracking_number"]],
        "assigned_code": [filed[0]["access_code"]],
        "replied_number": [filed[1]["tracking_number"]],
        "replied_code": [filed[1]["access_code"]],
        "asked_number": [filed[3]["tracking_number"]],
        "asked_code": [filed[3]["access_code"]],
        "years": [year],
        "review_ids": review_ids,
        "user_ids": [u["id"] for u in users],
        "outbox_ids": [m["id"] for m in outbox_items][:20],
    }


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def write_config(path, s):
    """schemathesis.toml: dictionaries of the seeded values, bound per operation; a bound
    parameter takes a seeded value with probability PROBABILITY, else a generated one."""
    dictionaries = {k: v for k, v in s.items() if v}
    lines = ["[auth]", "auto-signup = false", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {toml_list(values)}", ""]
    # (path regex, {parameter: dictionary}) — the first seeded complaint is the investor's.
    bindings = [
        (r"^/api/v1/complaints/by-number/", {"path.tracking_number": "tracking_numbers"}),
        (r"^/api/v1/complaints/\{id\}", {"path.id": "complaint_ids", "path.attachment_id": "attachment_ids",
                                          "path.request_id": "extension_ids", "body.department_id": "department_ids"}),
        # The investor: each operation on the complaint in the state it acts on.
        (r"^/api/v1/track/\{tracking_number\}/(rate|contest)$", {"path.tracking_number": "replied_number", "header.X-Access-Code": "replied_code"}),
        (r"^/api/v1/track/\{tracking_number\}/answer$", {"path.tracking_number": "asked_number", "header.X-Access-Code": "asked_code"}),
        (r"^/api/v1/track/\{tracking_number\}(/withdraw|/attachments.*)?$", {"path.tracking_number": "assigned_number", "header.X-Access-Code": "assigned_code",
                                                                               "path.attachment_id": "attachment_ids"}),
        (r"^/api/v1/ballots/rounds/\{id\}", {"path.id": "round_ids"}),
        (r"^/api/v1/ballots/\{round\}/(code|cast)$", {"path.round": "open_round", "body.code": "ballot_codes",
                                                     "body.ratings[*].department_id": "round_department_ids"}),
        (r"^/api/v1/ballots/\{round\}(/results|/bulletin)?$", {"path.round": "round_ids"}),
        (r"^/api/v1/ballots/rounds$", {"body.department_ids[*]": "department_ids"}),
        (r"^/api/v1/users/", {"path.id": "user_ids"}),
        (r"^/api/v1/(admin/)?departments", {"path.id": "department_ids"}),
        (r"^/api/v1/admin/outbox/", {"path.id": "outbox_ids"}),
        (r"^/api/v1/assessment/\{year\}/departments/", {"path.year": "years", "path.id": "department_ids"}),
        (r"^/api/v1/assessment/\{year\}/reviews/\{id\}", {"path.year": "years", "path.id": "review_ids"}),
        (r"^/api/v1/assessment/\{year\}(/finalize|/reviews)?$", {"path.year": "years"}),
        (r"^/api/v1/calendar/\{year\}", {"path.year": "years"}),
    ]
    for regex, params in bindings:
        used = {p: d for p, d in params.items() if d in dictionaries}
        if not used:
            continue
        lines += ["[[operations]]", f"include-path-regex = {json.dumps(regex)}", "[operations.parameters]"]
        lines += [f"{json.dumps(p)} = {{ dictionary = {json.dumps(d)}, probability = {PROBABILITY} }}" for p, d in used.items()]
        lines.append("")
    pathlib.Path(path).write_text("\n".join(lines))


def run_schemathesis(base, config, token, label, work, examples, seed):
    report = work / f"report-{label}.json"
    cmd = [
        str(pathlib.Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
        f"{base}/api/v1/openapi.json", "--url", base, "--checks", CHECKS,
        "--max-examples", str(examples), "--seed", str(seed), "--workers", "1",
        "--no-color", "--report", "ndjson", "--report-ndjson-path", str(report),
        "--request-timeout", "30",
        # Each would end the run's own token or another run's (every later answer a 401);
        # seeding checks them on an account of its own.
        "--exclude-path", "/api/v1/auth/logout",
        "--exclude-path", "/api/v1/users/{id}/reset-password",
    ]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = work / f"output-{label}.txt"
    with open(out, "w") as f:
        rc = subprocess.run(cmd, cwd=work, stdout=f, stderr=subprocess.STDOUT).returncode
    text = out.read_text()
    m = re.search(r"Operations:\s+(\d+) selected", text)
    operations = int(m.group(1)) if m else 0
    requests, statuses = read_report(report)
    return rc, operations, requests, statuses, out


LEAKED = []


def response_body(response):
    """The answer's body as text: the report keeps it as {"$base64": …} under "content"."""
    import base64
    body = response.get("content")
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"]).decode("utf-8", "replace")
    if isinstance(body, str):
        return body
    return json.dumps(body) if body is not None else ""


def read_report(report):
    """Requests sent and the statuses each operation answered, from the ndjson event stream; any
    error answer that names internals is recorded in LEAKED."""
    requests, statuses = 0, {}
    if not report.exists():
        return requests, statuses
    with open(report) as f:
        for line in f:
            try:
                event = json.loads(line).get("ScenarioFinished")
            except ValueError:  # a line cut short by a run that failed; its output says why
                continue
            if not event:
                continue
            recorder = event["recorder"]
            for interaction in recorder.get("interactions", {}).values():
                requests += 1
                response = interaction.get("response") or {}
                if "status_code" in response:
                    statuses.setdefault(recorder["label"], set()).add(response["status_code"])
                    leaked = leaks(response["status_code"], response_body(response))
                    if leaked:
                        LEAKED.append(f"{recorder['label']} -> {response['status_code']}: {leaked!r}")
    return requests, statuses


def main():
    binary = ROOT / "target" / "debug" / "anshang"
    examples = int(os.environ.get("ANSHANG_CONTRACT_EXAMPLES", "10"))
    fuzz_seed = int(os.environ.get("ANSHANG_CONTRACT_SEED", "20261125"))
    pg_server = os.environ.get("ANSHANG_CONTRACT_PG_URL", "")
    runs = os.environ.get("ANSHANG_CONTRACT_RUNS", ",".join(["anonymous"] + ROLES)).split(",")
    unknown = [r for r in runs if r not in ["anonymous"] + ROLES]
    if unknown:
        raise SystemExit(f"ANSHANG_CONTRACT_RUNS: unknown {unknown}; choose among anonymous, {', '.join(ROLES)}")
    runs = [r for r in ["anonymous"] + ROLES if r in runs]
    keep = os.environ.get("ANSHANG_CONTRACT_KEEP") == "1"
    work = pathlib.Path(tempfile.mkdtemp(prefix="anshang-contract-"))
    started = time.monotonic()
    db_url, drop = "", None
    if pg_server:
        # A fresh database on that server, dropped at the end.
        name = f"anshang_contract_{os.getpid()}"
        subprocess.run(["psql", pg_server, "-qAtc", f"CREATE DATABASE {name}"], check=True)
        db_url = urllib.parse.urlsplit(pg_server)._replace(path="/" + name).geturl()
        drop = ["psql", pg_server, "-qAtc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"]
    server_log = work / "server.log"
    failed = []
    summary = "API contract: stopped early"
    try:
        child, port, printed = start_server(binary, work / "data", db_url, server_log)
    except BaseException:
        if drop:
            subprocess.run(drop, check=False)
        raise
    try:
        api = Api(f"http://127.0.0.1:{port}")
        api.load_document()
        admin_email = next(l.split(":", 1)[1].strip() for l in printed if l.strip().startswith("email:"))
        one_time = next(l.split(":", 1)[1].strip() for l in printed if l.strip().startswith("password:"))
        first = sign_in(api, admin_email, one_time)
        assert first["must_change_password"], first
        api.call("POST", "/api/v1/auth/password", first["token"], {"current_password": one_time, "new_password": ADMIN_PASSWORD}, expect=204)
        backend = "PostgreSQL" if db_url else "SQLite"
        log(f"fuzzing the API on {backend} (port {port}, {examples} examples per operation, seed {fuzz_seed}; files in {work})")
        total_requests, operations, answered = 0, 0, {}
        for run, label in enumerate(runs):
            tokens = tokens_for(api, admin_email)
            config = work / f"schemathesis-{label}.toml"
            write_config(config, seed(api, tokens, run))
            token = tokens.get(label)
            t0 = time.monotonic()
            rc, ops, requests, statuses, out = run_schemathesis(api.base, config, token, label, work, examples, fuzz_seed)
            operations = max(operations, ops)
            total_requests += requests
            for label_, codes in statuses.items():
                answered.setdefault(label_, set()).update(codes)
            verdict = "ok" if rc == 0 else "FAILED"
            log(f"{label:<12} {ops} operations, {requests} requests, {time.monotonic() - t0:.0f} s: {verdict}")
            if rc != 0:
                failed.append(label)
                sys.stdout.write(out.read_text())
        # Operations ("METHOD /path"; the stateful phase's scenarios are labelled otherwise).
        succeeded = sorted(op for op, codes in answered.items() if " /" in op and any(200 <= c < 300 for c in codes))
        never = sorted(op for op in answered if op not in succeeded and op not in api.succeeded and " /" in op)
        if never:
            log("operations whose success was checked neither in fuzzing nor in seeding: " + "; ".join(never))
        for m in LEAKED[:20]:
            log(f"an error answer names internals: {m}")
        if LEAKED:
            failed.append("leaks")
        for m in api.mismatches:
            log(f"seeding answer not as documented: {m}")
        if api.mismatches:
            failed.append("seeding")
        summary = (f"API contract ({backend}): {operations} operations x {len(runs)} run{'s' if len(runs) > 1 else ''} "
                   f"({', '.join(runs)}), {total_requests} requests, {len(succeeded)} operations answered 2xx to the fuzzer, "
                   f"{len(set(succeeded) | api.succeeded)} with the seeding's {api.checked} checked answers")
    except SystemExit as stop:  # a seeding answer not as expected: say so, then show the server's errors
        print(stop, file=sys.stderr)
        failed.append("seeding")
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
        if drop:
            subprocess.run(drop, check=False)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", server_log.read_text(errors="replace"))
    # Answers of 500 and up, and internal errors (actix's own complaints about unparsable
    # requests, which it answers with 400, are not among them).
    errors = [l for l in plain.splitlines() if "status=5" in l or "internal error" in l]
    if errors:
        print("server errors:\n" + "\n".join(errors[:50]))
        failed.append("server log")
    log(f"{summary}; {', '.join(failed) + ' failed' if failed else 'no failure'}, {time.monotonic() - started:.0f} s")
    if failed:
        print(f"reports in {work}")
        sys.exit(1)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
