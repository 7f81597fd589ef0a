//! Complaints end to end over HTTP: both intake channels, the whole lifecycle with the clock and
//! its explanation at each step, contests, extensions, returns, idempotent retries,
//! concurrency, the authorisation matrix and the tamper-evident audit trail.

mod common;

use common::{complaint_json, spawn_app, Resp, TestApp};
use serde_json::{json, Value};

struct Desk {
    admin: String,
    coordinator: String,
    operator: String,
    dept_a: String,
    dept_b: String,
    staff_a: String,
    staff_b: String,
}

fn desk(app: &TestApp) -> Desk {
    let admin = app.admin_token();
    let dept_a = app.create_department(&admin, "land");
    let dept_b = app.create_department(&admin, "planning");
    Desk {
        coordinator: app.staff_token(&admin, "coordinator", None),
        operator: app.staff_token(&admin, "operator", None),
        staff_a: app.staff_token(&admin, "department", Some(&dept_a)),
        staff_b: app.staff_token(&admin, "department", Some(&dept_b)),
        admin,
        dept_a,
        dept_b,
    }
}

fn track(app: &TestApp, number: &str, code: &str) -> Resp {
    app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", code)], None)
}

fn investor_post(app: &TestApp, number: &str, code: &str, action: &str, body: Value) -> Resp {
    app.request(
        "POST",
        &format!("/api/v1/track/{number}/{action}"),
        None,
        &[("X-Access-Code", code)],
        Some(("application/json", body.to_string().into_bytes())),
    )
}

fn ok(r: Resp) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn created(r: Resp) -> Value {
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

/// The due date the public calendar API gives for this receipt instant.
fn expected_due(app: &TestApp, received: &str) -> String {
    let q = received.replace('+', "%2B");
    ok(app.get(&format!("/api/v1/calendar/due?received={q}"), None))["due_date"].as_str().unwrap().to_string()
}

fn assert_chain_valid(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let v = ok(app.get(&format!("/api/v1/complaints/{id}/events"), Some(token)));
    assert_eq!(v["chain_valid"], true, "{v}");
    v["events"].as_array().unwrap().clone()
}

#[test]
fn investor_filing_travels_assign_info_answer_reply_rate_close() {
    let app = spawn_app();
    let d = desk(&app);
    let r = app.post("/api/v1/complaints", None, &complaint_json("en"));
    assert_eq!(r.status, 201, "{}", r.body);
    let filed = r.json();
    let number = filed["tracking_number"].as_str().unwrap().to_string();
    let code = filed["access_code"].as_str().unwrap().to_string();
    let id = filed["id"].as_str().unwrap().to_string();
    assert!(number.starts_with("CZ-2026-") || number.starts_with("CZ-20"), "{number}");
    assert_eq!(number.len(), "CZ-2026-000001".len());
    assert_eq!(code.len(), 24);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let received = filed["received_at"].as_str().unwrap().to_string();
    assert!(received.ends_with("+08:00"));
    let due = expected_due(&app, &received);
    assert_eq!(filed["due_date"], due.as_str());

    // The investor tracks it, in their language; the page is never cached.
    assert_eq!(track(&app, &number, &code).header("cache-control"), Some("no-store"));
    let t = ok(track(&app, &number, &code));
    assert_eq!(t["status"], "received");
    assert_eq!(t["status_label"], "Received, awaiting assignment");
    assert_eq!(t["clock"]["due_date"], due.as_str());
    assert_eq!(
        t["clock"]["explanation"]["days"].as_array().unwrap().iter().filter(|d| d["counted"] == true).count(),
        7
    );
    let zh =
        ok(app.request("GET", &format!("/api/v1/track/{number}?lang=zh"), None, &[("X-Access-Code", &code)], None));
    assert_eq!(zh["status_label"], "已受理，待分派");

    // Coordination office assigns; the department sees it in its inbox, the other does not.
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/assign"),
        Some(&d.coordinator),
        &json!({"department_id": d.dept_a}),
    ));
    assert_eq!(v["status"], "assigned");
    assert_eq!(v["clock"]["due_date"], due.as_str(), "assignment does not move the clock");
    let inbox = ok(app.get("/api/v1/complaints", Some(&d.staff_a)));
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1);
    assert_eq!(ok(app.get("/api/v1/complaints", Some(&d.staff_b)))["items"].as_array().unwrap().len(), 0);
    app.get(&format!("/api/v1/complaints/{id}"), Some(&d.staff_b)).assert_problem(404, "not-found");

    // The department asks for information: the clock pauses, the investor sees the question.
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/request-info"),
        Some(&d.staff_a),
        &json!({"question": "Please send the acceptance notice."}),
    ));
    assert_eq!(v["status"], "awaiting_investor");
    assert_eq!(v["clock"]["paused"], true);
    let t = ok(track(&app, &number, &code));
    assert_eq!(t["pending_question"], "Please send the acceptance notice.");
    assert_eq!(t["can_answer"], true);
    // Nothing to rate yet.
    investor_post(&app, &number, &code, "rate", json!({"rating": "satisfied"}))
        .assert_problem(409, "illegal-transition");

    let t = ok(investor_post(&app, &number, &code, "answer", json!({"answer": "Attached as notice No. 2026-118."})));
    assert_eq!(t["status"], "assigned");
    assert_eq!(t["clock"]["paused"], false);
    // Paused and resumed on the same local day: no working day was skipped.
    assert_eq!(t["clock"]["due_date"], due.as_str());

    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&d.staff_a),
        &json!({"text": "The permit was issued today.", "outcome": "resolved"}),
    ));
    assert_eq!(v["status"], "replied");
    assert_eq!(v["clock"]["running"], false);
    assert_eq!(v["clock"]["met"], true);
    assert_eq!(v["assignments"][0]["release_reason"], "replied");

    let t = ok(investor_post(&app, &number, &code, "rate", json!({"rating": "satisfied", "comment": "Thank you"})));
    assert_eq!(t["status"], "closed");
    assert_eq!(t["rating"]["rating"], "satisfied");
    let actions: Vec<String> =
        t["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["file", "assign", "request_info", "answer_info", "reply", "rate"]);

    let events = assert_chain_valid(&app, &d.coordinator, &id);
    assert_eq!(events.len(), 6);
    investor_post(&app, &number, &code, "withdraw", json!({})).assert_problem(409, "illegal-transition");
}

#[test]
fn operator_filing_records_channel_operator_and_consent_and_travels_the_same_path() {
    let app = spawn_app();
    let d = desk(&app);
    let mut body = complaint_json("zh");
    // Staff must choose the channel and record consent.
    app.post("/api/v1/complaints", Some(&d.operator), &body).assert_problem(422, "invalid-field");
    body["channel"] = json!("hotline");
    body["contact_consent"] = json!(true);
    // A member of the public cannot claim the hotline channel.
    let v = app.post("/api/v1/complaints", None, &body).assert_problem(422, "invalid-field");
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"channel") && fields.contains(&"contact_consent"), "{fields:?}");
    // Other staff roles do not file.
    app.post("/api/v1/complaints", Some(&d.coordinator), &body).assert_problem(403, "forbidden");

    let r = app.post("/api/v1/complaints", Some(&d.operator), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let filed = r.json();
    let (id, number, code) = (
        filed["id"].as_str().unwrap(),
        filed["tracking_number"].as_str().unwrap(),
        filed["access_code"].as_str().unwrap(),
    );
    let v = ok(app.get(&format!("/api/v1/complaints/{id}"), Some(&d.coordinator)));
    assert_eq!(v["channel"], "hotline");
    assert_eq!(v["contact_consent"], true);
    assert!(v["filed_by"].is_string());

    // The operator reads the status back to the caller.
    let back = ok(app.get(&format!("/api/v1/complaints/by-number/{number}"), Some(&d.operator)));
    assert_eq!(back["status_label"], "已受理，待分派");

    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    ok(app.post(
        &format!("/api/v1/complaints/{id}/request-info"),
        Some(&d.staff_a),
        &json!({"question": "请提供项目备案证明。"}),
    ));
    ok(investor_post(&app, number, code, "answer", json!({"answer": "已提供。"})));
    ok(app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&d.staff_a),
        &json!({"text": "已答复。", "outcome": "explained"}),
    ));
    let t = ok(investor_post(&app, number, code, "rate", json!({"rating": "basically_satisfied"})));
    assert_eq!(t["status"], "closed");
    assert_eq!(t["status_label"], "已办结");
    assert_chain_valid(&app, &d.coordinator, id);
}

#[test]
fn contest_opens_a_new_clock_and_the_case_is_reassigned_and_replied() {
    let app = spawn_app();
    let d = desk(&app);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (id, number, code) = (
        filed["id"].as_str().unwrap(),
        filed["tracking_number"].as_str().unwrap(),
        filed["access_code"].as_str().unwrap(),
    );
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    ok(app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&d.staff_a),
        &json!({"text": "Not our matter.", "outcome": "not_competent"}),
    ));
    let t = ok(track(&app, number, code));
    assert_eq!(t["can_contest"], true);
    assert!(t["contest_until"].is_string());

    let t =
        ok(investor_post(&app, number, code, "contest", json!({"reason": "The reply does not answer the question."})));
    assert_eq!(t["status"], "contested");
    assert_eq!(t["clock"]["ordinal"], 2);
    assert_eq!(t["clock"]["running"], true);
    let contested_at = t["clock"]["started_at"].as_str().unwrap().to_string();
    assert_eq!(t["clock"]["due_date"], expected_due(&app, &contested_at).as_str());

    // Re-handled: assigned to the other department, which replies.
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/assign"),
        Some(&d.coordinator),
        &json!({"department_id": d.dept_b}),
    ));
    assert_eq!(v["department"]["id"], d.dept_b.as_str());
    assert_eq!(v["clock"]["ordinal"], 2);
    app.post(&format!("/api/v1/complaints/{id}/reply"), Some(&d.staff_a), &json!({"text": "x", "outcome": "resolved"}))
        .assert_problem(404, "not-found");
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&d.staff_b),
        &json!({"text": "Resolved with the land bureau.", "outcome": "resolved"}),
    ));
    assert_eq!(v["status"], "replied");
    assert_eq!(v["clock"]["met"], true);
    let events = assert_chain_valid(&app, &d.coordinator, id);
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["file", "assign", "reply", "contest", "assign", "reply"]);
}

#[test]
fn reassignment_keeps_the_clock_and_records_who_held_it() {
    let app = spawn_app();
    let d = desk(&app);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let id = filed["id"].as_str().unwrap();
    let due = filed["due_date"].clone();
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    app.post(&format!("/api/v1/complaints/{id}/reassign"), Some(&d.coordinator), &json!({"department_id": d.dept_b}))
        .assert_problem(422, "invalid-field");
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/reassign"),
        Some(&d.coordinator),
        &json!({"department_id": d.dept_b, "reason": "Planning matter"}),
    ));
    assert_eq!(v["clock"]["due_date"], due, "reassignment never restarts the clock");
    assert_eq!(v["clock"]["ordinal"], 1);
    let a = v["assignments"].as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["department_id"], d.dept_a.as_str());
    assert_eq!(a[0]["release_reason"], "reassigned");
    assert_eq!(a[0]["working_days_held"], 0);
    assert!(a[1]["released_at"].is_null());

    // The department returns it as outside its remit; the coordinator rejects it.
    let v = ok(app.post(&format!("/api/v1/complaints/{id}/return"), Some(&d.staff_b), &json!({"reason": "Not ours"})));
    assert_eq!(v["status"], "received");
    assert!(v["department"].is_null());
    assert_eq!(v["clock"]["running"], true);
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/reject"),
        Some(&d.coordinator),
        &json!({"reason": "A private contract dispute, not an investment-environment matter."}),
    ));
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["clock"]["stop_reason"], "rejected");
    assert_eq!(v["reply"]["text"], "A private contract dispute, not an investment-environment matter.");
}

#[test]
fn extensions_are_requested_decided_and_move_the_due_date() {
    let app = spawn_app();
    let d = desk(&app);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (id, number, code) = (
        filed["id"].as_str().unwrap(),
        filed["tracking_number"].as_str().unwrap(),
        filed["access_code"].as_str().unwrap(),
    );
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    app.post(
        &format!("/api/v1/complaints/{id}/extension-requests"),
        Some(&d.staff_a),
        &json!({"days": 0, "reason": "x"}),
    )
    .assert_problem(422, "invalid-field");
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/extension-requests"),
        Some(&d.staff_a),
        &json!({"days": 5, "reason": "Site inspection needed"}),
    ));
    let request_id = v["extensions"][0]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/complaints/{id}/extension-requests"),
        Some(&d.staff_a),
        &json!({"days": 2, "reason": "again"}),
    )
    .assert_problem(409, "conflict");
    // Only the coordination office decides.
    app.post(
        &format!("/api/v1/complaints/{id}/extension-requests/{request_id}/decision"),
        Some(&d.staff_a),
        &json!({"approve": true, "days": 3, "reason": "ok"}),
    )
    .assert_problem(403, "forbidden");
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/extension-requests/{request_id}/decision"),
        Some(&d.coordinator),
        &json!({"approve": true, "days": 3, "reason": "Three days are enough"}),
    ));
    assert_eq!(v["clock"]["extension_days"], 3);
    assert_eq!(v["extensions"][0]["decision"], "approved");
    let received = filed["received_at"].as_str().unwrap().replace('+', "%2B");
    let ten = ok(app.get(&format!("/api/v1/calendar/due?received={received}&days=10"), None));
    assert_eq!(v["clock"]["due_date"], ten["due_date"], "7 + 3 working days");
    // The investor is told.
    let t = ok(track(&app, number, code));
    let told = t["history"].as_array().unwrap().iter().find(|e| e["action"] == "decide_extension").expect("visible");
    assert_eq!(told["detail"]["days"], 3);
    assert!(told["detail"].get("request_id").is_none());
}

#[test]
fn idempotent_retries_return_the_first_filing() {
    let app = spawn_app();
    let body = complaint_json("en").to_string().into_bytes();
    let send = |key: &str, body: Vec<u8>| {
        app.request("POST", "/api/v1/complaints", None, &[("Idempotency-Key", key)], Some(("application/json", body)))
    };
    let first = send("b5f1d1b2-7c9e-4f55-9d2a-4c1b0f3e8a11", body.clone());
    assert_eq!(first.status, 201, "{}", first.body);
    let again = send("b5f1d1b2-7c9e-4f55-9d2a-4c1b0f3e8a11", body.clone());
    assert_eq!(again.status, 200, "{}", again.body);
    let (a, b) = (first.json(), again.json());
    assert_eq!(a["tracking_number"], b["tracking_number"]);
    assert_eq!(a["access_code"], b["access_code"], "the retry can still show the access code");
    assert_eq!(b["replayed"], true);
    // Same key, different complaint: refused.
    let mut other = complaint_json("en");
    other["subject"] = json!("Another matter");
    send("b5f1d1b2-7c9e-4f55-9d2a-4c1b0f3e8a11", other.to_string().into_bytes())
        .assert_problem(409, "idempotency-key-reused");
    send("short", body.clone()).assert_problem(400, "bad-request");
    // Without a key, the same body is a new complaint.
    let third = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    assert_ne!(third["tracking_number"], a["tracking_number"]);
}

#[test]
fn fifty_parallel_filings_get_fifty_distinct_gapless_numbers() {
    let app = spawn_app_with_generous_limits();
    let numbers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                s.spawn(|| {
                    let r = app.post("/api/v1/complaints", None, &complaint_json("en"));
                    assert_eq!(r.status, 201, "{}", r.body);
                    r.json()["tracking_number"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seqs: Vec<u32> = numbers.iter().map(|n| n.rsplit('-').next().unwrap().parse().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
}

/// Filings that arrive together commit together; one refused in the middle of them (an unknown
/// department, found inside the filing's transaction) or retried with the same key must neither
/// undo the others nor leave a hole in the numbers.
#[test]
fn parallel_filings_mixed_with_refused_ones_and_retries_keep_their_numbers_gapless() {
    let app = spawn_app_with_generous_limits();
    let retried_key = "c0ffee00-1111-4222-8333-444455556666";
    let retried_body = complaint_json("zh").to_string().into_bytes();
    let outcomes: Vec<(usize, u16, serde_json::Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..48)
            .map(|i| {
                let (app, retried_body) = (&app, &retried_body);
                s.spawn(move || {
                    let r = match i % 4 {
                        1 => {
                            let mut body = complaint_json("en");
                            body["department_id"] = json!(format!("no-such-department-{i}"));
                            app.post("/api/v1/complaints", None, &body)
                        }
                        3 => app.request(
                            "POST",
                            "/api/v1/complaints",
                            None,
                            &[("Idempotency-Key", retried_key)],
                            Some(("application/json", retried_body.clone())),
                        ),
                        _ => app.post("/api/v1/complaints", None, &complaint_json("en")),
                    };
                    let body = if r.status == 422 { r.assert_problem(422, "invalid-field") } else { r.json() };
                    (i, r.status, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seqs = Vec::new();
    let mut retried = Vec::new();
    for (i, status, body) in &outcomes {
        match i % 4 {
            1 => {
                assert_eq!(*status, 422, "{body}");
                assert_eq!(body["errors"][0]["field"], "department_id", "{body}");
            }
            3 => {
                assert!(*status == 201 || *status == 200, "{status} {body}");
                retried.push((*status, body["tracking_number"].clone(), body["access_code"].clone()));
            }
            _ => assert_eq!(*status, 201, "{body}"),
        }
        if *status == 201 {
            let number = body["tracking_number"].as_str().unwrap();
            seqs.push(number.rsplit('-').next().unwrap().parse::<u32>().unwrap());
        }
    }
    // The twelve retries with one key are one complaint: one created, eleven replays of it.
    assert_eq!(retried.iter().filter(|(status, _, _)| *status == 201).count(), 1, "{retried:?}");
    assert!(retried.iter().all(|(_, number, code)| (number, code) == (&retried[0].1, &retried[0].2)), "{retried:?}");
    // 24 plain filings and the retried one; the 12 refused ones took no number.
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=25).collect::<Vec<_>>());
}

fn spawn_app_with_generous_limits() -> TestApp {
    common::spawn_app_with(|s| {
        s.complaints.filings_per_client_per_hour = 1000;
        s.database.pool_size = 8;
    })
}

#[test]
fn two_simultaneous_replies_one_wins_one_conflicts() {
    let app = spawn_app();
    let d = desk(&app);
    let id = app.post("/api/v1/complaints", None, &complaint_json("en")).json()["id"].as_str().unwrap().to_string();
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let (app, id, token) = (&app, &id, &d.staff_a);
                s.spawn(move || {
                    app.post(
                        &format!("/api/v1/complaints/{id}/reply"),
                        Some(token),
                        &json!({"text": format!("reply {i}"), "outcome": "resolved"}),
                    )
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .map(|r| {
                if r.status == 409 {
                    let v = r.assert_problem(409, "illegal-transition");
                    assert_eq!(v["current_status"], "replied");
                }
                r.status
            })
            .collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![200, 409], "{statuses:?}");
    let events = assert_chain_valid(&app, &d.coordinator, &id);
    assert_eq!(events.iter().filter(|e| e["action"] == "reply").count(), 1);
}

#[test]
fn wrong_codes_look_like_unknown_numbers_and_are_rate_limited() {
    let app = common::spawn_app_with(|s| s.complaints.tracking_lookups_per_client_per_minute = 5);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let number = filed["tracking_number"].as_str().unwrap();
    let wrong = track(&app, number, "AAAA-AAAA-AAAA-AAAA-AAAA").assert_problem(404, "not-found");
    let unknown = track(&app, "CZ-2026-999999", "AAAA-AAAA-AAAA-AAAA-AAAA").assert_problem(404, "not-found");
    assert_eq!(wrong, unknown);
    app.get(&format!("/api/v1/track/{number}"), None).assert_problem(401, "unauthenticated");
    // The typed code tolerates case and spaces.
    let code = filed["access_code"].as_str().unwrap().to_lowercase().replace('-', " ");
    assert_eq!(track(&app, number, &code).status, 200);
    let mut limited = false;
    for _ in 0..5 {
        if track(&app, number, "AAAA-AAAA-AAAA-AAAA-AAAA").status == 429 {
            limited = true;
        }
    }
    assert!(limited, "lookups per client are limited");
}

#[test]
fn refused_lookups_and_refused_filings_count_against_the_client_too() {
    // The count is made in the request's own database hop when the request goes that far, and
    // on its own when the request is refused before (a missing code, a form with mistakes): a
    // client cannot probe for free by sending what is refused first.
    let app = common::spawn_app_with(|s| {
        s.complaints.tracking_lookups_per_client_per_minute = 3;
        s.complaints.filings_per_client_per_hour = 3;
    });
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (number, code) = (filed["tracking_number"].as_str().unwrap(), filed["access_code"].as_str().unwrap());
    for _ in 0..2 {
        app.get(&format!("/api/v1/track/{number}"), None).assert_problem(401, "unauthenticated");
    }
    assert_eq!(track(&app, number, code).status, 200, "the third lookup is within the budget");
    track(&app, number, code).assert_problem(429, "rate-limited");
    app.get(&format!("/api/v1/track/{number}"), None).assert_problem(429, "rate-limited");

    let mut bad = complaint_json("en");
    bad["subject"] = json!("");
    app.post("/api/v1/complaints", None, &bad).assert_problem(422, "invalid-field");
    app.post("/api/v1/complaints", None, &bad).assert_problem(422, "invalid-field");
    let r = app.post("/api/v1/complaints", None, &complaint_json("en"));
    r.assert_problem(429, "rate-limited");
    assert!(r.header("retry-after").is_some());
}

#[test]
fn bad_filings_are_refused_with_the_field_named() {
    let app = spawn_app();
    let mut body = complaint_json("en");
    body["complainant"]["email"] = json!("not-an-email");
    body["subject"] = json!("x".repeat(201));
    body["facts"] = json!("");
    let v = app.post("/api/v1/complaints", None, &body).assert_problem(422, "invalid-field");
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["complainant.email", "subject", "facts"]);
    let mut body = complaint_json("en");
    body["complainant"]["language"] = json!("fr");
    assert_eq!(
        app.post("/api/v1/complaints", None, &body).assert_problem(422, "invalid-field")["errors"][0]["field"],
        "complainant.language"
    );
    let mut body = complaint_json("en");
    body["priority"] = json!("urgent");
    assert_eq!(
        app.post("/api/v1/complaints", None, &body).assert_problem(422, "invalid-field")["errors"][0]["field"],
        "priority"
    );
    let mut body = complaint_json("en");
    body["review_or_lawsuit"] = json!("no");
    assert_eq!(
        app.post("/api/v1/complaints", None, &body).assert_problem(422, "invalid-field")["errors"][0]["field"],
        "review_or_lawsuit"
    );
    let mut body = complaint_json("en");
    body["department_id"] = json!("no-such-department");
    app.post("/api/v1/complaints", None, &body).assert_problem(422, "invalid-field");
    let invalid_utf8 = b"{\"subject\":\"\xc3\x28\"}".to_vec();
    app.request("POST", "/api/v1/complaints", None, &[], Some(("application/json", invalid_utf8)))
        .assert_problem(400, "bad-request");
    let mut huge = complaint_json("en");
    huge["facts"] = json!("x".repeat(400_000));
    app.post("/api/v1/complaints", None, &huge).assert_problem(413, "payload-too-large");
    // Nothing was filed by any of these.
    let admin = app.admin_token();
    let coordinator = app.staff_token(&admin, "coordinator", None);
    assert_eq!(ok(app.get("/api/v1/complaints", Some(&coordinator)))["items"].as_array().unwrap().len(), 0);
}

#[test]
fn audit_verify_detects_a_hand_edited_event() {
    use diesel::prelude::*;
    let app = spawn_app();
    let d = desk(&app);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (id, number) =
        (filed["id"].as_str().unwrap().to_string(), filed["tracking_number"].as_str().unwrap().to_string());
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    let run_verify = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_anshang"));
        cmd.current_dir(app.data_dir.path())
            .args(["audit", "verify"])
            .env("ANSHANG__DATABASE__URL", &app.database.url)
            .env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path());
        cmd.output().unwrap()
    };
    let out = run_verify();
    assert!(out.status.success(), "{} {}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 complaint events"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Someone with database access rewrites who the complaint was assigned to.
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    let changed = diesel::sql_query(format!(
        "UPDATE complaint_events SET detail = REPLACE(detail, '{}', '{}') WHERE action = 'assign'",
        d.dept_a, d.dept_b
    ))
    .execute(&mut *conn)
    .unwrap();
    assert_eq!(changed, 1);
    let out = run_verify();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("TAMPERED complaint {number} (id {id}) at event 2")),
        "the report names the tracking number: {stdout}"
    );
    let v = ok(app.get(&format!("/api/v1/complaints/{id}/events"), Some(&d.coordinator)));
    assert_eq!(v["chain_valid"], false);
    assert_eq!(v["chain_break"]["seq"], 2);
}

/// Every complaint endpoint × every role (and no token). Allowed roles never get 401/403;
/// refused ones get 403; without a token 401 (public endpoints excepted).
#[test]
fn authorisation_matrix_covers_every_complaint_endpoint() {
    let app = spawn_app();
    let d = desk(&app);
    let commission = app.staff_token(&d.admin, "commission", None);
    let tokens = [
        ("operator", d.operator.clone()),
        ("department", d.staff_a.clone()),
        ("coordinator", d.coordinator.clone()),
        ("commission", commission),
        ("admin", d.admin.clone()),
    ];
    // Not confidential, so the role rules alone decide (confidentiality is tested separately).
    let mut open_body = complaint_json("en");
    open_body["confidential"] = json!(false);
    let filed = app.post("/api/v1/complaints", None, &open_body).json();
    let id = filed["id"].as_str().unwrap().to_string();
    let number = filed["tracking_number"].as_str().unwrap().to_string();
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    let body = |v: Value| Some(v);
    let endpoints: Vec<(&str, String, Option<Value>, &[&str])> = vec![
        ("GET", "/api/v1/complaints".into(), None, &["department", "coordinator"]),
        ("GET", format!("/api/v1/complaints/{id}"), None, &["department", "coordinator"]),
        ("GET", format!("/api/v1/complaints/{id}/events"), None, &["department", "coordinator", "commission", "admin"]),
        ("GET", format!("/api/v1/complaints/by-number/{number}"), None, &["operator", "coordinator"]),
        ("POST", format!("/api/v1/complaints/{id}/assign"), body(json!({"department_id": d.dept_b})), &["coordinator"]),
        (
            "POST",
            format!("/api/v1/complaints/{id}/reassign"),
            body(json!({"department_id": d.dept_a, "reason": "r"})),
            &["coordinator"],
        ),
        ("POST", format!("/api/v1/complaints/{id}/reject"), body(json!({"reason": "r"})), &["coordinator"]),
        ("POST", format!("/api/v1/complaints/{id}/return"), body(json!({"reason": "r"})), &["department"]),
        (
            "POST",
            format!("/api/v1/complaints/{id}/extension-requests"),
            body(json!({"days": 0, "reason": "r"})),
            &["department"],
        ),
        (
            "POST",
            format!("/api/v1/complaints/{id}/extension-requests/x/decision"),
            body(json!({"approve": false, "reason": "r"})),
            &["coordinator"],
        ),
        ("POST", format!("/api/v1/complaints/{id}/request-info"), body(json!({"question": ""})), &["department"]),
        (
            "POST",
            format!("/api/v1/complaints/{id}/reply"),
            body(json!({"text": "", "outcome": "resolved"})),
            &["department"],
        ),
        ("POST", format!("/api/v1/complaints/{id}/withdraw"), body(json!({"reason": ""})), &["operator"]),
        ("POST", format!("/api/v1/complaints/{id}/notes"), body(json!({"text": ""})), &["department", "coordinator"]),
        ("PUT", "/api/v1/calendar/2027".into(), None, &["admin"]),
        ("POST", format!("/api/v1/complaints/{id}/attachments?filename=a.txt"), None, &["operator", "coordinator"]),
        (
            "GET",
            format!("/api/v1/complaints/{id}/attachments/none"),
            None,
            &["department", "coordinator", "commission", "admin"],
        ),
        ("GET", "/api/v1/admin/outbox".into(), None, &["admin"]),
        ("POST", "/api/v1/admin/outbox/none/retry".into(), None, &["admin"]),
    ];
    for (method, path, body, allowed) in &endpoints {
        let send = |token: Option<&str>| {
            let b = body.as_ref().map(|b| ("application/json", b.to_string().into_bytes()));
            app.request(
                method,
                path,
                token,
                &[],
                b.or(Some(("application/toml", b"year = 1".to_vec()))).filter(|_| *method != "GET"),
            )
        };
        send(None).assert_problem(401, "unauthenticated");
        for (role, token) in &tokens {
            let r = send(Some(token));
            if allowed.contains(role) {
                assert!(r.status != 401 && r.status != 403, "{role} refused on {method} {path}: {}", r.body);
            } else {
                r.assert_problem(403, "forbidden");
            }
        }
    }
    // Public endpoints: filing, tracking (code instead of token), the calendar.
    assert_eq!(app.get(&format!("/api/v1/track/{number}"), None).status, 401);
    assert_eq!(track(&app, &number, filed["access_code"].as_str().unwrap()).status, 200);
    assert_eq!(app.get("/api/v1/calendar/2026", None).status, 200);
    assert_eq!(app.get("/api/v1/calendar/due?received=2026-01-05T09:00:00Z", None).status, 200);
    assert_eq!(app.post("/api/v1/complaints", None, &complaint_json("zh")).status, 201);
}

#[test]
fn mofcom_accept_and_conclude_clocks_run_when_enabled() {
    let app = common::spawn_app_with(|s| {
        s.clocks.accept.enabled = true;
        s.clocks.conclude.enabled = true;
    });
    let d = desk(&app);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (id, number, code) = (
        filed["id"].as_str().unwrap(),
        filed["tracking_number"].as_str().unwrap(),
        filed["access_code"].as_str().unwrap(),
    );
    let v = ok(app.get(&format!("/api/v1/complaints/{id}"), Some(&d.coordinator)));
    let clocks = v["other_clocks"].as_array().unwrap();
    assert_eq!(clocks.len(), 1);
    assert_eq!(clocks[0]["kind"], "accept");
    assert_eq!(clocks[0]["working_days"], 7);
    assert_eq!(clocks[0]["running"], true);

    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/assign"),
        Some(&d.coordinator),
        &json!({"department_id": d.dept_a}),
    ));
    let by_kind = |v: &Value, kind: &str| {
        v["other_clocks"].as_array().unwrap().iter().find(|c| c["kind"] == kind).cloned().unwrap()
    };
    assert_eq!(by_kind(&v, "accept")["stop_reason"], "accepted");
    assert_eq!(by_kind(&v, "accept")["met"], true);
    let conclude = by_kind(&v, "conclude");
    assert_eq!(conclude["working_days"], 60);
    assert_eq!(conclude["running"], true);
    let received = conclude["started_at"].as_str().unwrap().replace('+', "%2B");
    let sixty = ok(app.get(&format!("/api/v1/calendar/due?received={received}&days=60"), None));
    assert_eq!(conclude["due_date"], sixty["due_date"]);

    ok(app.post(
        &format!("/api/v1/complaints/{id}/request-info"),
        Some(&d.staff_a),
        &json!({"question": "Which plot?"}),
    ));
    let v = ok(app.get(&format!("/api/v1/complaints/{id}"), Some(&d.coordinator)));
    assert_eq!(by_kind(&v, "conclude")["paused"], true, "the conclude clock also waits for the investor");
    ok(investor_post(&app, number, code, "answer", json!({"answer": "Plot 7"})));
    ok(app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&d.staff_a),
        &json!({"text": "Done.", "outcome": "resolved"}),
    ));
    let v = ok(app.get(&format!("/api/v1/complaints/{id}"), Some(&d.coordinator)));
    assert_eq!(by_kind(&v, "conclude")["running"], true, "concluded only when closed");
    ok(investor_post(&app, number, code, "rate", json!({"rating": "satisfied"})));
    let v = ok(app.get(&format!("/api/v1/complaints/{id}"), Some(&d.coordinator)));
    assert_eq!(by_kind(&v, "conclude")["stop_reason"], "closed");

    // Off by default.
    let plain = spawn_app();
    let admin = plain.admin_token();
    let coordinator = plain.staff_token(&admin, "coordinator", None);
    let id = plain.post("/api/v1/complaints", None, &complaint_json("en")).json()["id"].as_str().unwrap().to_string();
    assert_eq!(ok(plain.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)))["other_clocks"], json!([]));
}

#[test]
fn attachments_are_sniffed_sanitised_limited_and_kept_confidential() {
    let app = common::spawn_app_with(|s| {
        s.complaints.attachment_max_bytes = 64 * 1024;
        s.complaints.attachment_max_count = 3;
    });
    let d = desk(&app);
    let commission = app.staff_token(&d.admin, "commission", None);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json(); // confidential: true
    let (id, number, code) = (
        filed["id"].as_str().unwrap(),
        filed["tracking_number"].as_str().unwrap(),
        filed["access_code"].as_str().unwrap(),
    );
    let upload = |name: &str, bytes: &[u8]| {
        app.request(
            "POST",
            &format!("/api/v1/track/{number}/attachments?filename={name}"),
            None,
            &[("X-Access-Code", code)],
            Some(("application/octet-stream", bytes.to_vec())),
        )
    };
    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let t = ok(upload("..%2F..%2Fetc%2Fpermit%20notice.pdf", &pdf));
    let a = &t["attachments"][0];
    assert_eq!(a["filename"], "permit notice.pdf", "path components are dropped");
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["size_bytes"], pdf.len());
    let aid = a["id"].as_str().unwrap().to_string();
    // The type comes from the bytes, not the name or the declared type.
    upload("permit.pdf", b"MZ\x90\x00\x03\x00\x00\x00").assert_problem(422, "invalid-field");
    upload("notes.txt", b"\x00\x01\x02").assert_problem(422, "invalid-field");
    upload("big.pdf", &[b"%PDF-".as_slice(), &vec![b'x'; 70 * 1024]].concat()).assert_problem(413, "payload-too-large");
    upload("", &pdf).assert_problem(422, "invalid-field");
    // Wrong code: same answer as ever.
    app.request(
        "POST",
        &format!("/api/v1/track/{number}/attachments?filename=a.pdf"),
        None,
        &[("X-Access-Code", "AAAA-AAAA-AAAA-AAAA-AAAA")],
        Some(("application/octet-stream", pdf.clone())),
    )
    .assert_problem(404, "not-found");

    // The investor downloads their own file, byte for byte, with a safe disposition.
    let r = app.request(
        "GET",
        &format!("/api/v1/track/{number}/attachments/{aid}"),
        None,
        &[("X-Access-Code", code)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_bytes(), pdf.as_slice());
    assert!(r.header("content-disposition").unwrap().starts_with("attachment;"));
    // The content is stored in the database under its hash, nowhere near the name given.
    let sha = sha256_hex(&pdf);
    assert_eq!(stored_contents(&app), vec![(sha, pdf.len() as i64, 1)]);
    assert_eq!(stored_files(&app.data_dir.path().join("attachments")), Vec::<String>::new(), "nothing on disk");

    // Confidential: the coordination office and the assigned department only.
    let path = format!("/api/v1/complaints/{id}/attachments/{aid}");
    assert_eq!(app.get(&path, Some(&d.coordinator)).status, 200);
    app.get(&path, Some(&commission)).assert_problem(403, "forbidden");
    app.get(&path, Some(&d.admin)).assert_problem(403, "forbidden");
    app.get(&path, Some(&d.staff_a)).assert_problem(404, "not-found");
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    assert_eq!(app.get(&path, Some(&d.staff_a)).status, 200);
    app.get(&path, Some(&d.staff_b)).assert_problem(404, "not-found");

    // The hotline adds a file for a caller; the count limit holds.
    let r = app.request(
        "POST",
        &format!("/api/v1/complaints/{id}/attachments?filename=photo.png"),
        Some(&d.operator),
        &[],
        Some(("image/png", b"\x89PNG\r\n\x1a\n0000".to_vec())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    app.request(
        "POST",
        &format!("/api/v1/complaints/{id}/attachments?filename=x.png"),
        Some(&d.staff_a),
        &[],
        Some(("image/png", b"\x89PNG\r\n\x1a\n".to_vec())),
    )
    .assert_problem(403, "forbidden");
    ok(upload("third.txt", "第三份材料".as_bytes()));
    upload("fourth.txt", b"four").assert_problem(409, "too-many-attachments");
    let v = ok(app.get(&format!("/api/v1/complaints/{id}"), Some(&d.coordinator)));
    assert_eq!(v["attachments"].as_array().unwrap().len(), 3);
    assert_chain_valid(&app, &d.coordinator, id);

    // Non-confidential complaints' files are open to oversight too.
    let mut open_body = complaint_json("en");
    open_body["confidential"] = json!(false);
    let filed = app.post("/api/v1/complaints", None, &open_body).json();
    let (id2, number2, code2) = (
        filed["id"].as_str().unwrap(),
        filed["tracking_number"].as_str().unwrap(),
        filed["access_code"].as_str().unwrap(),
    );
    let t = ok(app.request(
        "POST",
        &format!("/api/v1/track/{number2}/attachments?filename=a.pdf"),
        None,
        &[("X-Access-Code", code2)],
        Some(("application/pdf", pdf.clone())),
    ));
    let aid2 = t["attachments"][0]["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/v1/complaints/{id2}/attachments/{aid2}"), Some(&commission)).status, 200);
}

#[test]
fn public_filing_is_rate_limited_per_client_but_not_for_the_hotline() {
    let app = common::spawn_app_with(|s| s.complaints.filings_per_client_per_hour = 3);
    for _ in 0..3 {
        assert_eq!(app.post("/api/v1/complaints", None, &complaint_json("en")).status, 201);
    }
    let r = app.post("/api/v1/complaints", None, &complaint_json("en"));
    r.assert_problem(429, "rate-limited");
    assert!(r.header("retry-after").is_some());
    // Operators file for many callers from one desk: their filings are not limited this way.
    let d = desk(&app);
    let mut body = complaint_json("zh");
    body["channel"] = json!("hotline");
    body["contact_consent"] = json!(true);
    assert_eq!(app.post("/api/v1/complaints", Some(&d.operator), &body).status, 201);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn database(app: &TestApp) -> anshang::db::Pool {
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap()
}

/// The stored contents: (sha256, size, chunk rows), by hash.
fn stored_contents(app: &TestApp) -> Vec<(String, i64, i64)> {
    use anshang::db::schema::{attachment_blobs as b, attachment_chunks as c};
    use diesel::prelude::*;
    let mut conn = database(app).get().unwrap();
    let blobs: Vec<(String, i64)> =
        b::table.select((b::sha256, b::size_bytes)).order(b::sha256).load(&mut conn).unwrap();
    blobs
        .into_iter()
        .map(|(sha, size)| {
            let chunks: i64 = c::table.filter(c::sha256.eq(&sha)).count().get_result(&mut conn).unwrap();
            (sha, size, chunks)
        })
        .collect()
}

/// The attachment directory's entries (files and temporary files alike).
fn stored_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn refused_uploads_leave_nothing_behind_and_serve_removes_old_temporary_files() {
    // A stray temporary file from a stop while an upload was received is removed at start once
    // it is old enough not to be an upload in progress; a younger one is left.
    let attachments = tempfile::tempdir().unwrap();
    let stray = format!(".{}.{}.tmp", "ab".repeat(32), "0".repeat(32));
    let old = std::fs::File::create(attachments.path().join(&stray)).unwrap();
    old.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600)).unwrap();
    drop(old);
    let young = ".spool.0123456789abcdef.tmp".to_string();
    std::fs::write(attachments.path().join(&young), b"in progress").unwrap();
    let dir = attachments.path().to_path_buf();
    let app = common::spawn_app_with(move |s| {
        s.complaints.attachment_dir = dir;
        s.complaints.attachment_max_count = 1;
    });
    let dir = attachments.path();
    assert_eq!(stored_files(dir), vec![young.clone()], "the old temporary file is removed at start");
    std::fs::remove_file(dir.join(&young)).unwrap();

    let d = desk(&app);
    let file = |subject: &str| {
        let mut body = complaint_json("en");
        body["subject"] = json!(subject);
        let filed = app.post("/api/v1/complaints", None, &body).json();
        (
            filed["id"].as_str().unwrap().to_string(),
            filed["tracking_number"].as_str().unwrap().to_string(),
            filed["access_code"].as_str().unwrap().to_string(),
        )
    };
    let upload = |number: &str, code: &str, bytes: &[u8]| {
        app.request(
            "POST",
            &format!("/api/v1/track/{number}/attachments?filename=permit.pdf"),
            None,
            &[("X-Access-Code", code)],
            Some(("application/octet-stream", bytes.to_vec())),
        )
    };
    let pdf = |n: usize| [b"%PDF-1.7\n".as_slice(), &vec![b'x'; n]].concat();

    let (id, number, code) = file("one file allowed");
    ok(upload(&number, &code, &pdf(1000)));
    assert_eq!(stored_files(dir), Vec::<String>::new(), "the temporary file is gone once stored");
    let after_first = stored_contents(&app);
    assert_eq!(after_first.len(), 1, "{after_first:?}");

    // Over the count: refused, and nothing written.
    upload(&number, &code, &pdf(2000)).assert_problem(409, "too-many-attachments");
    let r = app.request(
        "POST",
        &format!("/api/v1/complaints/{id}/attachments?filename=x.pdf"),
        Some(&d.operator),
        &[],
        Some(("application/pdf", pdf(3000))),
    );
    r.assert_problem(409, "too-many-attachments");
    // No such complaint.
    let r = app.request(
        "POST",
        "/api/v1/complaints/no-such-id/attachments?filename=x.pdf",
        Some(&d.operator),
        &[],
        Some(("application/pdf", pdf(4000))),
    );
    r.assert_problem(404, "not-found");
    // A closed complaint.
    let (_, closed, closed_code) = file("withdrawn at once");
    let w = app.request(
        "POST",
        &format!("/api/v1/track/{closed}/withdraw"),
        None,
        &[("X-Access-Code", &closed_code)],
        Some(("application/json", b"{}".to_vec())),
    );
    assert!(w.status < 300, "{}", w.body);
    upload(&closed, &closed_code, &pdf(5000)).assert_problem(409, "illegal-transition");
    // Refused by type after the checks: nothing either.
    let (_, other, other_code) = file("wrong type");
    upload(&other, &other_code, b"MZ\x90\x00 not a pdf").assert_problem(422, "invalid-field");

    assert_eq!(stored_contents(&app), after_first, "refused uploads left contents behind");
    assert_eq!(stored_files(dir), Vec::<String>::new(), "refused uploads left files behind");
}

#[test]
fn one_content_is_stored_once_in_chunks_and_streamed_back_whole() {
    let app = common::spawn_app_with(|s| s.complaints.attachment_max_bytes = 2 * 1024 * 1024);
    let d = desk(&app);
    // 600 KiB: three chunks of at most 256 KiB.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..600 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
    let mut uploaded = Vec::new();
    for subject in ["first", "second"] {
        let mut body = complaint_json("en");
        body["subject"] = json!(subject);
        let filed = app.post("/api/v1/complaints", None, &body).json();
        let (id, number, code) = (
            filed["id"].as_str().unwrap().to_string(),
            filed["tracking_number"].as_str().unwrap().to_string(),
            filed["access_code"].as_str().unwrap().to_string(),
        );
        let t = ok(app.request(
            "POST",
            &format!("/api/v1/track/{number}/attachments?filename=same.pdf"),
            None,
            &[("X-Access-Code", &code)],
            Some(("application/octet-stream", pdf.clone())),
        ));
        uploaded.push((id, t["attachments"][0]["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(stored_contents(&app), vec![(sha256_hex(&pdf), pdf.len() as i64, 3)], "one copy of one content");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for (id, aid) in &uploaded {
        let mut r = agent
            .get(app.url(&format!("/api/v1/complaints/{id}/attachments/{aid}")))
            .header("Authorization", format!("Bearer {}", d.coordinator))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let length = r.headers().get("content-length").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(length, Some(pdf.len().to_string()));
        let bytes = r.body_mut().with_config().limit(10 * 1024 * 1024).read_to_vec().unwrap();
        assert!(bytes == pdf, "identical bytes");
    }
}

#[test]
fn files_an_earlier_version_kept_on_disk_are_imported_at_start() {
    let app = spawn_app();
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (number, code) = (filed["tracking_number"].as_str().unwrap(), filed["access_code"].as_str().unwrap());
    let text = "材料：土地使用证明\n".repeat(50);
    let t = ok(app.request(
        "POST",
        &format!("/api/v1/track/{number}/attachments?filename=note.txt"),
        None,
        &[("X-Access-Code", code)],
        Some(("application/octet-stream", text.clone().into_bytes())),
    ));
    let aid = t["attachments"][0]["id"].as_str().unwrap().to_string();
    // As an earlier version left it: the row names the content, the file is on disk.
    let sha = sha256_hex(text.as_bytes());
    {
        use anshang::db::schema::{attachment_blobs as b, attachment_chunks as c};
        use diesel::prelude::*;
        let mut conn = database(&app).get().unwrap();
        diesel::delete(c::table).execute(&mut conn).unwrap();
        diesel::delete(b::table).execute(&mut conn).unwrap();
    }
    let dir = app.data_dir.path().join("attachments");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&sha), &text).unwrap();
    // Not in the database: this instance cannot serve it.
    let r = app.request(
        "GET",
        &format!("/api/v1/track/{number}/attachments/{aid}"),
        None,
        &[("X-Access-Code", code)],
        None,
    );
    assert_eq!(r.status, 500);

    // The upgraded version starts (a second instance on the same database and directory).
    let settings = app.settings.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let started = anshang::app::Application::build(settings).unwrap();
            tx.send(started.port()).unwrap();
            let _ = started.run().await;
        })
    });
    let port = rx.recv().unwrap();
    assert_eq!(stored_contents(&app), vec![(sha.clone(), text.len() as i64, 1)], "imported at start");
    assert!(dir.join(&sha).is_file(), "the file is left where it was");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent
        .get(format!("http://127.0.0.1:{port}/api/v1/track/{number}/attachments/{aid}"))
        .header("X-Access-Code", code)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.body_mut().read_to_string().unwrap(), text, "identical bytes");
    // And the first instance serves it too, from the database.
    let r = app.request(
        "GET",
        &format!("/api/v1/track/{number}/attachments/{aid}"),
        None,
        &[("X-Access-Code", code)],
        None,
    );
    assert_eq!(r.body, text);
}

#[test]
fn one_address_gets_a_few_investor_emails_a_day_however_many_complaints_name_it() {
    let app = common::spawn_app_with(|s| s.complaints.filings_per_client_per_hour = 100);
    let d = desk(&app);
    // One anonymous client files eight complaints with a victim's address (varied in case and
    // +tag) and a phishing subject, and withdraws each.
    for i in 0..8 {
        let mut body = complaint_json("en");
        body["complainant"]["email"] = json!(format!("Victim+{i}@Example.com"));
        body["subject"] = json!("Your account is locked: sign in at http://phish.example/login");
        let filed = app.post("/api/v1/complaints", None, &body);
        assert_eq!(filed.status, 201, "the filing itself is accepted: {}", filed.body);
        let filed = filed.json();
        let (number, code) = (filed["tracking_number"].as_str().unwrap(), filed["access_code"].as_str().unwrap());
        assert!(!code.is_empty(), "the code is shown");
        let w = app.request(
            "POST",
            &format!("/api/v1/track/{number}/withdraw"),
            None,
            &[("X-Access-Code", code)],
            Some(("application/json", b"{}".to_vec())),
        );
        assert!(w.status < 300, "{}", w.body);
    }
    let queued = |app: &TestApp| -> Vec<Value> {
        let r = app.get("/api/v1/admin/outbox?limit=200", Some(&d.admin));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["recipient"].as_str().unwrap().to_lowercase().ends_with("@example.com"))
            .cloned()
            .collect()
    };
    assert_eq!(queued(&app).len(), 5, "at most five investor emails a day to one address");

    // The administrators see what was withheld, and why.
    let withheld = app.get("/api/v1/admin/mail/withheld", Some(&d.admin));
    assert_eq!(withheld.status, 200, "{}", withheld.body);
    let withheld = withheld.json();
    assert_eq!(withheld.as_array().unwrap().len(), 11, "{withheld}");
    assert!(withheld[0]["reason"].as_str().unwrap().contains("last 24 hours"), "{withheld}");
    assert_eq!(withheld[0]["recipient"], "v***@example.com");
    app.get("/api/v1/admin/mail/withheld", Some(&d.coordinator)).assert_problem(403, "forbidden");

    // The hotline files for a caller: that receipt is not something an anonymous client caused.
    let mut body = complaint_json("zh");
    body["complainant"]["email"] = json!("victim@example.com");
    body["channel"] = json!("hotline");
    body["contact_consent"] = json!(true);
    assert_eq!(app.post("/api/v1/complaints", Some(&d.operator), &body).status, 201);
    assert_eq!(queued(&app).len(), 6);

    // The receipts and closing notices quote nothing the filer typed.
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    use anshang::db::schema::outbox;
    use diesel::prelude::*;
    let bodies: Vec<(String, Option<String>, Option<String>)> = outbox::table
        .select((outbox::subject, outbox::text_body, outbox::html_body))
        .load(&mut pool.get().unwrap())
        .unwrap();
    assert!(!bodies.is_empty());
    for (subject, text, html) in bodies {
        let all = format!("{subject}{}{}", text.unwrap_or_default(), html.unwrap_or_default());
        assert!(!all.contains("phish.example") && !all.contains("account is locked"), "{all}");
    }
}

/// The chain recipe before it was keyed (plain SHA-256 over the length-prefixed fields): what
/// anyone with the source and database access can compute.
fn unkeyed_rechain(conn: &mut anshang::db::DbConnection, complaint_id: &str) {
    use anshang::db::schema::complaint_events;
    use diesel::prelude::*;
    use sha2::Digest;
    let mut prev = anshang::complaints::events::GENESIS_HASH.to_string();
    for e in anshang::complaints::events::for_complaint(conn, &anshang::ids::ComplaintId::new(complaint_id)).unwrap() {
        let at = e.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
        let seq = e.seq.to_string();
        let fields = [
            prev.as_str(),
            e.complaint_id.as_str(),
            &seq,
            &at,
            &e.actor_kind,
            e.actor_id.as_deref().unwrap_or("\u{0}"),
            &e.action,
            e.from_status.as_deref().unwrap_or("\u{0}"),
            &e.to_status,
            &e.detail,
        ];
        let mut h = sha2::Sha256::new();
        for f in fields {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        h.update([e.investor_visible as u8]);
        let hash = hex::encode(h.finalize());
        diesel::update(complaint_events::table.find(&e.id))
            .set((complaint_events::prev_hash.eq(&prev), complaint_events::hash.eq(&hash)))
            .execute(conn)
            .unwrap();
        prev = hash;
    }
}

#[test]
fn a_history_rechained_without_the_key_does_not_verify_and_old_trails_are_resealed_once() {
    use diesel::prelude::*;
    let app = spawn_app();
    let d = desk(&app);
    let id = app.post("/api/v1/complaints", None, &complaint_json("en")).json()["id"].as_str().unwrap().to_string();
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_anshang"))
            .current_dir(app.data_dir.path())
            .args(args)
            .env("ANSHANG__DATABASE__URL", &app.database.url)
            .env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let (intact, said) = cli(&["audit", "verify"]);
    assert!(intact && said.contains("admin log entries verified"), "{said}");
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();

    // A database administrator rewrites the assignment and re-chains the history the old way.
    diesel::sql_query(format!(
        "UPDATE complaint_events SET detail = REPLACE(detail, '{}', '{}') WHERE action = 'assign'",
        d.dept_a, d.dept_b
    ))
    .execute(&mut *conn)
    .unwrap();
    unkeyed_rechain(&mut conn, &id);
    let (intact, said) = cli(&["audit", "verify"]);
    assert!(!intact && said.contains(&format!("(id {id})")) && said.contains("TAMPERED complaint CZ-"), "{said}");
    // `audit reseal` does not launder it: the trail is sealed already.
    let (_, said) = cli(&["audit", "reseal"]);
    assert!(said.contains("already sealed"), "{said}");
    assert!(!cli(&["audit", "verify"]).0);

    // The admin log is chained too: a removed entry shows.
    let removed = diesel::sql_query("DELETE FROM admin_events WHERE seq = 2").execute(&mut *conn).unwrap();
    assert_eq!(removed, 1);
    let (intact, said) = cli(&["audit", "verify"]);
    assert!(!intact && said.contains("TAMPERED admin log at entry"), "{said}");
}

#[test]
fn a_trail_written_before_the_key_is_resealed_by_the_upgrade_and_the_reseal_is_logged() {
    use diesel::prelude::*;
    let app = spawn_app();
    let d = desk(&app);
    let id = app.post("/api/v1/complaints", None, &complaint_json("en")).json()["id"].as_str().unwrap().to_string();
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    // The database as it was before the upgrade: unkeyed complaint chains, an admin log without
    // a chain, the keyed-audit migration not applied.
    unkeyed_rechain(&mut conn, &id);
    for sql in [
        "DROP INDEX admin_events_seq",
        "ALTER TABLE admin_events DROP COLUMN hash",
        "ALTER TABLE admin_events DROP COLUMN prev_hash",
        "ALTER TABLE admin_events DROP COLUMN seq",
        "DROP TABLE audit_seals",
        "DELETE FROM __diesel_schema_migrations WHERE version = '20261130200002'",
    ] {
        diesel::sql_query(sql).execute(&mut *conn).unwrap();
    }
    drop(conn);

    // The first start of the new version (here: the CLI) migrates and re-seals.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anshang"))
        .current_dir(app.data_dir.path())
        .args(["audit", "verify"])
        .env("ANSHANG__DATABASE__URL", &app.database.url)
        .env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said} {}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("audit trail intact: 2 complaint events"), "{said}");
    #[derive(diesel::QueryableByName)]
    struct Detail {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let mut conn = pool.get().unwrap();
    let logged: Vec<Detail> =
        diesel::sql_query("SELECT detail FROM admin_events WHERE action = 'audit.reseal'").load(&mut *conn).unwrap();
    assert_eq!(logged.len(), 1);
    let detail: Value = serde_json::from_str(&logged[0].detail).unwrap();
    assert_eq!(detail["complaint_events_resealed"], 2, "{detail}");
    assert!(detail["admin_events_chained"].as_u64().unwrap() > 0, "{detail}");
}

#[test]
fn each_audience_sees_only_what_it_may_of_file_names_and_extension_decisions() {
    let app = spawn_app();
    let d = desk(&app);
    let commission = app.staff_token(&d.admin, "commission", None);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json(); // confidential
    let (id, number, code) = (
        filed["id"].as_str().unwrap(),
        filed["tracking_number"].as_str().unwrap(),
        filed["access_code"].as_str().unwrap(),
    );
    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\n".to_vec();
    ok(app.request(
        "POST",
        &format!("/api/v1/track/{number}/attachments?filename=secret-merger-plan.pdf"),
        None,
        &[("X-Access-Code", code)],
        Some(("application/octet-stream", pdf)),
    ));
    // Those who may open the files read their names; the others see that there is a file.
    let events = |token: &str| ok(app.get(&format!("/api/v1/complaints/{id}/events"), Some(token))).to_string();
    assert!(events(&d.coordinator).contains("secret-merger-plan.pdf"));
    for token in [&commission, &d.admin] {
        let seen = events(token);
        assert!(!seen.contains("secret-merger-plan") && seen.contains("(confidential)"), "{seen}");
    }
    let read_back = ok(app.get(&format!("/api/v1/complaints/by-number/{number}"), Some(&d.operator)));
    assert!(!read_back.to_string().contains("secret-merger-plan"), "{read_back}");
    assert_eq!(read_back["attachments"][0]["filename"], "(confidential)");
    let investor = ok(app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", code)], None));
    assert_eq!(investor["attachments"][0]["filename"], "secret-merger-plan.pdf", "the investor's own file");

    // The coordination office's reason for an extension is its internal note: the investor sees
    // the decision and the new due date, not the reason.
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    let v = ok(app.post(
        &format!("/api/v1/complaints/{id}/extension-requests"),
        Some(&d.staff_a),
        &json!({"days": 5, "reason": "Site inspection needed"}),
    ));
    let request_id = v["extensions"][0]["id"].as_str().unwrap().to_string();
    ok(app.post(
        &format!("/api/v1/complaints/{id}/extension-requests/{request_id}/decision"),
        Some(&d.coordinator),
        &json!({"approve": true, "days": 3, "reason": "Head of land bureau on leave, internal"}),
    ));
    let investor = ok(app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", code)], None));
    let decided = investor["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "decide_extension")
        .expect("the investor sees the decision")
        .clone();
    assert_eq!(decided["detail"]["days"], 3);
    assert!(decided["detail"].get("reason").is_none() && !investor.to_string().contains("on leave"), "{investor}");
    assert!(events(&d.coordinator).contains("on leave"), "staff keep the reason");
}

/// The inbox order: running clocks by time left with the oldest first among equal deadlines,
/// then the cases paused for the investor in their own group, then those with no running clock;
/// the API's pages (one row each, through the cursor) and the department's inbox page agree.
#[test]
fn the_inbox_lists_oldest_first_among_equal_deadlines_and_paused_cases_apart() {
    let app = spawn_app();
    let d = desk(&app);
    // Filed one after another on the same day: equal deadlines (ids are random, so only the
    // received instant can put them in filing order).
    let mut filed = Vec::new();
    for i in 0..7 {
        let mut body = complaint_json("en");
        body["subject"] = json!(format!("Equal deadline {i}"));
        let f = created(app.post("/api/v1/complaints", None, &body));
        let id = f["id"].as_str().unwrap().to_string();
        ok(app.post(
            &format!("/api/v1/complaints/{id}/assign"),
            Some(&d.coordinator),
            &json!({"department_id": d.dept_a}),
        ));
        filed.push((id, f["tracking_number"].as_str().unwrap().to_string()));
    }
    // The second waits for the investor; the fifth is answered (its clock stops).
    ok(app.post(
        &format!("/api/v1/complaints/{}/request-info", filed[1].0),
        Some(&d.staff_a),
        &json!({"question": "Which permit number?"}),
    ));
    ok(app.post(
        &format!("/api/v1/complaints/{}/reply", filed[4].0),
        Some(&d.staff_a),
        &json!({"text": "The permit was issued today.", "outcome": "resolved"}),
    ));
    let expected: Vec<&str> = [0, 2, 3, 5, 6, 1, 4].iter().map(|&i| filed[i].0.as_str()).collect();

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/complaints?limit=1&cursor={c}"),
            None => "/api/v1/complaints?limit=1".to_string(),
        };
        let page = ok(app.get(&path, Some(&d.coordinator)));
        walked.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(walked.len() <= expected.len(), "the cursor walk does not end: {walked:?}");
    }
    assert_eq!(walked, expected);
    // A cursor that was not made by the list is refused, not guessed at.
    app.get("/api/v1/complaints?cursor=7c7c", Some(&d.coordinator)).assert_problem(422, "invalid-field");

    // The department's inbox page: the same order, the paused case under its own heading.
    let clerk = app.staff_account(&d.admin, "department", Some(&d.dept_a));
    let cookie = format!("anshang_staff={}", app.page_session(&clerk));
    let page = app.request("GET", "/staff/inbox?lang=en", None, &[("Cookie", cookie.as_str())], None);
    assert_eq!(page.status, 200, "{}", page.body);
    let at = |needle: &str| page.body.find(needle).unwrap_or_else(|| panic!("{needle} missing: {}", page.body));
    let order: Vec<usize> = [0, 2, 3, 5, 6].iter().map(|&i| at(&format!("id=\"row-{}\"", filed[i].1))).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "running cases out of order: {order:?}");
    let paused_heading = at("id=\"group-paused\"");
    assert!(order[4] < paused_heading && paused_heading < at(&format!("id=\"row-{}\"", filed[1].1)));
    assert!(page.body.contains("Waiting for the investor (clock paused)"));
}

/// Internal notes: the coordination office and the holding department write them; they are in
/// the staff view and the chained trail, never in anything the investor reads; another
/// department, the hotline and the commission cannot write them; an empty or oversized note is
/// refused by field.
#[test]
fn internal_notes_are_for_handling_staff_only_and_never_reach_the_investor() {
    let app = spawn_app();
    let d = desk(&app);
    let f = created(app.post("/api/v1/complaints", None, &complaint_json("en")));
    let (id, number, code) = (
        f["id"].as_str().unwrap().to_string(),
        f["tracking_number"].as_str().unwrap().to_string(),
        f["access_code"].as_str().unwrap().to_string(),
    );
    let notes_of = |v: &Value| -> Vec<(String, String)> {
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["author_role"].as_str().unwrap().to_string(), n["text"].as_str().unwrap().to_string()))
            .collect()
    };
    let before = ok(app.get(&format!("/api/v1/complaints/{id}"), Some(&d.coordinator)));
    assert!(notes_of(&before).is_empty());

    let view = ok(app.post(
        &format!("/api/v1/complaints/{id}/notes"),
        Some(&d.coordinator),
        &json!({"text": "SECRET-1: the investor phoned, upset about the bureau chief."}),
    ));
    assert_eq!(view["status"], "received", "a note changes nothing about the complaint");
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&d.coordinator), &json!({"department_id": d.dept_a})));
    // The holding department writes; the other department does not see the complaint at all.
    app.post(&format!("/api/v1/complaints/{id}/notes"), Some(&d.staff_b), &json!({"text": "Not ours."}))
        .assert_problem(404, "not-found");
    let view = ok(app.post(
        &format!("/api/v1/complaints/{id}/notes"),
        Some(&d.staff_a),
        &json!({"text": "SECRET-2: site visit on Thursday."}),
    ));
    assert_eq!(
        notes_of(&view),
        vec![
            ("coordinator".to_string(), "SECRET-1: the investor phoned, upset about the bureau chief.".to_string()),
            ("department".to_string(), "SECRET-2: site visit on Thursday.".to_string()),
        ]
    );
    assert_eq!(view["notes"][1]["author"], "department");
    assert_eq!(view["status"], "assigned");
    // Refused by field: empty, only spaces, too long.
    for text in ["", "   ", &"x".repeat(2001)] {
        let r = app.post(&format!("/api/v1/complaints/{id}/notes"), Some(&d.staff_a), &json!({"text": text}));
        let p = r.assert_problem(422, "invalid-field");
        assert_eq!(p["errors"][0]["field"], "text", "{p}");
    }

    // In the trail, chained, with who wrote each and the status unchanged.
    let events = assert_chain_valid(&app, &d.coordinator, &id);
    let notes: Vec<&Value> = events.iter().filter(|e| e["action"] == "note").collect();
    assert_eq!(notes.len(), 2, "{events:?}");
    assert!(notes.iter().all(|e| e["from_status"] == e["to_status"]), "{notes:?}");
    assert_eq!(notes[1]["actor"], "department");

    // Nothing the investor reads carries a note: the tracking API, its page, the mail.
    let tracked = track(&app, &number, &code);
    assert_eq!(tracked.status, 200);
    assert!(!tracked.body.contains("SECRET"), "{}", tracked.body);
    let page = app.request(
        "POST",
        "/track?lang=en",
        None,
        &[],
        Some((
            "application/x-www-form-urlencoded",
            format!("tracking_number={number}&access_code={code}").into_bytes(),
        )),
    );
    assert_eq!(page.status, 303, "{}", page.body);
    let session = page
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("anshang_track="))
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .expect("a tracking session");
    let page = app.request("GET", "/track?lang=en", None, &[("Cookie", session.as_str())], None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&number) && !page.body.contains("SECRET"), "{}", page.body);
    let outbox = ok(app.get("/api/v1/admin/outbox", Some(&d.admin)));
    assert!(!outbox.to_string().contains("SECRET"), "{outbox}");
}

/// Possible duplicates (same email or company, a similar subject, within 30 days) are listed for
/// the coordination office only; closing one as a duplicate stops its clock with that reason,
/// tells the investor in their language which complaint carries the matter, and may be
/// contested; a number that is unknown, the complaint itself or a refused complaint is refused.
#[test]
fn a_repeated_complaint_is_hinted_and_closed_as_a_duplicate_with_the_investor_told() {
    let app = spawn_app();
    let d = desk(&app);
    let file = |subject: &str, email: &str, company: &str| -> (String, String, String) {
        let mut body = complaint_json("en");
        body["subject"] = json!(subject);
        body["complainant"]["email"] = json!(email);
        body["complainant"]["company"] = json!(company);
        let f = created(app.post("/api/v1/complaints", None, &body));
        let s = |k: &str| f[k].as_str().unwrap().to_string();
        (s("id"), s("tracking_number"), s("access_code"))
    };
    let company = "Hunan Precision Parts Co., Ltd.";
    let first = file("Construction permit not decided within the promised time", "anna@example.de", company);
    let same_company =
        file("Construction permit not decided in time", "office@example.de", "HUNAN PRECISION PARTS CO., LTD.");
    let other_matter = file("Tax refund for 2025 withheld", "anna@example.de", company);
    let stranger = file("Construction permit not decided within the promised time", "lee@example.com", "Other Co.");
    let long_ago = file("Construction permit not decided within the promised time", "anna@example.de", company);
    {
        use anshang::db::schema::complaints;
        use diesel::prelude::*;
        let mut conn = database(&app).get().unwrap();
        let moved = diesel::update(complaints::table.find(&long_ago.0))
            .set(complaints::received_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::days(31)))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(moved, 1);
    }
    let second =
        file("Construction permit STILL not decided within the promised time!", "Anna@Example.de", "Anna's own firm");

    let path = format!("/api/v1/complaints/{}/possible-duplicates", second.0);
    let hints = ok(app.get(&path, Some(&d.coordinator)));
    let listed: Vec<(&str, bool, bool)> = hints["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["tracking_number"].as_str().unwrap(),
                h["same_email"].as_bool().unwrap(),
                h["same_company"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, vec![(first.1.as_str(), true, false)], "{hints}");
    assert!(hints["items"][0]["similarity_percent"].as_u64().unwrap() >= 50);
    // From the first complaint's side: the second (same email) and the one for the same company.
    let hints = ok(app.get(&format!("/api/v1/complaints/{}/possible-duplicates", first.0), Some(&d.coordinator)));
    let mut numbers: Vec<&str> =
        hints["items"].as_array().unwrap().iter().map(|h| h["tracking_number"].as_str().unwrap()).collect();
    numbers.sort();
    let mut expected = vec![second.1.as_str(), same_company.1.as_str()];
    expected.sort();
    assert_eq!(numbers, expected, "not {}, {} or {}", other_matter.1, stranger.1, long_ago.1);
    for token in [&d.staff_a, &d.operator] {
        app.get(&path, Some(token)).assert_problem(403, "forbidden");
    }

    // Closing as a duplicate: refused inputs first, each by field, changing nothing.
    let mark = |of: &str, token: &str| {
        app.post(&format!("/api/v1/complaints/{}/mark-duplicate", second.0), Some(token), &json!({"duplicate_of": of}))
    };
    mark(&first.1, &d.staff_a).assert_problem(403, "forbidden");
    for (of, code) in [("CZ-2026-999999", "unknown_number"), (second.1.as_str(), "same_complaint")] {
        let p = mark(of, &d.coordinator).assert_problem(422, "invalid-field");
        assert_eq!(
            (p["errors"][0]["field"].as_str(), p["errors"][0]["code"].as_str()),
            (Some("duplicate_of"), Some(code)),
            "{p}"
        );
    }
    let view = ok(mark(&first.1.to_lowercase(), &d.coordinator));
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["clock"]["running"], false);
    assert_eq!(view["clock"]["stop_reason"], "duplicate");
    // The investor reads which complaint carries the matter, in English, and may contest.
    let tracked = track(&app, &second.1, &second.2).json();
    let answer = tracked["reply"]["text"].as_str().unwrap_or_default().to_string();
    assert!(answer.contains(&first.1) && answer.contains("same matter"), "{tracked}");
    let thread = tracked["thread"].as_array().unwrap();
    assert_eq!(thread.last().unwrap()["kind"], "refusal", "{tracked}");
    let outbox = ok(app.get("/api/v1/admin/outbox", Some(&d.admin)));
    let told = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["complaint_id"] == json!(second.0) && m["notice"] == "reply_available" && m["language"] == "en")
        .count();
    assert_eq!(told, 1, "the investor is notified once: {outbox}");
    // A refused complaint does not carry a matter for another.
    let p = app
        .post(
            &format!("/api/v1/complaints/{}/mark-duplicate", same_company.0),
            Some(&d.coordinator),
            &json!({"duplicate_of": second.1}),
        )
        .assert_problem(422, "invalid-field");
    assert_eq!(p["errors"][0]["code"], "not_handled", "{p}");
    let r = investor_post(&app, &second.1, &second.2, "contest", json!({"reason": "Mine is about a different plot."}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "contested");
}
