//! Notices stay true when they are sent: a ladder email queued for working hours is cancelled,
//! never sent, when the clock it speaks of stops, pauses or moves before its send time; the
//! rung is re-armed for the facts as they now are. Staff actions happen at chosen instants
//! (through the service, as the API would call it); sweeps and deliveries run the binary with
//! `--simulate`; a real SMTP server receives what is sent.

mod common;

use anshang::complaints::context;
use anshang::complaints::context::Acting;
use anshang::complaints::intake::{self, FileComplaintRequest};
use anshang::complaints::model::ReplyOutcome;
use anshang::complaints::service;
use common::complaint_json;
use common::smtp::ReceivedMail;
use common::world::{at, recipients, World};
use serde_json::Value;

/// Due 2026-10-15 (received 2026-09-30, across National Day): the overdue rung is taken at
/// 10-16 00:00 and its emails wait for 08:30; the department replies at 08:00. The "still no
/// reply" notice must not reach the head or the coordination office.
#[test]
fn a_reply_before_the_send_time_cancels_the_queued_overdue_notice() {
    let w = World::new();
    let (id, number) = w.file("2026-09-30T10:00:00+08:00", "en");
    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    assert_eq!(w.complaint(&id)["clock"]["due_date"], "2026-10-15");
    w.step("2026-10-15T12:00:00+08:00"); // receipt, assigned, reminder, due_today
    let (swept, got) = w.step("2026-10-16T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\toverdue")), "{swept}");
    assert!(got.is_empty(), "overdue emails wait for working hours: {got:?}");

    w.act("2026-10-16T08:00:00+08:00", |c, x| {
        service::reply(c, x, &id, &World::department(&w.land), "Granted.", ReplyOutcome::Resolved)
    });
    let (_, got) = w.step("2026-10-16T08:31:00+08:00");
    let to = recipients(&got);
    assert_eq!(
        to,
        ["anna.mueller@example.de"],
        "only the investor's reply notice goes out, no overdue notice: {got:?}"
    );
    let cancelled = w.outbox("cancelled");
    let overdue: Vec<&Value> = cancelled.iter().filter(|m| m["notice"] == "overdue").collect();
    assert_eq!(overdue.len(), 2, "both overdue emails are kept as cancelled: {cancelled:?}");
    for m in overdue {
        assert!(m["cancel_reason"].as_str().unwrap().contains("replied"), "{m}");
        assert!(m["sent_at"].is_null());
    }
    // Later sweeps send nothing more about this clock.
    let (swept, got) = w.step("2026-10-22T10:00:00+08:00");
    assert!(swept.contains("0 rungs taken"), "{swept}");
    assert!(got.is_empty(), "{got:?}");
}

/// The reminder is taken at 00:00 on Saturday 2026-10-10, a make-up working day, and waits for
/// 08:30; the department asks the investor for information at 08:00. No reminder at 08:30; once
/// the investor answers, the reminder is re-armed for the moved due date.
#[test]
fn a_pause_before_the_send_time_cancels_the_queued_reminder_and_the_resume_rearms_it() {
    let w = World::new();
    let (id, number) = w.file("2026-09-28T10:00:00+08:00", "zh");
    w.act("2026-09-28T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    assert_eq!(w.complaint(&id)["clock"]["due_date"], "2026-10-13");
    w.step("2026-09-28T12:00:00+08:00");
    let (swept, got) = w.step("2026-10-10T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\treminder")), "{swept}");
    assert!(got.is_empty(), "{got:?}");

    w.act("2026-10-10T08:00:00+08:00", |c, x| {
        service::request_info(c, x, &id, &World::department(&w.land), "Please send the lease.")
    });
    let (_, got) = w.step("2026-10-10T08:31:00+08:00");
    assert_eq!(
        recipients(&got),
        ["anna.mueller@example.de"],
        "the question reaches the investor; no reminder: {got:?}"
    );
    let reason = w.outbox("cancelled").iter().find(|m| m["notice"] == "reminder").expect("the reminder is cancelled")
        ["cancel_reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("paused"), "{reason}");

    // The investor answers on Monday: the clock runs again, the due date moved by the paused
    // working day(s), and the reminder is taken again for the new due date.
    w.act("2026-10-12T09:00:00+08:00", |c, x| service::answer_info(c, x, &id, &Acting::investor(), "Attached."));
    let due = w.complaint(&id)["clock"]["due_date"].as_str().unwrap().to_string();
    assert!(due.as_str() > "2026-10-13", "the due date moved: {due}");
    let (swept, got) = w.step(&format!("{due}T10:00:00+08:00"));
    assert!(swept.contains(&format!("{number}\treminder")), "{swept}");
    assert!(
        got.iter().any(|m| m.subject().unwrap().contains(&number)
            && m.to == ["land@example.gov.cn"]
            && m.text_body().unwrap().contains(&due)),
        "the re-armed reminder names the new due date: {got:?}"
    );
}

/// Extension asked before the due time (2026-10-15), the breach is recorded at 00:00, the
/// coordination office grants it at 07:00: the complaint is no longer overdue, no overdue email
/// goes out for the old due time, and the overdue rung fires at the new breach — not the referral.
#[test]
fn an_extension_granted_after_the_breach_lifts_it_and_rearms_the_overdue_rung() {
    let w = World::new();
    let (id, number) = w.file("2026-09-30T10:00:00+08:00", "en");
    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    let request = w.act("2026-10-15T16:00:00+08:00", |c, x| {
        service::request_extension(c, x, &id, &World::department(&w.land), 3, "Site visit needed.")
    });
    w.step("2026-10-15T17:00:00+08:00");
    let (swept, _) = w.step("2026-10-16T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\toverdue")), "{swept}");
    assert_eq!(w.complaint(&id)["overdue"], true);

    w.act("2026-10-16T07:00:00+08:00", |c, x| {
        service::decide_extension(
            c,
            x,
            &id,
            &World::coordinator(),
            service::ExtensionDecision {
                request_id: &request,
                approved_days: Some(3),
                reason: "Granted.",
                investor_note: None,
            },
        )
    });
    let v = w.complaint(&id);
    assert_eq!(v["overdue"], false, "{v}");
    assert_eq!(v["clock"]["due_date"], "2026-10-20");
    let listed = w.app.get("/api/v1/complaints?overdue=true", Some(&w.coordinator)).json();
    assert!(!listed.to_string().contains(&number), "absent from ?overdue=true: {listed}");
    let (_, got) = w.step("2026-10-16T08:31:00+08:00");
    let subjects: Vec<String> = got.iter().map(|m| m.subject().unwrap()).collect();
    assert!(
        subjects.iter().all(|s| !s.contains("Overdue") && !s.contains("超期")),
        "no overdue email for the old due time: {subjects:?}"
    );
    // The reminder, taken for the old due date, is re-armed for the new one: two working days
    // are left from 10-16 to 10-20, so it is due again at once, naming the new date.
    let reminder = got.iter().find(|m| m.subject().unwrap().contains("【催办】")).expect("the re-armed reminder");
    assert!(reminder.text_body().unwrap().contains("2026-10-20"));
    assert_eq!(got.len(), 2, "the investor's notice and the reminder: {subjects:?}");
    assert!(w
        .outbox("cancelled")
        .iter()
        .filter(|m| m["notice"] == "overdue")
        .all(|m| m["cancel_reason"].as_str().unwrap().contains("due time moved")));

    // The new breach: overdue again, its email goes out; the referral waits its three days.
    let (swept, _) = w.step("2026-10-21T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\toverdue")) && !swept.contains("overdue_escalated"), "{swept}");
    let (_, got) = w.step("2026-10-21T08:31:00+08:00");
    assert_eq!(recipients(&got), ["coordination-office@example.gov.cn", "land-head@example.gov.cn"], "{got:?}");
    assert!(got[0].text_body().unwrap().contains("2026-10-20"), "the notice states the new due date");
    assert_eq!(w.complaint(&id)["overdue"], true);
}

/// The breach that an extension later covered is not counted: the department replies before
/// the extended due time and its record shows the reply on time.
#[test]
fn a_breach_covered_by_a_late_granted_extension_does_not_count_in_the_assessment() {
    let w = World::new();
    let (id, number) = w.file("2026-09-30T10:00:00+08:00", "en");
    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    let request = w.act("2026-10-15T16:00:00+08:00", |c, x| {
        service::request_extension(c, x, &id, &World::department(&w.land), 3, "Site visit needed.")
    });
    w.step("2026-10-16T00:00:00+08:00");
    w.act("2026-10-16T07:00:00+08:00", |c, x| {
        service::decide_extension(
            c,
            x,
            &id,
            &World::coordinator(),
            service::ExtensionDecision {
                request_id: &request,
                approved_days: Some(3),
                reason: "Granted.",
                investor_note: None,
            },
        )
    });
    w.act("2026-10-20T10:00:00+08:00", |c, x| {
        service::reply(c, x, &id, &World::department(&w.land), "Done.", ReplyOutcome::Resolved)
    });
    let commission = w.app.staff_token(&w.admin, "commission", None);
    let record = w.app.get(&format!("/api/v1/assessment/2026/departments/{}", w.land), Some(&commission)).json();
    let score = if record.get("score").is_some() { &record["score"] } else { &record };
    let counted = &score["complaints"];
    assert!(
        counted["on_time"].as_array().is_some_and(|n| n.iter().any(|x| x == number.as_str())),
        "counted on time: {record}"
    );
    assert!(!counted.to_string().contains("\"late\""), "no late clock: {record}");
    assert_eq!(w.complaint(&id)["overdue"], false);
}

/// What one step must deliver: (tracking number, recipient, subject marker, text the body must
/// contain). Exactly these messages arrive — nothing else.
type Expected<'a> = Vec<(&'a str, &'a str, &'a str, Vec<String>)>;

fn expect_exactly(when: &str, got: &[ReceivedMail], expected: Expected) {
    let shown = || got.iter().map(|m| format!("{:?} {}", m.to, m.subject().unwrap_or_default())).collect::<Vec<_>>();
    assert_eq!(
        got.len(),
        expected.len(),
        "{when}: got {:#?}, expected {:#?}",
        shown(),
        expected.iter().map(|e| (e.0, e.1, e.2)).collect::<Vec<_>>()
    );
    let mut unmatched: Vec<&ReceivedMail> = got.iter().collect();
    for (number, to, marker, body) in &expected {
        let at = unmatched
            .iter()
            .position(|m| {
                m.to == [to.to_string()] && m.subject().is_some_and(|s| s.contains(number) && s.contains(marker))
            })
            .unwrap_or_else(|| panic!("{when}: no {marker:?} about {number} to {to}; got {:#?}", shown()));
        let m = unmatched.remove(at);
        let text = m.text_body().unwrap();
        for b in body {
            assert!(text.contains(b.as_str()), "{when}: {marker} about {number} should say {b:?}:\n{text}");
        }
    }
}

const ANNA: &str = "anna.mueller@example.de";
const LAND: &str = "land@example.gov.cn";
const LAND_HEAD: &str = "land-head@example.gov.cn";
const WATER: &str = "water@example.gov.cn";
const OFFICE: &str = "coordination-office@example.gov.cn";

/// Seven complaints over four weeks of simulated time, with a real SMTP server: withdrawal,
/// return and reassignment, a pause on the reminder's morning, replies, a contest, a
/// dissatisfied rating, a refused and a late-granted extension, a reply after the overdue rung
/// was taken. Every message that arrives is checked — recipient, language (by its subject),
/// the due date in its text — and every step delivers nothing else.
#[test]
fn every_party_is_told_what_concerns_them_and_nothing_that_stopped_being_true() {
    use anshang::escalation::ladder::{rung_time, Trigger};
    let w = World::new();
    let land = World::department(&w.land);
    let office = World::coordinator();

    // B (zh): received Monday 09-28, due 10-13; its reminder falls on make-up Saturday 10-10.
    let (b_id, b) = w.file("2026-09-28T10:00:00+08:00", "zh");
    w.act("2026-09-28T11:00:00+08:00", |c, x| service::assign(c, x, &b_id, &office, &w.land));
    let (_, got) = w.step("2026-09-28T12:00:00+08:00");
    expect_exactly(
        "B filed",
        &got,
        vec![
            (&b, ANNA, "您的投诉已收到", vec!["尊敬的Anna Müller".into(), format!("track?number={b}&lang=zh")]),
            (&b, LAND, "【交办】", vec!["2026-10-13".into()]),
        ],
    );

    // A, C, E, G (en) and D, F (zh): received 09-30, due 10-15.
    let (a_id, a) = w.file("2026-09-30T10:00:00+08:00", "en");
    let (c_id, c) = w.file("2026-09-30T10:00:00+08:00", "en");
    let (d_id, d) = w.file("2026-09-30T10:00:00+08:00", "zh");
    let (e_id, e) = w.file("2026-09-30T10:00:00+08:00", "en");
    let (f_id, f) = w.file("2026-09-30T10:00:00+08:00", "zh");
    let (g_id, g) = w.file("2026-09-30T10:00:00+08:00", "en");
    for id in [&a_id, &c_id, &d_id, &e_id, &g_id] {
        w.act("2026-09-30T11:00:00+08:00", |cn, x| service::assign(cn, x, id, &office, &w.land));
    }
    let (_, got) = w.step("2026-09-30T12:00:00+08:00");
    let mut expected: Expected = vec![];
    for n in [&a, &c, &e, &g] {
        expected.push((
            n,
            ANNA,
            "Your complaint has been received",
            vec![
                "Dear Anna Müller".into(),
                "2026-10-15 24:00 Beijing time".into(),
                format!("track?number={n}&lang=en"),
            ],
        ));
    }
    for n in [&d, &f] {
        expected.push((n, ANNA, "您的投诉已收到", vec!["北京时间2026-10-15 24:00".into()]));
    }
    for n in [&a, &c, &d, &e, &g] {
        expected.push((n, LAND, "【交办】", vec!["2026-10-15".into()]));
    }
    expect_exactly("six filed, five assigned", &got, expected);

    // F is withdrawn by the investor: its own confirmation, not "closed".
    w.act("2026-09-30T13:00:00+08:00", |cn, x| {
        service::withdraw(cn, x, &f_id, &Acting::investor(), Some("Solved directly."))
    });
    let (_, got) = w.step("2026-09-30T13:01:00+08:00");
    expect_exactly("F withdrawn", &got, vec![(&f, ANNA, "【撤回确认】", vec!["撤回".into()])]);

    // D is returned (回退): the office is told; assigned to water; then reassigned to land:
    // water is told it no longer holds it, land gets the assignment.
    w.act("2026-10-08T10:00:00+08:00", |cn, x| service::return_to_office(cn, x, &d_id, &land, "Not our remit."));
    let (_, got) = w.step("2026-10-08T10:01:00+08:00");
    expect_exactly(
        "D returned",
        &got,
        vec![(&d, OFFICE, "【回退】", vec!["Not our remit.".into(), "北京时间2026-10-15 24:00".into()])],
    );
    w.act("2026-10-08T11:00:00+08:00", |cn, x| service::assign(cn, x, &d_id, &office, &w.water));
    let (_, got) = w.step("2026-10-08T11:01:00+08:00");
    expect_exactly("D to water", &got, vec![(&d, WATER, "【交办】", vec![])]);
    w.act("2026-10-09T10:00:00+08:00", |cn, x| {
        service::reassign(cn, x, &d_id, &office, &w.land, "Land holds the file.")
    });
    let (_, got) = w.step("2026-10-09T10:01:00+08:00");
    expect_exactly(
        "D reassigned",
        &got,
        vec![(&d, WATER, "【改派】", vec!["部门land".into()]), (&d, LAND, "【交办】", vec![])],
    );

    // B: the reminder is taken at 00:00 on the make-up Saturday, the question comes at 08:00:
    // the investor gets the question, the department no reminder.
    let (swept, got) = w.step("2026-10-10T00:00:00+08:00");
    assert!(swept.contains(&format!("{b}\treminder")) && got.is_empty(), "{swept} {got:?}");
    w.act("2026-10-10T08:00:00+08:00", |cn, x| service::request_info(cn, x, &b_id, &land, "Please send the lease."));
    let (_, got) = w.step("2026-10-10T08:31:00+08:00");
    expect_exactly("B paused", &got, vec![(&b, ANNA, "请补充", vec!["Please send the lease.".into()])]);

    // The investor answers on Monday: the department is told; the reminder is re-armed for the
    // moved due date and goes out once, naming it.
    w.act("2026-10-12T09:00:00+08:00", |cn, x| service::answer_info(cn, x, &b_id, &Acting::investor(), "Attached."));
    let b_due = w.complaint(&b_id)["clock"]["due_date"].as_str().unwrap().to_string();
    assert!(b_due.as_str() > "2026-10-13", "{b_due}");
    let b_reminder_at = rung_time(
        Trigger::WorkingDaysBeforeDue(2),
        b_due.parse().unwrap(),
        at(&format!("{b_due}T23:59:59+08:00")),
        &w.cal,
    )
    .unwrap();
    let b_reminder = (b.as_str(), LAND, "【催办】", vec![b_due.clone()]);
    let (_, got) = w.step("2026-10-12T09:01:00+08:00");
    let mut expected: Expected = vec![(&b, LAND, "【投资者已补充材料】", vec![])];
    let reminded_at_once = b_reminder_at <= at("2026-10-12T09:01:00+08:00");
    if reminded_at_once {
        expected.push(b_reminder.clone());
    }
    expect_exactly("B answered", &got, expected);

    // Reminders for the five clocks due 10-15 (D now with land).
    let (_, got) = w.step("2026-10-13T09:30:00+08:00");
    let mut expected: Expected = [&a, &c, &d, &e, &g]
        .into_iter()
        .map(|n| (n.as_str(), LAND, "【催办】", vec!["2026-10-15".to_string()]))
        .collect();
    if !reminded_at_once {
        expected.push(b_reminder);
    }
    expect_exactly("reminders", &got, expected);

    // Replies for B, E, G.
    for id in [&b_id, &e_id, &g_id] {
        w.act("2026-10-13T10:00:00+08:00", |cn, x| {
            service::reply(cn, x, id, &land, "Permit granted.", ReplyOutcome::Resolved)
        });
    }
    let (_, got) = w.step("2026-10-13T10:01:00+08:00");
    expect_exactly(
        "replies",
        &got,
        vec![
            (&b, ANNA, "您的投诉已有答复", vec![]),
            (&e, ANNA, "A reply to your complaint is available", vec![]),
            (&g, ANNA, "A reply to your complaint is available", vec![]),
        ],
    );

    // E is contested: the investor, the office and the department that replied are told; the
    // office assigns it to water. G is rated "dissatisfied": the case stays open for a contest.
    w.act("2026-10-14T10:00:00+08:00", |cn, x| {
        service::contest(cn, x, &e_id, &Acting::investor(), "The permit was not issued.")
    });
    w.act("2026-10-14T10:00:00+08:00", |cn, x| {
        service::rate(cn, x, &g_id, &Acting::investor(), anshang::complaints::model::Rating::Dissatisfied, None)
    });
    let (_, got) = w.step("2026-10-14T10:01:00+08:00");
    expect_exactly(
        "contest and rating",
        &got,
        vec![
            (&e, ANNA, "Your objection", vec!["2026-10-23".into()]),
            (&e, OFFICE, "【投资者提出异议】", vec!["The permit was not issued.".into()]),
            (&e, LAND, "【投资者提出异议】", vec![]),
            (&g, ANNA, "[Rating recorded]", vec!["Beijing time".into(), "contest".into()]),
        ],
    );
    assert_eq!(w.complaint(&g_id)["status"], "replied", "a dissatisfied rating keeps the contest open");
    w.act("2026-10-14T11:00:00+08:00", |cn, x| service::assign(cn, x, &e_id, &office, &w.water));
    let (_, got) = w.step("2026-10-14T11:01:00+08:00");
    expect_exactly("E to water", &got, vec![(&e, WATER, "【交办】", vec!["2026-10-23".into()])]);

    // A asks for an extension, refused: the office is told of the request; the investor hears
    // nothing and does not see the refusal. C asks too (granted later).
    let a_request = w.act("2026-10-15T15:00:00+08:00", |cn, x| {
        service::request_extension(cn, x, &a_id, &land, 2, "Waiting for a survey.")
    });
    w.act("2026-10-15T15:30:00+08:00", |cn, x| {
        service::decide_extension(
            cn,
            x,
            &a_id,
            &office,
            service::ExtensionDecision {
                request_id: &a_request,
                approved_days: None,
                reason: "Not justified.",
                investor_note: None,
            },
        )
    });
    let c_request = w.act("2026-10-15T16:00:00+08:00", |cn, x| {
        service::request_extension(cn, x, &c_id, &land, 3, "Site visit needed.")
    });
    let (_, got) = w.step("2026-10-15T16:01:00+08:00");
    let mut expected: Expected = vec![
        (&a, OFFICE, "【延期申请待决定】", vec!["Waiting for a survey.".into()]),
        (&c, OFFICE, "【延期申请待决定】", vec!["Site visit needed.".into()]),
    ];
    for n in [&a, &c, &d] {
        expected.push((n, LAND, "【今日到期】", vec!["2026-10-15".into()]));
    }
    expect_exactly("extension requests, due today", &got, expected);

    // The breach of A, C, D is recorded at 00:00; its emails wait for 08:30.
    let (swept, got) = w.step("2026-10-16T00:00:00+08:00");
    for n in [&a, &c, &d] {
        assert!(swept.contains(&format!("{n}\toverdue")), "{swept}");
    }
    assert!(got.is_empty(), "{got:?}");
    // C's extension is granted at 07:00 (with a note for the investor); A replies at 08:00.
    w.act("2026-10-16T07:00:00+08:00", |cn, x| {
        service::decide_extension(
            cn,
            x,
            &c_id,
            &office,
            service::ExtensionDecision {
                request_id: &c_request,
                approved_days: Some(3),
                reason: "Justified.",
                investor_note: Some("A site visit is needed first."),
            },
        )
    });
    w.act("2026-10-16T08:00:00+08:00", |cn, x| {
        service::reply(cn, x, &a_id, &land, "Permit granted.", ReplyOutcome::Resolved)
    });
    let (_, got) = w.step("2026-10-16T08:31:00+08:00");
    expect_exactly(
        "morning after the breach",
        &got,
        vec![
            (
                &c,
                ANNA,
                "[Due date extended]",
                vec![
                    "Dear Anna Müller".into(),
                    "2026-10-20 24:00 Beijing time".into(),
                    "A site visit is needed first.".into(),
                ],
            ),
            (&c, LAND, "【催办】", vec!["2026-10-20".into()]),
            (&a, ANNA, "A reply to your complaint is available", vec![]),
            (&d, LAND_HEAD, "【超期通报】", vec!["北京时间2026-10-15 24:00".into()]),
            (&d, OFFICE, "【超期通报】", vec![]),
        ],
    );
    let history = w.act("2026-10-16T09:00:00+08:00", |cn, x| {
        let row = anshang::complaints::store::find(cn, &a_id)?.unwrap();
        let loaded = service::load_full(cn, row)?;
        anshang::complaints::views::tracking_view(&loaded, x, anshang::complaints::model::Language::En)
    });
    let shown = serde_json::to_string(&history.history).unwrap();
    assert!(
        !shown.contains("decide_extension") && !shown.contains("Not justified"),
        "a refused extension is not shown to the investor: {shown}"
    );
    let c_view = w.act("2026-10-16T09:00:00+08:00", |cn, x| {
        let row = anshang::complaints::store::find(cn, &c_id)?.unwrap();
        let loaded = service::load_full(cn, row)?;
        anshang::complaints::views::tracking_view(&loaded, x, anshang::complaints::model::Language::En)
    });
    let shown = serde_json::to_string(&c_view.history).unwrap();
    assert!(
        shown.contains("A site visit is needed first.") && !shown.contains("Justified."),
        "the investor reads the note meant for them, not the office's reason: {shown}"
    );

    w.act("2026-10-16T09:00:00+08:00", |cn, x| service::reply(cn, x, &d_id, &land, "已办理。", ReplyOutcome::Resolved));
    let (_, got) = w.step("2026-10-16T09:01:00+08:00");
    expect_exactly("D replied", &got, vec![(&d, ANNA, "您的投诉已有答复", vec![])]);

    // C's re-armed rungs follow its new due date: due today on 10-20, overdue at 10-21 00:00.
    let (_, got) = w.step("2026-10-20T10:00:00+08:00");
    expect_exactly("C due today", &got, vec![(&c, LAND, "【今日到期】", vec!["2026-10-20".into()])]);
    let (_, got) = w.step("2026-10-21T08:31:00+08:00");
    expect_exactly(
        "C's new breach",
        &got,
        vec![
            (&c, LAND_HEAD, "【超期通报】", vec!["北京时间2026-10-20 24:00".into()]),
            (&c, OFFICE, "【超期通报】", vec!["北京时间2026-10-20 24:00".into()]),
            (&e, WATER, "【催办】", vec!["2026-10-23".into()]),
        ],
    );
    // What was cancelled is on record with its reason.
    let cancelled = w.outbox("cancelled");
    assert!(
        cancelled.iter().any(|m| m["notice"] == "reminder" && m["cancel_reason"].as_str().unwrap().contains("paused")),
        "{cancelled:?}"
    );
    assert!(
        cancelled.iter().filter(|m| m["notice"] == "overdue").count() >= 4,
        "A's and C's overdue emails: {cancelled:?}"
    );
}

/// The tracking page as the email's link opens it: the number filled in from `?number=`, every
/// time labelled Beijing time, the day-by-day heading once, and a close at the end of the
/// contest window shown as 24:00 of its last day.
#[test]
fn the_tracking_page_names_beijing_time_and_shows_an_end_of_day_close_as_24_00() {
    let w = World::new();
    let request: FileComplaintRequest = serde_json::from_value(complaint_json("en")).unwrap();
    let filed = w.act("2026-09-30T10:00:00+08:00", |c, x| {
        service::file(c, x, &intake::validate(request, false).unwrap(), &Acting::investor(), None)
    });
    let (id, number, code) =
        (filed.complaint.id.clone(), filed.complaint.tracking_number.clone(), filed.access_code.clone().unwrap());
    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    w.act("2026-10-13T10:00:00+08:00", |c, x| {
        service::reply(c, x, &id, &World::department(&w.land), "Granted.", ReplyOutcome::Resolved)
    });
    // The sweep that runs exactly at the end of the contest window closes the case.
    let window_end = w.act("2026-10-13T10:00:00+08:00", |_, x| {
        Ok::<_, std::convert::Infallible>(context::contest_deadline(x, at("2026-10-13T10:00:00+08:00")))
    });
    assert_eq!(window_end.time(), chrono::NaiveTime::MIN, "the window ends at 24:00");
    let (swept, _) = w.step(&window_end.to_rfc3339());
    assert!(swept.contains("1 replies closed"), "{swept}");
    let last_day = window_end.date_naive().pred_opt().unwrap();

    // The link in every investor email fills in the number (nothing else is echoed back).
    let lookup = w.app.get(&format!("/track?number={}&lang=en", number.to_lowercase()), None);
    assert!(lookup.body.contains(&format!("value=\"{number}\"")), "{}", lookup.body);
    let junk = w.app.get("/track?number=%22%3E%3Cscript%3E&lang=en", None);
    assert!(!junk.body.contains("<script>") && junk.body.contains("value=\"\""), "{}", junk.body);

    let page = w.tracking_page(&number, &code, "en");
    assert_eq!(page.matches("How this date was worked out").count(), 1, "the heading appears once:\n{}", page);
    assert!(
        page.contains(&format!("{last_day} 24:00 (Beijing time)")),
        "the automatic close at the end of {last_day}:\n{}",
        page
    );
    assert!(!page.contains(&format!("{} 00:00", window_end.date_naive())), "not 00:00 of the next day");
    assert!(page.contains("2026-09-30 10:00 (Beijing time)"), "received, labelled");
}
