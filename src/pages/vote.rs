//! The ballot page: `/vote` (the open rounds and the code), the ballot, a review of the choices,
//! and the receipt, shown once; `/vote/{round}/results` (published results and the bulletin).
//!
//! The code travels only in POST bodies — a hidden field from one step to the next — never in a
//! URL, a cookie or a log line. Every step that looks at a code counts against the same per-client
//! limit as the API, and unknown, spent and foreign codes get the API's one generic refusal.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::render::{Page, ShownError, ShownField, SwitchForm};
use crate::ballots::bulletin::Bulletin;
use crate::ballots::model::RoundStatus;
use crate::ballots::model::{Answer, Category, Question};
use crate::ballots::service::{self, CastRequest, DepartmentRating, RoundDepartment, RoundRow};
use crate::ballots::tally::{AnswerCounts, DepartmentTally};
use crate::complaints::model::Language;
use crate::db;
use crate::error::ApiError;
use crate::http::ClientAddr;
use crate::ids::RoundId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(start).service(ballot).service(review).service(cast).service(receipt_again).service(results);
}

/// The answers, in the order the ballot shows them.
const ANSWERS: [Answer; 4] = Answer::ALL;

fn answer_key(a: Answer) -> &'static str {
    match a {
        Answer::Satisfied => "satisfied",
        Answer::BasicallySatisfied => "basically_satisfied",
        Answer::Dissatisfied => "dissatisfied",
        Answer::NotEnoughContact => "not_enough_contact",
    }
}

fn parse_answer(s: &str) -> Option<Answer> {
    ANSWERS.into_iter().find(|a| answer_key(*a) == s)
}

pub(super) use crate::ballots::model::title_in;

fn local(t: chrono::NaiveDateTime) -> String {
    db::from_db_time(t).with_timezone(&crate::calendar::shanghai()).to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// Step 1: the open rounds and the code

#[derive(Serialize)]
struct OpenRound {
    id: String,
    title: String,
    opens_at: String,
    closes_at: String,
    /// Inside its voting window now (an open round may not have reached its start yet).
    accepting: bool,
}

#[derive(Serialize)]
struct PublishedRound {
    id: String,
    title: String,
    year: i32,
}

#[derive(Deserialize)]
struct StartQuery {
    /// The round a code letter or email points to.
    round: Option<String>,
}

#[get("/vote")]
async fn start(page: Page, query: web::Query<StartQuery>) -> HttpResponse {
    show_start(&page, query.into_inner().round.as_deref(), "", None).await
}

/// The start page, with what was typed (after a refusal) and the error.
async fn show_start(page: &Page, chosen: Option<&str>, typed: &str, error: Option<&ApiError>) -> HttpResponse {
    let lang = page.lang;
    let now = db::now();
    let rounds = db::run(&page.state.pool, service::list).await;
    let rounds = match rounds {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let open: Vec<OpenRound> = rounds
        .iter()
        .filter(|r| r.status() == RoundStatus::Open && now < db::from_db_time(r.closes_at))
        .map(|r| OpenRound {
            id: r.id.to_string(),
            title: title_in(&r.title, lang),
            opens_at: local(r.opens_at),
            closes_at: local(r.closes_at),
            accepting: db::from_db_time(r.opens_at) <= now,
        })
        .collect();
    let published: Vec<PublishedRound> = rounds
        .iter()
        .filter(|r| r.status() == RoundStatus::Published)
        .map(|r| PublishedRound { id: r.id.to_string(), title: title_in(&r.title, lang), year: r.year })
        .collect();
    let chosen = chosen.filter(|c| open.iter().any(|r| r.id == *c)).map(str::to_string);
    let shown = error.map(|e| page.explain(e));
    page.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "vote/start.html",
        minijinja::context! {
            open => open,
            published => published,
            chosen => chosen,
            typed => typed.chars().take(40).collect::<String>(),
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
            // Shown after a post (a refused code): the switch checks the code again, spending
            // nothing — while a round takes codes, so that the page has the code form to post.
            switch_form => open.iter().any(|r| r.accepting).then(|| SwitchForm { form: "code-form", action: "/vote/ballot".into() }),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// What each step posts: the round, the code, and the answers chosen so far

/// Field name of one answer: `a:<department id>:<question key>`.
fn field_name(department_id: &str, key: &str) -> String {
    format!("a:{department_id}:{key}")
}

#[derive(Default)]
struct Posted {
    round: String,
    code: String,
    /// (department id, question key) → the answer as posted.
    answers: BTreeMap<(String, String), String>,
}

impl Posted {
    fn read(pairs: Vec<(String, String)>) -> Posted {
        let mut p = Posted::default();
        for (name, value) in pairs {
            match name.as_str() {
                "round" => p.round = value,
                "code" => p.code = value,
                _ => {
                    if let Some((department, key)) = name.strip_prefix("a:").and_then(|rest| rest.split_once(':')) {
                        p.answers.insert((department.to_string(), key.to_string()), value);
                    }
                }
            }
        }
        p
    }

    fn answer(&self, department_id: &str, key: &str) -> Option<Answer> {
        self.answers.get(&(department_id.to_string(), key.to_string())).and_then(|a| parse_answer(a))
    }
}

/// The round and the departments this code may rate (the code is not spent). Counts against
/// the client's ballot limit.
async fn ballot_for(
    page: &Page,
    client: &ClientAddr,
    round_id: &str,
    code: &str,
) -> Result<(RoundRow, Vec<RoundDepartment>), ApiError> {
    page.state.limits.ballot_by_client.check(&client.0).await?;
    if round_id.is_empty() {
        return Err(ApiError::invalid("round", "required", "choose a round"));
    }
    if round_id.len() > 64 || round_id.chars().any(char::is_control) {
        return Err(ApiError::NotFound("no such ballot round".into()));
    }
    if code.trim().is_empty() {
        return Err(ApiError::invalid("code", "required", "enter the code"));
    }
    let (round_id, code) = (RoundId::new(round_id), code.to_string());
    db::run(&page.state.pool, move |conn| {
        let round = service::find(conn, &round_id)?;
        if round.status() == RoundStatus::Draft {
            return Err(ApiError::NotFound("no such ballot round".into()));
        }
        let departments = service::departments_for_code(conn, &round_id, &code, db::now())?;
        Ok((round, departments))
    })
    .await
}

/// The code as the server reads it, grouped for display (`ABCD-EFGH-JKMN-PQRS-T`).
fn canonical(typed: &str) -> String {
    match crate::ballots::codes::normalise(typed) {
        Ok(c) => {
            c.as_bytes().chunks(4).map(|g| std::str::from_utf8(g).unwrap_or_default()).collect::<Vec<_>>().join("-")
        }
        Err(_) => typed.trim().to_string(),
    }
}

#[derive(Serialize)]
struct BallotQuestion {
    field: String,
    /// `q-<department no.>-<question no.>`: the fieldset's id is `f-` and this.
    anchor: String,
    text: String,
    chosen: Option<&'static str>,
    missing: bool,
}

#[derive(Serialize)]
struct BallotDepartment {
    id: String,
    name: String,
    questions: Vec<BallotQuestion>,
}

fn ballot_view(
    lang: Language,
    departments: &[RoundDepartment],
    questions: &[Question],
    posted: &Posted,
    mark_missing: bool,
) -> Vec<BallotDepartment> {
    departments
        .iter()
        .enumerate()
        .map(|(di, d)| BallotDepartment {
            id: d.id.clone(),
            name: if lang.is_chinese() { d.name_zh.clone() } else { d.name_en.clone() },
            questions: questions
                .iter()
                .enumerate()
                .map(|(qi, q)| {
                    let chosen = posted.answer(&d.id, &q.key).map(answer_key);
                    BallotQuestion {
                        field: field_name(&d.id, &q.key),
                        anchor: format!("q-{di}-{qi}"),
                        text: if lang.is_chinese() { q.text_zh.clone() } else { q.text_en.clone() },
                        chosen,
                        missing: mark_missing && chosen.is_none(),
                    }
                })
                .collect(),
        })
        .collect()
}

fn render_ballot(
    page: &Page,
    round: &RoundRow,
    code: &str,
    view: Vec<BallotDepartment>,
    error: Option<ShownError>,
) -> HttpResponse {
    page.render_status(
        error.as_ref().map(|e| e.status).unwrap_or(StatusCode::OK),
        "vote/ballot.html",
        minijinja::context! {
            round => minijinja::context! { id => &round.id, title => title_in(&round.title, page.lang), closes_at => local(round.closes_at) },
            code => canonical(code),
            departments => view,
            answers => ANSWERS.iter().map(|a| answer_key(*a)).collect::<Vec<_>>(),
            error => error,
            // The switch shows this ballot again, the choices made so far kept; nothing is cast.
            switch_form => SwitchForm { form: "ballot-form", action: "/vote/ballot".into() },
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Step 2: the ballot (from the code, or back from the review with the choices kept)

#[post("/vote/ballot")]
async fn ballot(page: Page, client: ClientAddr, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let posted = Posted::read(form.into_inner());
    match ballot_for(&page, &client, &posted.round, &posted.code).await {
        Ok((round, departments)) => {
            let view = ballot_view(page.lang, &departments, &round.questions(), &posted, false);
            render_ballot(&page, &round, &posted.code, view, None)
        }
        Err(e) => show_start(&page, Some(&posted.round), &posted.code, Some(&e)).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Step 3: the review

#[derive(Serialize)]
struct Chosen {
    field: String,
    text: String,
    answer: &'static str,
}

#[derive(Serialize)]
struct ReviewDepartment {
    name: String,
    answers: Vec<Chosen>,
}

/// Every question of every department answered, or the ballot again with the gaps marked.
fn complete(
    page: &Page,
    round: &RoundRow,
    departments: &[RoundDepartment],
    posted: &Posted,
) -> Result<Vec<DepartmentRating>, Box<HttpResponse>> {
    let questions = round.questions();
    let view = ballot_view(page.lang, departments, &questions, posted, true);
    let gaps: Vec<ShownField> = view
        .iter()
        .flat_map(|d| {
            d.questions.iter().filter(|q| q.missing).map(move |q| ShownField {
                field: q.anchor.clone(),
                label: None,
                message: format!("{} — {}: {}", d.name, q.text, page.text("vote.ballot.unanswered")),
            })
        })
        .collect();
    if !gaps.is_empty() {
        let shown = ShownError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            summary: page.text("vote.ballot.incomplete"),
            detail: None,
            fields: gaps,
        };
        return Err(Box::new(render_ballot(page, round, &posted.code, view, Some(shown))));
    }
    Ok(departments
        .iter()
        .map(|d| DepartmentRating {
            department_id: d.id.clone(),
            answers: questions
                .iter()
                .map(|q| (q.key.clone(), posted.answer(&d.id, &q.key).expect("checked")))
                .collect(),
        })
        .collect())
}

/// Review and cast both start here: the code checked again (not spent), then every question
/// answered — or the page that says what is wrong.
async fn checked_ballot(
    page: &Page,
    client: &ClientAddr,
    posted: &Posted,
) -> Result<(RoundRow, Vec<RoundDepartment>, Vec<DepartmentRating>), HttpResponse> {
    let (round, departments) = match ballot_for(page, client, &posted.round, &posted.code).await {
        Ok(found) => found,
        Err(e) => return Err(show_start(page, Some(&posted.round), &posted.code, Some(&e)).await),
    };
    let ratings = complete(page, &round, &departments, posted).map_err(|page| *page)?;
    Ok((round, departments, ratings))
}

/// The choices as the voter sees them on the review and on the receipt, in the round's order
/// of questions; `fields` names the hidden inputs that carry them (the review form).
fn chosen(
    lang: Language,
    round: &RoundRow,
    departments: &[RoundDepartment],
    ratings: &[DepartmentRating],
    fields: bool,
) -> Vec<ReviewDepartment> {
    let questions = round.questions();
    ratings
        .iter()
        .map(|r| {
            let d = departments.iter().find(|d| d.id == r.department_id);
            ReviewDepartment {
                name: d
                    .map(|d| if lang.is_chinese() { d.name_zh.clone() } else { d.name_en.clone() })
                    .unwrap_or_default(),
                answers: questions
                    .iter()
                    .filter_map(|q| {
                        r.answers.get(&q.key).map(|a| Chosen {
                            field: if fields { field_name(&r.department_id, &q.key) } else { String::new() },
                            text: if lang.is_chinese() { q.text_zh.clone() } else { q.text_en.clone() },
                            answer: answer_key(*a),
                        })
                    })
                    .collect(),
            }
        })
        .collect()
}

#[post("/vote/review")]
async fn review(page: Page, client: ClientAddr, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let posted = Posted::read(form.into_inner());
    let (round, departments, ratings) = match checked_ballot(&page, &client, &posted).await {
        Ok(checked) => checked,
        Err(res) => return res,
    };
    page.render(
        "vote/review.html",
        minijinja::context! {
            round => minijinja::context! { id => &round.id, title => title_in(&round.title, page.lang) },
            code => canonical(&posted.code),
            departments => chosen(page.lang, &round, &departments, &ratings, true),
            // The switch shows the review again; only "submit" casts.
            switch_form => SwitchForm { form: "cast-form", action: "/vote/review".into() },
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Step 4: casting, and the receipt shown once

#[post("/vote/cast")]
async fn cast(page: Page, client: ClientAddr, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let posted = Posted::read(form.into_inner());
    // The departments and questions are read again (and the code checked) so that a gap is
    // shown on the ballot rather than spending the code on a refusal.
    let (round, departments, ratings) = match checked_ballot(&page, &client, &posted).await {
        Ok(checked) => checked,
        Err(res) => return res,
    };
    let request = CastRequest { code: posted.code.clone(), ratings };
    let round_id = round.id.clone();
    let cast = db::run(&page.state.pool, move |conn| service::cast(conn, &round_id, request, db::now())).await;
    match cast {
        Ok(receipt) => page.render(
            "vote/receipt.html",
            minijinja::context! {
                round => minijinja::context! { id => &round.id, title => title_in(&round.title, page.lang) },
                departments => chosen(page.lang, &round, &departments, &receipt.ballot, false),
                receipt => receipt.receipt,
                switch_form => SwitchForm { form: "receipt-form", action: "/vote/receipt".into() },
            },
        ),
        Err(e @ ApiError::Invalid(_)) => {
            let view = ballot_view(page.lang, &departments, &round.questions(), &posted, true);
            let shown = page.explain(&e);
            render_ballot(&page, &round, &posted.code, view, Some(shown))
        }
        Err(e) => show_start(&page, Some(&posted.round), "", Some(&e)).await,
    }
}

#[derive(Deserialize)]
struct ReceiptAgain {
    #[serde(default)]
    round: String,
    #[serde(default)]
    receipt: String,
}

/// The receipt page again, in the language its switch asked for: the round and the receipt
/// only (the choices are not sent again, so nothing pairs a receipt with a ballot), checked
/// against the round's receipts and counted against the client's ballot limit.
#[post("/vote/receipt")]
async fn receipt_again(page: Page, client: ClientAddr, form: web::Form<ReceiptAgain>) -> HttpResponse {
    let ReceiptAgain { round, receipt } = form.into_inner();
    let shown = async {
        page.state.limits.ballot_by_client.check(&client.0).await?;
        if round.len() > 64 || receipt.len() > 64 || round.chars().chain(receipt.chars()).any(char::is_control) {
            return Err(ApiError::NotFound("no such receipt".into()));
        }
        let round_id = RoundId::new(round.as_str());
        let receipt = receipt.trim().to_string();
        db::run(&page.state.pool, move |conn| {
            let row = service::find(conn, &round_id)?;
            if !service::receipt_in_round(conn, &round_id, &receipt)? {
                return Err(ApiError::NotFound("no such receipt".into()));
            }
            Ok((row, receipt))
        })
        .await
    }
    .await;
    match shown {
        Ok((round, receipt)) => page.render(
            "vote/receipt.html",
            minijinja::context! {
                round => minijinja::context! { id => &round.id, title => title_in(&round.title, page.lang) },
                again => true,
                departments => Vec::<ReviewDepartment>::new(),
                receipt => receipt,
                switch_form => SwitchForm { form: "receipt-form", action: "/vote/receipt".into() },
            },
        ),
        Err(e) => page.error(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// Published results and the bulletin

#[derive(Serialize)]
pub(super) struct CountsView {
    satisfied: u32,
    basically_satisfied: u32,
    dissatisfied: u32,
    not_enough_contact: u32,
}

impl From<&AnswerCounts> for CountsView {
    fn from(c: &AnswerCounts) -> Self {
        CountsView {
            satisfied: c.satisfied,
            basically_satisfied: c.basically_satisfied,
            dissatisfied: c.dissatisfied,
            not_enough_contact: c.not_enough_contact,
        }
    }
}

#[derive(Serialize)]
pub(super) struct QuestionView {
    text: String,
    counts: CountsView,
    valid: u32,
    satisfaction_rate: Option<String>,
    conduct_index: Option<String>,
}

#[derive(Serialize)]
pub(super) struct CategoryView {
    category: &'static str,
    ballots: u32,
    satisfaction_rate: Option<String>,
    conduct_index: Option<String>,
}

#[derive(Serialize)]
pub(super) struct TallyView {
    name: String,
    suppressed: bool,
    ballots: Option<u32>,
    satisfaction_rate: Option<String>,
    /// For `<meter>`: the rate as a number.
    satisfaction_value: Option<f64>,
    conduct_index: Option<String>,
    questions: Vec<QuestionView>,
    by_category: Option<Vec<CategoryView>>,
}

fn two(v: Option<f64>) -> Option<String> {
    v.map(|x| format!("{x:.2}"))
}

/// The tally as the page shows it: names and question texts in the reader's language, figures
/// with two decimals. Suppressed departments carry no figure at all.
pub(super) fn tally_view(
    lang: Language,
    departments: &[RoundDepartment],
    questions: &[Question],
    tally: &[DepartmentTally],
) -> Vec<TallyView> {
    let name = |id: &str| {
        departments
            .iter()
            .find(|d| d.id == id)
            .map(|d| if lang.is_chinese() { d.name_zh.clone() } else { d.name_en.clone() })
            .unwrap_or_else(|| id.to_string())
    };
    let text = |key: &str| {
        questions
            .iter()
            .find(|q| q.key == key)
            .map(|q| if lang.is_chinese() { q.text_zh.clone() } else { q.text_en.clone() })
            .unwrap_or_else(|| key.to_string())
    };
    tally
        .iter()
        .map(|t| TallyView {
            name: name(&t.department_id),
            suppressed: t.suppressed,
            ballots: t.ballots,
            satisfaction_rate: two(t.satisfaction_rate),
            satisfaction_value: t.satisfaction_rate,
            conduct_index: two(t.conduct_index),
            questions: t
                .questions
                .iter()
                .flatten()
                .map(|q| QuestionView {
                    text: text(&q.key),
                    counts: (&q.counts).into(),
                    valid: q.valid,
                    satisfaction_rate: two(q.satisfaction_rate),
                    conduct_index: two(q.conduct_index),
                })
                .collect(),
            by_category: t.by_category.as_ref().map(|cs| {
                cs.iter()
                    .map(|c| CategoryView {
                        category: c.category.as_str(),
                        ballots: c.ballots,
                        satisfaction_rate: two(c.satisfaction_rate),
                        conduct_index: two(c.conduct_index),
                    })
                    .collect()
            }),
        })
        .collect()
}

/// SHA-256 of the bulletin exactly as `GET /api/v1/ballots/{round}/bulletin` sends it.
pub(super) fn bulletin_digest(b: &Bulletin) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(b).unwrap_or_default()))
}

/// A receipt as typed: upper case, no blanks or dashes (the bulletin's are grouped by dashes).
fn receipt_key(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

#[derive(Deserialize)]
struct ResultsQuery {
    /// A receipt to look for on the bulletin (receipts are public: a query string is fine).
    receipt: Option<String>,
}

#[get("/vote/{round}/results")]
async fn results(page: Page, path: web::Path<RoundId>, query: web::Query<ResultsQuery>) -> HttpResponse {
    let id = path.into_inner();
    let loaded = db::run(&page.state.pool, move |conn| {
        let round = service::find(conn, &id)?;
        if round.status() != RoundStatus::Published {
            return Err(ApiError::NotFound("results are public once the round is published".into()));
        }
        let bulletin = service::bulletin(conn, &round)?;
        let departments = service::round_departments(conn, &round.id)?;
        Ok((round, bulletin, departments))
    })
    .await;
    let (round, bulletin, departments) = match loaded {
        Ok(l) => l,
        Err(e) => return page.error(&e),
    };
    let lang = page.lang;
    let sought =
        query.into_inner().receipt.map(|r| r.chars().take(40).collect::<String>()).filter(|r| !r.trim().is_empty());
    let found = sought.as_deref().map(|s| {
        let key = receipt_key(s);
        bulletin.receipts.iter().any(|r| receipt_key(r) == key)
    });
    let shown_rows: BTreeSet<&String> = bulletin.totals.iter().map(|t| &t.department_id).collect();
    page.render(
        "vote/results.html",
        minijinja::context! {
            round => minijinja::context! { id => &round.id, title => title_in(&round.title, lang), year => round.year, opens_at => local(round.opens_at), closes_at => local(round.closes_at) },
            k => bulletin.min_group_size,
            codes_issued => bulletin.codes_issued,
            codes_used => bulletin.codes_used,
            ballot_rows => bulletin.totals.iter().map(|t| t.ballots).sum::<u32>(),
            departments_listed => shown_rows.len(),
            points => minijinja::context! { satisfied => bulletin.points.satisfied, basically_satisfied => bulletin.points.basically_satisfied, dissatisfied => bulletin.points.dissatisfied },
            tally => tally_view(lang, &departments, &bulletin.questions, &bulletin.tally),
            categories => Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            receipts => &bulletin.receipts,
            digest => bulletin_digest(&bulletin),
            sought => sought,
            found => found,
        },
    )
}
