//! The commission console: `/staff/rounds` (the ballot rounds; a new round), `/staff/rounds/{id}`
//! (the roll, codes, open, close, publish; the results from close) for the ballot officers, and
//! `/staff/assessment` (the year's assessment with its charts) for the assessors — the same role
//! rules and the same services as the JSON API.
//!
//! Paper letters come back once, as the answer to "issue codes": a print-ready page sent
//! straight to the officer's browser (`no-store`), never written to the server's disk. The
//! round's page itself never shows a code.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpResponse};
use chrono::{Datelike, NaiveDateTime, TimeZone};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::complaint_form;
use super::render::{Page, ShownError, ShownField};
use super::session::{CsrfForm, StaffPage};
use super::vote::{tally_view, title_in};
use crate::assessment::charts;
use crate::assessment::report;
use crate::auth::roles::{Assessors, BallotOfficers};
use crate::ballots::letters::{self, NoteLine, ScreenNote};
use crate::ballots::model::RoundStatus;
use crate::ballots::model::{default_questions, Category, Points, Question};
use crate::ballots::service::{self, CreateRound, RoundRow};
use crate::complaints::model::Language;
use crate::db::schema::{ballot_credentials, ballot_voters};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, FieldError};
use crate::ids::RoundId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(rounds_page)
        .service(create_round)
        .service(round_page)
        .service(import_roll)
        .service(issue_codes)
        .service(reissue_code)
        .service(unseal_round)
        .service(open_round)
        .service(close_round)
        .service(publish_round)
        .service(assessment_page)
        .service(printable_report);
}

/// The largest roll file accepted (pasted text is limited to 64 KiB by the form reader).
const MAX_ROLL_BYTES: usize = 4 * 1024 * 1024;

/// An error as this console shows it: field messages from the console's catalogue where the
/// shared one has none, and round transitions named as such.
fn explain(page: &Page, err: &ApiError) -> ShownError {
    let mut shown = page.explain(err);
    match err {
        ApiError::Invalid(list) => {
            shown.fields = list
                .iter()
                .map(|f| {
                    let message = page
                        .state
                        .pages
                        .text(&format!("commission.field.{}", f.code), page.lang)
                        .or_else(|| page.state.pages.text(&format!("common.field.{}", f.code), page.lang))
                        .map(str::to_string)
                        .unwrap_or_else(|| f.message.clone());
                    ShownField { field: f.field.clone(), label: None, message }
                })
                .collect();
        }
        ApiError::Conflict { kind: "illegal-transition", .. } => {
            shown.summary = page.text("commission.round.illegal_step");
            shown.detail = None;
        }
        ApiError::Conflict { kind: "mail-not-deliverable", extensions, .. } => {
            let n = extensions.get("email_voters").map(|v| v.to_string()).unwrap_or_default();
            shown.summary = page.text("commission.round.mail_not_deliverable").replace("{n}", &n);
            shown.detail = None;
        }
        _ => {}
    }
    shown
}

fn status_key(s: RoundStatus) -> &'static str {
    s.as_str()
}

fn local(t: NaiveDateTime) -> String {
    db::from_db_time(t).with_timezone(&crate::calendar::shanghai()).to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// The rounds, and a new one

#[derive(Serialize)]
struct RoundLine {
    id: String,
    title: String,
    year: i32,
    status: &'static str,
    opens_at: String,
    closes_at: String,
    departments: usize,
}

/// The form's values as posted (or the defaults), for showing the form again.
type Values = BTreeMap<String, String>;

fn default_values() -> Values {
    let now = db::now().with_timezone(&crate::calendar::shanghai());
    let mut v = Values::new();
    v.insert("year".into(), now.year().to_string());
    v.insert("min_group_size".into(), "5".into());
    v.insert("trustees".into(), "3".into());
    v.insert("threshold".into(), "2".into());
    let p = Points::default();
    v.insert("points.satisfied".into(), p.satisfied.to_string());
    v.insert("points.basically_satisfied".into(), p.basically_satisfied.to_string());
    v.insert("points.dissatisfied".into(), p.dissatisfied.to_string());
    for (i, q) in default_questions().into_iter().enumerate() {
        v.insert(question_field(i, "key"), q.key);
        v.insert(question_field(i, "zh"), q.text_zh);
        v.insert(question_field(i, "en"), q.text_en);
    }
    let start = now.date_naive().succ_opt().unwrap_or(now.date_naive()).and_hms_opt(9, 0, 0).expect("a time");
    v.insert("opens_at".into(), start.format("%Y-%m-%dT%H:%M").to_string());
    v.insert("closes_at".into(), (start + chrono::Duration::days(14)).format("%Y-%m-%dT%H:%M").to_string());
    v
}

/// The most questions a round has (as the service allows), and the empty rows the form offers
/// below the filled ones to add more without a script.
const MOST_QUESTIONS: usize = 20;
const EMPTY_QUESTION_ROWS: usize = 3;

/// The form's field for a part (`key`, `zh`, `en`) of question row `i`.
fn question_field(i: usize, part: &str) -> String {
    format!("question.{i}.{part}")
}

/// The question rows the form shows open: every row up to the last one filled in and a few
/// empty ones after it. The rest, up to the most a round has, wait folded under "more rows"
/// (no script, and no second submit button to become the form's default).
fn question_rows(values: &Values) -> (Vec<usize>, Vec<usize>) {
    let filled =
        |i: usize| ["zh", "en"].iter().any(|p| values.get(&question_field(i, p)).is_some_and(|v| !v.trim().is_empty()));
    let last_filled = (0..MOST_QUESTIONS).filter(|&i| filled(i)).max().map_or(0, |i| i + 1);
    let open = (last_filled + EMPTY_QUESTION_ROWS).min(MOST_QUESTIONS);
    ((0..open).collect(), (open..MOST_QUESTIONS).collect())
}

/// The questions as the rows give them, in order: a row with both texts is a question (its key
/// kept from the round it came from, or made from its place); a row with neither is skipped; a
/// row with one is a mistake beside the empty box.
fn questions_from_rows(values: &Values, errors: &mut Vec<FieldError>) -> Vec<Question> {
    let get =
        |i: usize, part: &str| values.get(&question_field(i, part)).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut questions: Vec<Question> = Vec::new();
    for i in 0..MOST_QUESTIONS {
        let (zh, en) = (get(i, "zh"), get(i, "en"));
        // A box typed in but not a question's text by the service's rule is named beside it.
        let mut misfit = false;
        for (part, text) in [("zh", &zh), ("en", &en)] {
            if !text.is_empty() && !crate::ballots::service::question_text_ok(text) {
                errors.push(FieldError::new(
                    question_field(i, part),
                    "question_long",
                    "at most 200 characters, on one line",
                ));
                misfit = true;
            }
        }
        if misfit {
            continue;
        }
        match (zh.is_empty(), en.is_empty()) {
            (true, true) => continue,
            (false, false) => {}
            (zh_missing, _) => {
                let part = if zh_missing { "zh" } else { "en" };
                errors.push(FieldError::new(
                    question_field(i, part),
                    "question_half",
                    "give the question in both languages, or empty both boxes to leave it out",
                ));
                continue;
            }
        }
        // The key a question had (the usual four keep theirs); a new row's is made from its
        // place, and never one another question of the round already has.
        let mut key = get(i, "key");
        let taken = |key: &str, questions: &[Question]| questions.iter().any(|q| q.key == key);
        if key.is_empty() || key.len() > 40 || key.chars().any(char::is_control) || taken(&key, &questions) {
            key = (i + 1..).map(|n| format!("q{n}")).find(|k| !taken(k, &questions)).expect("an unused key");
        }
        questions.push(Question { key, text_zh: zh, text_en: en });
    }
    if questions.is_empty() && errors.iter().all(|e| !e.field.starts_with("question.")) {
        errors.push(FieldError::new("questions", "no_questions", "at least one question, in both languages"));
    }
    questions
}

#[get("/staff/rounds")]
async fn rounds_page(staff: StaffPage<BallotOfficers>) -> HttpResponse {
    show_rounds(&staff, &default_values(), &[], None).await
}

async fn show_rounds(page: &Page, values: &Values, chosen: &[String], error: Option<&ApiError>) -> HttpResponse {
    let lang = page.lang;
    let loaded = db::run(&page.state.pool, move |conn| {
        let rows = service::list(conn)?;
        let mut lines = Vec::new();
        for r in &rows {
            lines.push(RoundLine {
                id: r.id.to_string(),
                title: r.title.clone(),
                year: r.year,
                status: status_key(r.status()),
                opens_at: local(r.opens_at),
                closes_at: local(r.closes_at),
                departments: service::round_departments(conn, &r.id)?.len(),
            });
        }
        let departments: Vec<(String, String, String)> = crate::departments::store::list(conn, false)?
            .into_iter()
            .map(|d| (d.id.into_string(), d.code, if lang.is_chinese() { d.name_zh } else { d.name_en }))
            .collect();
        Ok::<_, ApiError>((lines, departments))
    })
    .await;
    let (lines, departments) = match loaded {
        Ok(l) => l,
        Err(e) => return page.error(&e),
    };
    let (open_rows, folded_rows) = question_rows(values);
    let shown = error.map(|e| explain(page, e));
    page.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "commission/rounds.html",
        minijinja::context! {
            rounds => lines,
            departments => departments,
            chosen => chosen,
            values => values,
            question_rows => open_rows,
            more_question_rows => folded_rows,
            categories => Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
        },
    )
}

/// A `datetime-local` value, read as Beijing time.
fn beijing_time(
    field: &str,
    value: &str,
    errors: &mut Vec<FieldError>,
) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let value = value.trim();
    let parsed = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"));
    match parsed.ok().and_then(|t| crate::calendar::shanghai().from_local_datetime(&t).single()) {
        Some(t) => Some(t),
        None => {
            errors.push(FieldError::new(
                field,
                if value.is_empty() { "required" } else { "not_a_time" },
                "a date and time",
            ));
            None
        }
    }
}

fn number<T: std::str::FromStr>(field: &str, value: &str, errors: &mut Vec<FieldError>) -> Option<T> {
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                if value.trim().is_empty() { "required" } else { "not_a_number" },
                "a number",
            ));
            None
        }
    }
}

/// The form as the API's request; what cannot even be read is reported by field, and the
/// service checks the rest exactly as it checks an API request.
fn create_request(values: &Values, department_ids: Vec<String>) -> Result<CreateRound, ApiError> {
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or("");
    let mut errors = Vec::new();
    let year = number::<i32>("year", get("year"), &mut errors);
    let opens_at = beijing_time("opens_at", get("opens_at"), &mut errors);
    let closes_at = beijing_time("closes_at", get("closes_at"), &mut errors);
    let k = number::<u32>("min_group_size", get("min_group_size"), &mut errors);
    let trustees =
        if get("trustees").trim().is_empty() { None } else { number::<u32>("trustees", get("trustees"), &mut errors) };
    let threshold = if get("threshold").trim().is_empty() {
        None
    } else {
        number::<u32>("threshold", get("threshold"), &mut errors)
    };
    let satisfied = number::<f64>("points.satisfied", get("points.satisfied"), &mut errors);
    let basically = number::<f64>("points.basically_satisfied", get("points.basically_satisfied"), &mut errors);
    let dissatisfied = number::<f64>("points.dissatisfied", get("points.dissatisfied"), &mut errors);
    let questions = questions_from_rows(values, &mut errors);
    let mut quotas = BTreeMap::new();
    for c in Category::ALL {
        let field = format!("quota.{}", c.as_str());
        if !get(&field).trim().is_empty() {
            if let Some(q) = number::<u32>(&field, get(&field), &mut errors) {
                quotas.insert(c, q);
            }
        }
    }
    if department_ids.is_empty() {
        errors.push(FieldError::new("department_ids", "count", "choose the departments under evaluation"));
    }
    // What could be read is checked as the service checks it, in the same answer: a field that
    // could not be read stands in with a neutral value, and what it would make the service say
    // (about it, or about the period it belongs to) is left out.
    let fallback_period = chrono::Utc::now().with_timezone(&crate::calendar::shanghai());
    let opens = opens_at.or(closes_at.map(|c| c - chrono::Duration::hours(1))).unwrap_or(fallback_period);
    let request = CreateRound {
        title: get("title").to_string(),
        year: year.unwrap_or(2026),
        department_ids,
        questions: Some(questions),
        opens_at: opens,
        closes_at: closes_at.unwrap_or(opens + chrono::Duration::hours(1)),
        min_group_size: k,
        points: Some(Points {
            satisfied: satisfied.unwrap_or(100.0),
            basically_satisfied: basically.unwrap_or(70.0),
            dissatisfied: dissatisfied.unwrap_or(30.0),
        }),
        quotas: (!quotas.is_empty()).then_some(quotas),
        trustees,
        threshold,
    };
    if errors.is_empty() {
        return Ok(request);
    }
    let unread: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
    let period_unread = unread.iter().any(|f| f == "opens_at" || f == "closes_at");
    if let Err(more) = crate::ballots::service::check_create(&request) {
        errors.extend(more.into_iter().filter(|e| {
            let about_unread = unread.iter().any(|f| *f == e.field || f.starts_with(&format!("{}.", e.field)))
                // A question row already named beside its box says what is wrong with the list.
                || (e.field == "questions" && unread.iter().any(|f| f.starts_with("question.")));
            let about_the_period = period_unread && e.field == "closes_at";
            !(about_unread || about_the_period)
        }));
    }
    Err(ApiError::Invalid(errors))
}

#[post("/staff/rounds")]
async fn create_round(staff: StaffPage<BallotOfficers>, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let mut values = Values::new();
    let mut department_ids = Vec::new();
    let mut csrf = String::new();
    for (name, value) in form.into_inner() {
        match name.as_str() {
            "csrf" => csrf = value,
            // Ids are plain text; a control character (a NUL would reach PostgreSQL) is no id.
            "department_ids" if value.len() <= 64 && !value.chars().any(char::is_control) => department_ids.push(value),
            "department_ids" => department_ids.push(String::from("?")),
            _ => {
                values.insert(name, value.replace("\r\n", "\n"));
            }
        }
    }
    if let Err(e) = staff.check_csrf(&csrf) {
        return staff.error(&e);
    }
    let request = match create_request(&values, department_ids.clone()) {
        Ok(r) => r,
        Err(e) => return show_rounds(&staff, &values, &department_ids, Some(&e)).await,
    };
    let actor = staff.user().id.clone();
    match db::run(&staff.state.pool, move |conn| service::create(conn, request, &actor, db::now())).await {
        Ok(created) => revocation_key_page(&staff, &created.round, &created.revocation_key),
        Err(e) => show_rounds(&staff, &values, &department_ids, Some(&e)).await,
    }
}

/// The round's revocation key, once, as a print-ready page with the way on to the round.
/// Nothing of it stays on the server.
fn revocation_key_page(staff: &StaffPage<BallotOfficers>, round: &RoundRow, key: &str) -> HttpResponse {
    let note = once_note(staff, "revocation-page-note", format!("/staff/rounds/{}", round.id), |lang| {
        vec![(Some("revocation-note"), staff.text_in("commission.round.revocation_once", lang))]
    });
    let page = letters::revocation_key(
        staff.lang.for_staff().html_tag(),
        &staff.text("commission.round.revocation_title"),
        &round.title,
        key,
        &staff.text("commission.round.revocation_care"),
        &note,
    );
    match page {
        Ok(html) => shown_once(html),
        Err(e) => staff.error(&e.into()),
    }
}

/// The screen-only note above a page shown once, in the officer's language and then in the other
/// staff language: such a page cannot be shown again, so instead of a language switch it speaks
/// both. `lines` gives a language's lines, each with its element id (kept on the officer's
/// language only: ids are unique).
fn once_note(
    staff: &Page,
    id: &'static str,
    back_href: String,
    lines: impl Fn(Language) -> Vec<(Option<&'static str>, String)>,
) -> ScreenNote {
    let first = staff.lang.for_staff();
    let second = if first == Language::En { Language::Zh } else { Language::En };
    let mut note = Vec::new();
    for (lang, keep_ids) in [(first, true), (second, false)] {
        note.extend(lines(lang).into_iter().map(|(line_id, text)| NoteLine {
            id: line_id.filter(|_| keep_ids),
            lang: lang.html_tag(),
            text,
        }));
    }
    let back_text = format!(
        "{} · {}",
        staff.text_in("commission.round.back_to_round", first),
        staff.text_in("commission.round.back_to_round", second)
    );
    ScreenNote { id, lines: note, back_href, back_text }
}

/// A page of secrets shown this once: never cached, nothing of it kept on the server.
fn shown_once(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

// ---------------------------------------------------------------------------------------------
// One round

#[derive(Serialize, Default)]
struct Counts {
    voters: i64,
    letters_issued: i64,
    codes: i64,
    /// Shown once voting has closed.
    used: Option<i64>,
}

fn counts(conn: &mut DbConnection, round: &RoundRow) -> Result<Counts, ApiError> {
    let voters = ballot_voters::table.filter(ballot_voters::round_id.eq(&round.id)).count().get_result(conn)?;
    let letters_issued = ballot_voters::table
        .filter(ballot_voters::round_id.eq(&round.id))
        .filter(ballot_voters::letter_issued.eq(true))
        .count()
        .get_result(conn)?;
    let codes =
        ballot_credentials::table.filter(ballot_credentials::round_id.eq(&round.id)).count().get_result(conn)?;
    let used = match round.status() {
        RoundStatus::Closed | RoundStatus::Published => Some(
            ballot_credentials::table
                .filter(ballot_credentials::round_id.eq(&round.id))
                .filter(ballot_credentials::used.eq(true))
                .count()
                .get_result(conn)?,
        ),
        _ => None,
    };
    Ok(Counts { voters, letters_issued, codes, used })
}

/// What happened on this visit, shown above the round.
#[derive(Serialize, Default)]
struct Notice {
    imported: Option<usize>,
    /// Import refused: every wrong row (line 0: the roll as a whole, e.g. a quota).
    row_errors: Vec<(usize, String)>,
    /// Import refused: the rows as sent, each with its line number and its mistake if any,
    /// shown beside the form, and the text kept in the box to be corrected.
    roll_rows: Vec<(usize, String, Option<String>)>,
    roll_text: Option<String>,
    letters: Option<usize>,
    emailed: Option<usize>,
}

#[derive(Deserialize)]
struct RoundQuery {
    imported: Option<usize>,
}

#[get("/staff/rounds/{id}")]
async fn round_page(
    staff: StaffPage<BallotOfficers>,
    path: web::Path<RoundId>,
    query: web::Query<RoundQuery>,
) -> HttpResponse {
    let notice = Notice { imported: query.imported, ..Default::default() };
    show_round(&staff, path.into_inner(), notice, None).await
}

async fn show_round(page: &Page, id: RoundId, notice: Notice, shown: Option<ShownError>) -> HttpResponse {
    let lang = page.lang;
    let loaded = db::run(&page.state.pool, move |conn| {
        let row = service::find(conn, &id)?;
        let view = service::view(conn, &row)?;
        let counts = counts(conn, &row)?;
        let mut codes = Vec::new();
        for d in &view.departments {
            codes.push(
                crate::departments::store::find(conn, &crate::ids::DepartmentId::new(d.id.as_str()))?
                    .map(|d| d.code)
                    .unwrap_or_default(),
            );
        }
        let tally = match row.status() {
            RoundStatus::Closed | RoundStatus::Published if row.seal_recipient.is_none() => {
                Some(tally_view(lang, &view.departments, &row.questions(), &service::results(conn, &row)?))
            }
            _ => None,
        };
        Ok::<_, ApiError>((row, view, counts, codes, tally))
    })
    .await;
    let (row, view, counts, codes, tally) = match loaded {
        Ok(l) => l,
        Err(e) => return page.error(&e),
    };
    let departments: Vec<(String, String)> = view
        .departments
        .iter()
        .zip(codes)
        .map(|(d, code)| (code, if lang.is_chinese() { d.name_zh.clone() } else { d.name_en.clone() }))
        .collect();
    let questions: Vec<String> =
        row.questions().iter().map(|q| if lang.is_chinese() { q.text_zh.clone() } else { q.text_en.clone() }).collect();
    let status = if !notice.row_errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK)
    };
    page.render_status(
        status,
        "commission/round.html",
        minijinja::context! {
            round => minijinja::context! {
                id => &row.id, title => &row.title, shown_title => title_in(&row.title, lang), year => row.year,
                status => status_key(row.status()), opens_at => local(row.opens_at), closes_at => local(row.closes_at),
                k => row.min_group_size, points => row.points(), quotas => row.quotas().into_iter().map(|(c, n)| (c.as_str(), n)).collect::<Vec<_>>(),
                sealed => row.seal_recipient.is_some(), trustees => row.trustees, threshold => row.threshold,
                replaces_lost_codes => row.revocation_recipient.is_some(),
            },
            departments => departments,
            questions => questions,
            counts => counts,
            notice => notice,
            tally => tally,
            k => row.min_group_size,
            max_roll_mib => MAX_ROLL_BYTES / 1_048_576,
            error => shown,
        },
    )
}

/// The roll: a CSV file or pasted text (the file wins when both are given).
#[post("/staff/rounds/{id}/voters")]
async fn import_roll(staff: StaffPage<BallotOfficers>, path: web::Path<RoundId>, payload: Multipart) -> HttpResponse {
    let id = path.into_inner();
    // The file is spooled where attachments are (and removed once read).
    let spool = staff.state.settings.complaints.attachment_dir(staff.state.settings.data_dir());
    let posted = match complaint_form::read(payload, "roll_file", MAX_ROLL_BYTES, 1, &spool).await {
        Ok(p) => p,
        Err(e) => return show_round(&staff, id, Notice::default(), Some(explain(&staff, &e))).await,
    };
    if let Err(e) = staff.check_csrf(posted.get("csrf")) {
        return staff.error(&e);
    }
    let text = match posted.files.first() {
        Some(f) => match f.staged.read().ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or(()) {
            Ok(t) => t,
            Err(_) => {
                let e = ApiError::invalid("roll_file", "not_utf8", "the roll must be UTF-8 CSV");
                return show_round(&staff, id, Notice::default(), Some(explain(&staff, &e))).await;
            }
        },
        None => posted.get("roll_text").to_string(),
    };
    // Spreadsheet programs start UTF-8 files with a byte-order mark.
    let text = text.trim_start_matches('\u{feff}').to_string();
    if text.trim().is_empty() {
        let e = ApiError::invalid("roll_text", "required", "a file or pasted rows");
        return show_round(&staff, id, Notice::default(), Some(explain(&staff, &e))).await;
    }
    let (round_id, actor, sent) = (id.clone(), staff.user().id.clone(), text.clone());
    match db::run(&staff.state.pool, move |conn| service::import_roll(conn, &round_id, &text, &actor, db::now())).await
    {
        Ok(report) if report.errors.is_empty() => {
            staff.see_other(&format!("/staff/rounds/{id}?imported={}", report.imported))
        }
        Ok(report) => {
            let row_errors: Vec<(usize, String)> = report.errors.into_iter().map(|e| (e.line, e.message)).collect();
            let roll_rows = sent
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty())
                .map(|(i, line)| {
                    let mistake = row_errors.iter().find(|(n, _)| *n == i + 1).map(|(_, m)| m.clone());
                    (i + 1, line.to_string(), mistake)
                })
                .collect();
            let notice = Notice { row_errors, roll_rows, roll_text: Some(sent), ..Default::default() };
            show_round(&staff, id, notice, None).await
        }
        Err(e) => {
            let mut shown = explain(&staff, &e);
            if let ApiError::Conflict { kind: "conflict", .. } = e {
                shown.summary = staff.text("commission.round.roll_after_draft");
                shown.detail = None;
            }
            show_round(&staff, id, Notice::default(), Some(shown)).await
        }
    }
}

/// Codes for everyone on the roll without one: emails queued, and the paper letters sent back
/// at once as a print-ready page — once: nothing of them stays on the server, and the codes are
/// not shown again. Without paper letters, the round's page says how many emails were queued.
#[post("/staff/rounds/{id}/issue-codes")]
async fn issue_codes(
    staff: StaffPage<BallotOfficers>,
    path: web::Path<RoundId>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    let id = path.into_inner();
    let (round_id, actor, rules, deliverable) = (
        id.clone(),
        staff.user().id.clone(),
        staff.state.rules.clone(),
        service::email_deliverable(&staff.state.settings),
    );
    let issued = db::run(&staff.state.pool, move |conn| {
        let round = service::find(conn, &round_id)?;
        service::issue_codes(conn, &round_id, &rules.notices, deliverable, &actor, db::now())
            .map(|issued| (round.title, issued))
    })
    .await;
    issued_answer(&staff, id, issued).await
}

/// What the officer sees after codes were issued: the paper letters as a print-ready page, this
/// once; with none, the round's page saying how many emails were queued.
async fn issued_answer(
    staff: &StaffPage<BallotOfficers>,
    id: RoundId,
    issued: Result<(String, service::Issued), ApiError>,
) -> HttpResponse {
    match issued {
        Ok((title, issued)) if !issued.letters.is_empty() => {
            let note = once_note(staff, "letters-note", format!("/staff/rounds/{id}"), |lang| {
                vec![
                    (
                        Some("letters-notice"),
                        staff
                            .text_in("commission.round.issued", lang)
                            .replace("{letters}", &issued.letters.len().to_string())
                            .replace("{emails}", &issued.emailed.to_string()),
                    ),
                    (None, staff.text_in("commission.round.letters_once", lang)),
                ]
            });
            let html = match letters::letters(staff.lang.html_tag(), &title, &issued.letters, Some(&note)) {
                Ok(html) => html,
                Err(e) => return staff.error(&e.into()),
            };
            let mut page = shown_once(html);
            page.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                header::HeaderValue::from_static("inline; filename=\"letters.html\""),
            );
            page
        }
        Ok((_, issued)) => {
            let notice = Notice { letters: Some(0), emailed: Some(issued.emailed), ..Default::default() };
            show_round(staff, id, notice, None).await
        }
        Err(e) => {
            let mut shown = explain(staff, &e);
            if let ApiError::Conflict { kind: "conflict", .. } = e {
                shown.summary = staff.text("commission.round.codes_after_close");
                shown.detail = None;
            }
            show_round(staff, id, Notice::default(), Some(shown)).await
        }
    }
}

#[derive(Deserialize)]
struct ReissueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    voter: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    revocation_key: String,
}

/// Replaces a voter's code — in hand, or lost (with the round's revocation key) — and answers
/// as "issue codes" does: the new letter, once, or the round's page with the email queued.
#[post("/staff/rounds/{id}/reissue")]
async fn reissue_code(
    staff: StaffPage<BallotOfficers>,
    path: web::Path<RoundId>,
    form: web::Form<ReissueForm>,
) -> HttpResponse {
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    let id = path.into_inner();
    let form = form.into_inner();
    let some = |v: String| Some(v).filter(|v| !v.trim().is_empty());
    let request =
        service::ReissueRequest { voter: form.voter, code: some(form.code), revocation_key: some(form.revocation_key) };
    let (round_id, actor, rules, deliverable) = (
        id.clone(),
        staff.user().id.clone(),
        staff.state.rules.clone(),
        service::email_deliverable(&staff.state.settings),
    );
    let issued = db::run(&staff.state.pool, move |conn| {
        let round = service::find(conn, &round_id)?;
        service::reissue(conn, &round_id, &request, &rules.notices, deliverable, &actor, db::now())
            .map(|issued| (round.title, issued))
    })
    .await;
    issued_answer(&staff, id, issued).await
}

/// The round key's shares, once, as a print-ready page: one page per trustee. Nothing of them
/// stays on the server.
fn key_shares_page(staff: &StaffPage<BallotOfficers>, round: &service::RoundRow, shares: &[String]) -> HttpResponse {
    let note = once_note(staff, "shares-note", format!("/staff/rounds/{}", round.id), |lang| {
        vec![(
            None,
            staff
                .text_in("commission.round.shares_once", lang)
                .replace("{n}", &round.trustees.to_string())
                .replace("{t}", &round.threshold.to_string()),
        )]
    });
    let care = staff.text("commission.round.share_care").replace("{t}", &round.threshold.to_string());
    match letters::key_shares(staff.lang.for_staff().html_tag(), &round.title, shares, &care, &note) {
        Ok(html) => shown_once(html),
        Err(e) => staff.error(&e.into()),
    }
}

#[derive(Deserialize)]
struct UnsealForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key_shares: String,
}

/// The trustees open the sealed ballots of a closed round with their key shares (one a line).
#[post("/staff/rounds/{id}/unseal")]
async fn unseal_round(
    staff: StaffPage<BallotOfficers>,
    path: web::Path<RoundId>,
    form: web::Form<UnsealForm>,
) -> HttpResponse {
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    let id = path.into_inner();
    let shares: Vec<String> =
        form.key_shares.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    let (round_id, actor) = (id.clone(), staff.user().id.clone());
    match db::run(&staff.state.pool, move |conn| service::unseal(conn, &round_id, &shares, &actor, db::now())).await {
        Ok(_) => staff.see_other(&format!("/staff/rounds/{id}")),
        Err(e) => {
            let shown = explain(&staff, &e);
            show_round(&staff, id, Notice::default(), Some(shown)).await
        }
    }
}

async fn advance(staff: StaffPage<BallotOfficers>, id: RoundId, csrf: &str, to: RoundStatus) -> HttpResponse {
    if let Err(e) = staff.check_csrf(csrf) {
        return staff.error(&e);
    }
    let (round_id, actor) = (id.clone(), staff.user().id.clone());
    match db::run(&staff.state.pool, move |conn| service::advance(conn, &round_id, to, &actor, db::now())).await {
        Ok(service::Advanced { round, key_shares: Some(shares) }) => key_shares_page(&staff, &round, &shares),
        Ok(_) => staff.see_other(&format!("/staff/rounds/{id}")),
        Err(e) => {
            let shown = explain(&staff, &e);
            show_round(&staff, id, Notice::default(), Some(shown)).await
        }
    }
}

#[post("/staff/rounds/{id}/open")]
async fn open_round(
    staff: StaffPage<BallotOfficers>,
    path: web::Path<RoundId>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    advance(staff, path.into_inner(), &form.csrf, RoundStatus::Open).await
}

#[post("/staff/rounds/{id}/close")]
async fn close_round(
    staff: StaffPage<BallotOfficers>,
    path: web::Path<RoundId>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    advance(staff, path.into_inner(), &form.csrf, RoundStatus::Closed).await
}

#[post("/staff/rounds/{id}/publish")]
async fn publish_round(
    staff: StaffPage<BallotOfficers>,
    path: web::Path<RoundId>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    advance(staff, path.into_inner(), &form.csrf, RoundStatus::Published).await
}

// ---------------------------------------------------------------------------------------------
// The year's assessment

#[derive(Deserialize)]
struct YearQuery {
    year: Option<String>,
}

fn this_year() -> i32 {
    db::now().with_timezone(&crate::calendar::shanghai()).year()
}

/// A year the assessment covers (2017–2100), or 404 like the API.
fn check_year(year: i32) -> Result<i32, ApiError> {
    if (2017..=2100).contains(&year) {
        Ok(year)
    } else {
        Err(ApiError::NotFound(format!("no assessment for {year}")))
    }
}

fn opt2(v: Option<f64>) -> Option<String> {
    v.map(|x| format!("{x:.2}"))
}

#[get("/staff/assessment")]
async fn assessment_page(staff: StaffPage<Assessors>, query: web::Query<YearQuery>) -> HttpResponse {
    let year = match query.into_inner().year.map(|y| y.trim().parse::<i32>()) {
        None => Ok(this_year()),
        Some(Ok(y)) => check_year(y),
        Some(Err(_)) => Err(ApiError::NotFound("not a year".into())),
    };
    let year = match year {
        Ok(y) => y,
        Err(e) => return staff.error(&e),
    };
    let (formula, cal) = (staff.state.settings.assessment.clone(), staff.state.calendar.current());
    let r = match db::run(&staff.state.pool, move |conn| report::current(conn, &cal, &formula, year, db::now())).await {
        Ok(r) => r,
        Err(e) => return staff.error(&e),
    };
    let lang = staff.lang;
    let name = |zh: &str, en: &str| if lang.is_chinese() { zh.to_string() } else { en.to_string() };
    let name_of = |id: &str| r.department(id).map(|d| name(&d.name_zh, &d.name_en)).unwrap_or_default();
    let rows: Vec<minijinja::Value> = r
        .departments
        .iter()
        .map(|d| {
            let s = &d.score;
            minijinja::context! {
                rank => s.rank, name => name(&d.name_zh, &d.name_en),
                total => opt2(s.total), conduct => opt2(s.conduct), complaints => format!("{:.2}", s.complaint_handling),
                conduct_index => opt2(s.conduct_index), on_time => opt2(s.on_time_rate), satisfaction => opt2(s.satisfaction_rate), contest => opt2(s.contest_rate),
                red => r.red_list.contains(&s.department_id), black => r.black_list.contains(&s.department_id),
            }
        })
        .collect();
    let totals: Vec<(String, f64)> =
        r.departments.iter().filter_map(|d| d.score.total.map(|t| (name(&d.name_zh, &d.name_en), t))).collect();
    let on_time: Vec<(String, f64)> =
        r.departments.iter().filter_map(|d| d.score.on_time_rate.map(|v| (name(&d.name_zh, &d.name_en), v))).collect();
    let years: Vec<i32> = (2017..=this_year().max(year)).rev().collect();
    staff.render(
        "commission/assessment.html",
        minijinja::context! {
            year => year,
            years => years,
            finalized => r.finalized,
            version => r.version,
            reason => &r.reason,
            computed_at => r.computed_at.to_rfc3339(),
            formula_version => &r.formula.formula_version,
            max_total => format!("{:.0}", r.formula.conduct_points + r.formula.complaint_points),
            red_list => r.red_list.iter().map(|id| name_of(id)).collect::<Vec<_>>(),
            black_list => r.black_list.iter().map(|id| name_of(id)).collect::<Vec<_>>(),
            rows => rows,
            totals => charts::bar_chart(&totals, r.formula.conduct_points + r.formula.complaint_points, ""),
            on_time => charts::bar_chart(&on_time, 100.0, "%"),
            trend => charts::trend(r.trend.iter().map(|m| (m.month.as_str(), m.on_time_rate, m.clocks))),
        },
    )
}

/// The printable report with its charts, as the API's `?format=html` gives it. It carries its
/// own print styles inline, so it is served with the application's general policy (inline
/// styles allowed, scripts still only from here) rather than the pages' stricter one.
#[get("/staff/assessment/{year}/print")]
async fn printable_report(staff: StaffPage<Assessors>, path: web::Path<i32>) -> HttpResponse {
    let year = match check_year(path.into_inner()) {
        Ok(y) => y,
        Err(e) => return staff.error(&e),
    };
    let (formula, cal) = (staff.state.settings.assessment.clone(), staff.state.calendar.current());
    let report = db::run(&staff.state.pool, move |conn| report::current(conn, &cal, &formula, year, db::now())).await;
    match report.and_then(|r| report::to_html(&r).map_err(ApiError::from)) {
        Ok(html) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => staff.error(&e),
    }
}
