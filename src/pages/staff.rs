//! The staff complaint pages: the hotline operator's intake and status read-back
//! (`/staff/intake`, `/staff/status`), the inbox of departments and the coordination office
//! (`/staff/inbox`, with the coordinator's queue of complaints to assign), and one complaint
//! (`/staff/complaints/{id}`) with the forms each role may use.
//!
//! Every page and form admits the roles the JSON API admits for the same operation, calls the
//! same service function, and validates text with the same limits. Department staff reach only
//! their department's complaints (the service's scope check answers 404 for the others).

use crate::complaints::context;
use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::complaint_form::{self, Posted};
use super::investor::store_attachments;
use super::render::{Page, ShownError, Switch, SwitchForm};
use super::session::StaffPage;
use crate::auth::roles::{CoordinatorOnly, DepartmentOnly, Handlers, OperatorOnly, Role, StatusReaders};
use crate::auth::StaffUser;
use crate::calendar::{local_date, WorkingCalendar};
use crate::complaints::duplicates;
use crate::complaints::error::{ComplaintError, ComplaintResult};
use crate::complaints::events::{self, EventView};
use crate::complaints::intake::{self, limits};
use crate::complaints::model::{hash_access_code, ReplyOutcome, TrackingNumber};
use crate::complaints::operations::{self, acting, received_filter, with_ctx, Access};
use crate::complaints::service::{self, IdempotencyKey};
use crate::complaints::state::{transition, Action, Actor, Status};
use crate::complaints::store::{self, ListFilter, ListedComplaint};
use crate::complaints::views;
use crate::db::{self, from_db_time};
use crate::departments::DepartmentKind;
use crate::error::{ApiError, FieldError};
use crate::escalation::ladder::Trigger;
use crate::fields::{optional_text, required_text, Checker};
use crate::http::rate_limit::Admission;
use crate::http::ClientAddr;
use crate::ids::{ComplaintId, DepartmentId};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(intake_page)
        .service(intake_post)
        .service(intake_receipt)
        .service(callbacks_page)
        .service(callback_done)
        .service(status_page)
        .service(withdraw_post)
        .service(inbox_page)
        .service(complaint_page)
        .service(download_file)
        .service(post_assign)
        .service(post_reassign)
        .service(post_reject)
        .service(post_mark_duplicate)
        .service(post_decide_extension)
        .service(post_request_info)
        .service(post_reply)
        .service(preview_reply)
        .service(post_return)
        .service(post_request_extension)
        .service(post_note);
}

/// Lines per inbox page.
const PAGE_SIZE: i64 = 25;
/// The coordinator's queue of complaints to assign shows at most this many.
const QUEUE_SIZE: i64 = 100;
/// The reminder window when the ladder has no `working_days_before_due` rung.
const DEFAULT_REMINDER_DAYS: u32 = 2;

/// Success notices a page shows after a form (`?done=…`); anything else is ignored.
const DONE: &[&str] = &[
    "assign",
    "reassign",
    "reject",
    "decide_extension",
    "request_info",
    "reply",
    "return",
    "request_extension",
    "withdraw",
    "note",
    "duplicate",
];

fn done_notice(done: Option<&str>) -> Option<&'static str> {
    done.and_then(|d| DONE.iter().copied().find(|k| *k == d))
}

/// A form without this session's token (expired, or made elsewhere) is refused before anything
/// is read or changed, with a 403 page that says to open the page again.
fn expired_form(page: &Page, err: &ApiError) -> HttpResponse {
    let mut shown = page.explain(err);
    shown.summary = page.text("staff.form_expired");
    page.render_status(shown.status, "error.html", minijinja::context! { error => shown })
}

macro_rules! csrf_or_refuse {
    ($staff:expr, $form:expr) => {
        if let Err(e) = $staff.check_csrf(&$form.csrf) {
            return expired_form(&$staff, &e);
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Urgency

/// How urgent a complaint is, as the inbox colours and labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Urgency {
    Overdue,
    DueToday,
    /// Within the ladder's reminder window (`working_days_before_due:N`, N = 2 by default).
    Reminder,
    Ok,
    /// Waiting for the investor's information: the clock does not run.
    Paused,
    /// No reply clock runs (replied, rejected, closed, withdrawn).
    None,
}

impl Urgency {
    fn as_str(self) -> &'static str {
        match self {
            Urgency::Overdue => "overdue",
            Urgency::DueToday => "today",
            Urgency::Reminder => "reminder",
            Urgency::Ok => "ok",
            Urgency::Paused => "paused",
            Urgency::None => "none",
        }
    }
}

/// The facts urgency depends on.
struct ClockFacts {
    open: bool,
    overdue: bool,
    paused: bool,
    due_date: NaiveDate,
    /// Working days after today up to the due date.
    left: i64,
}

fn classify(f: &ClockFacts, today: NaiveDate, reminder_days: u32) -> Urgency {
    if !f.open {
        Urgency::None
    } else if f.overdue {
        Urgency::Overdue
    } else if f.paused {
        Urgency::Paused
    } else if f.due_date <= today {
        Urgency::DueToday
    } else if f.left <= i64::from(reminder_days) {
        Urgency::Reminder
    } else {
        Urgency::Ok
    }
}

/// The reminder window: the widest `working_days_before_due:N` rung of the reply ladder (the
/// rung that emails the department a reminder), so the inbox warns when the email does.
fn reminder_days(page: &Page) -> u32 {
    page.state
        .rules
        .notices
        .ladder
        .rungs
        .iter()
        .filter_map(|r| match r.trigger {
            Trigger::WorkingDaysBeforeDue(n) => Some(n),
            _ => None,
        })
        .max()
        .unwrap_or(DEFAULT_REMINDER_DAYS)
}

/// A list row's facts: from the row's due instant (kept current by every change and by the
/// sweeper) and its overdue flag, without loading the clock.
fn row_facts(row: &ListedComplaint, cal: &WorkingCalendar, now: DateTime<Utc>) -> Option<ClockFacts> {
    let status = row.status;
    let due = from_db_time(row.due_at?);
    // A due instant at midnight closes the day before it.
    let due_date = local_date(due - chrono::Duration::microseconds(1));
    Some(ClockFacts {
        open: status.clock_open(),
        overdue: row.overdue || now >= due,
        paused: status == Status::AwaitingInvestor,
        due_date,
        left: cal.working_days_between(local_date(now), due_date),
    })
}

// ---------------------------------------------------------------------------------------------
// Departments

struct Departments {
    /// id → name in the reader's language (inactive ones too: old assignments name them).
    names: BTreeMap<DepartmentId, String>,
    /// Those a complaint can be assigned to: active, not an escalation office.
    assignable: Vec<(DepartmentId, String)>,
}

async fn departments(page: &Page) -> Result<Departments, ApiError> {
    let rows = db::run(&page.state.pool, |conn| crate::departments::store::list(conn, true)).await?;
    let zh = page.lang == crate::complaints::model::Language::Zh;
    let mut names = BTreeMap::new();
    let mut assignable = Vec::new();
    for d in rows {
        let name = if zh { d.name_zh.clone() } else { d.name_en.clone() };
        if d.active && d.kind() != DepartmentKind::Office {
            assignable.push((d.id.clone(), name.clone()));
        }
        names.insert(d.id, name);
    }
    Ok(Departments { names, assignable })
}

fn signed_in(page: &Page) -> &StaffUser {
    &page.staff.as_ref().expect("a staff page has a signed-in user").user
}

/// `page.explain`, with this page group's wording for codes whose shared wording does not fit
/// (e.g. `unchanged` means "the same department" here), and each field named `{form}-{field}`
/// so that its message sits under the input of the form that was sent.
pub(super) fn explain(page: &Page, err: &ApiError, form: Option<&str>) -> ShownError {
    let mut shown = page.explain(err);
    if let ApiError::Invalid(list) = err {
        for (shown, e) in shown.fields.iter_mut().zip(list) {
            if let Some(own) = page.state.pages.text(&format!("staff.field.{}", e.code), page.lang) {
                shown.message = own.to_string();
            }
            match form {
                Some(form) => {
                    shown.field = format!("{form}-{}", shown.field);
                    shown.label = None;
                }
                // The intake form: the complaint's fields, worded for the caller.
                None => shown.label = page.complaint_label(&e.field, Some(CALLER_LABELS)),
            }
        }
    }
    shown
}

// ---------------------------------------------------------------------------------------------
// Hotline intake

#[get("/staff/intake")]
async fn intake_page(staff: StaffPage<OperatorOnly>) -> HttpResponse {
    render_intake(&staff, &Posted::default(), None).await
}

async fn render_intake(page: &Page, posted: &Posted, error: Option<&ApiError>) -> HttpResponse {
    let departments = match complaint_form::department_choices(&page.state, page.lang).await {
        Ok(d) => d,
        Err(e) => return page.error(&e),
    };
    let shown = error.map(|e| explain(page, e, None));
    page.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "staff/intake.html",
        minijinja::context! {
            options => complaint_form::form_options(&page.state, departments),
            values => &posted.fields,
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
            label_group => CALLER_LABELS,
            // A caller without email is told by phone (the call-back list).
            email_optional => true,
            // Shown after a post (with mistakes): the switch shows the form again as typed.
            switch_form => SwitchForm { form: "intake-form", action: "/staff/intake".into() },
        },
    )
}

/// The catalogue group whose labels the intake form shows: they speak of the caller.
const CALLER_LABELS: &str = "staff.caller";

/// Files for a caller (channel and contact consent recorded) and shows the tracking number and
/// access code once, for the operator to read out.
#[post("/staff/intake")]
async fn intake_post(staff: StaffPage<OperatorOnly>, switch: web::Query<Switch>, payload: Multipart) -> HttpResponse {
    let s = &staff.state.settings.complaints;
    let dir = s.attachment_dir(staff.state.settings.data_dir());
    let (mut posted, refused_file) = match complaint_form::read_keeping_fields(
        payload,
        "attachments",
        s.attachment_max_bytes,
        s.attachment_max_count as usize,
        &dir,
    )
    .await
    {
        Ok(read) => read,
        Err(e) => return render_intake(&staff, &Posted::default(), Some(&e)).await,
    };
    if let Err(e) = staff.check_csrf(posted.get("csrf")) {
        return expired_form(&staff, &e);
    }
    if let Some(refused) = refused_file {
        return render_intake(&staff, &posted, Some(&refused)).await;
    }
    // The language switch: the form again as typed, its mistakes named again; nothing is filed.
    if switch.asked() {
        let mistakes = complaint_form::filing_request(&posted, true)
            .and_then(|request| intake::validate(request, true).map_err(ApiError::from))
            .err();
        return render_intake(&staff, &Posted { files: Vec::new(), ..posted }, mistakes.as_ref()).await;
    }
    match file_for_caller(&staff, &mut posted).await {
        Ok(res) => res,
        Err(e) => render_intake(&staff, &posted, Some(&e)).await,
    }
}

async fn file_for_caller(page: &Page, posted: &mut Posted) -> Result<HttpResponse, ApiError> {
    let request = complaint_form::filing_request(posted, true)?;
    let valid = intake::validate(request, true)?;
    let idempotency = IdempotencyKey::parse(posted.get("idempotency_key")).ok().map(|k| (k, posted.digest()));
    let count = posted.files.len();
    let files = complaint_form::check_files(std::mem::take(&mut posted.files), "attachments")?;
    let by = acting(signed_in(page));
    let filed = operations::file(&page.state, Admission::Counted, valid, by.clone(), idempotency).await?;
    if !filed.replayed {
        store_attachments(page, &filed.complaint.id, files, by).await?;
    }
    Ok(render_filed(page, &filed.complaint, filed.access_code.as_deref(), &filed.clock, count))
}

/// What the operator reads out after an intake: the number and, once, the code (None on a
/// retry after the sealed code expired: it was shown the first time), the due date, the files.
fn render_filed(
    page: &Page,
    complaint: &store::ComplaintRow,
    access_code: Option<&str>,
    clock: &store::ClockRow,
    attachments: usize,
) -> HttpResponse {
    let due_at = from_db_time(clock.due_at).with_timezone(&crate::calendar::shanghai());
    page.render(
        "staff/filed.html",
        minijinja::context! {
            tracking_number => &complaint.tracking_number,
            access_code,
            channel => &complaint.channel,
            due_date => clock.due_date.to_string(),
            due_at => due_at.to_rfc3339(),
            provisional => clock.provisional,
            attachments,
            by_phone => crate::complaints::callbacks::by_phone(complaint),
            // The switch shows this answer again to whoever holds the number and the code.
            switch_form => access_code.map(|_| SwitchForm { form: "filed-form", action: "/staff/intake/receipt".into() }),
        },
    )
}

#[derive(Deserialize)]
struct FiledAgain {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tracking_number: String,
    #[serde(default)]
    access_code: String,
}

/// The intake's answer again, in the language its switch asked for: the number and the code it
/// showed must match (the look-up's limit per client); nothing is filed.
#[post("/staff/intake/receipt")]
async fn intake_receipt(
    staff: StaffPage<OperatorOnly>,
    client: ClientAddr,
    form: web::Form<FiledAgain>,
) -> HttpResponse {
    let form = form.into_inner();
    csrf_or_refuse!(staff, form);
    let code = form.access_code.trim().to_string();
    let found = async {
        staff.state.limits.tracking_by_client.check(&client.0).await?;
        let (number, hash) = (form.tracking_number.trim().to_string(), hash_access_code(&code));
        db::run(&staff.state.pool, move |conn| {
            let row = crate::complaints::operations::open_by_code(conn, &number, &hash)?;
            let clock = store::current_clock(conn, &row.id, context::REPLY_CLOCK)?
                .ok_or_else(|| ComplaintError::internal("intake receipt", "a complaint without its reply clock"))?;
            let files = crate::complaints::attachments::count(conn, &row.id)?;
            Ok::<_, ComplaintError>((row, clock, files))
        })
        .await
    }
    .await;
    match found {
        Ok((row, clock, files)) => render_filed(&staff, &row, Some(&code), &clock, files as usize),
        Err(e) => staff.error(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// Status read-back (hotline, coordination office)

#[derive(Deserialize, Default)]
struct StatusQuery {
    #[serde(default)]
    number: String,
    #[serde(default)]
    done: String,
    /// A caller who lost the number: their name, phone or company (complaints::read_back).
    #[serde(default)]
    q: String,
}

/// What a caller may be told: the tracking view, looked up by number (no access code: the
/// operator is signed in), like `GET /api/v1/complaints/by-number/{number}`.
#[get("/staff/status")]
async fn status_page(staff: StaffPage<StatusReaders>, req: HttpRequest) -> HttpResponse {
    let q = web::Query::<StatusQuery>::from_query(req.query_string()).map(|q| q.into_inner()).unwrap_or_default();
    if !q.q.trim().is_empty() {
        return show_search(&staff, &q.q).await;
    }
    show_status(&staff, q.number.trim(), done_notice(Some(&q.done)), None).await
}

/// The complaints that may be a caller's, found by name, phone, company or number; each line
/// shows only what tells one caller from another and links to its status by number.
async fn show_search(page: &Page, typed: &str) -> HttpResponse {
    use crate::complaints::read_back::{self, Query};
    let typed: String = typed.chars().take(200).collect();
    let query = match Query::parse("q", &typed) {
        Ok(q) => q,
        Err(e) => {
            let shown = explain(page, &ApiError::Invalid(vec![e]), None);
            return page.render_status(
                shown.status,
                "staff/status.html",
                minijinja::context! { number => "", q => typed, field_errors => shown.by_field(), error => shown },
            );
        }
    };
    let found = db::run(&page.state.pool, move |conn| read_back::search(conn, &query).map_err(ApiError::from)).await;
    match found {
        Ok(candidates) => {
            let lines: Vec<_> = candidates
                .iter()
                .map(|c| {
                    minijinja::context! {
                        tracking_number => &c.tracking_number, name => &c.complainant_name, company => &c.company,
                        phone => c.phone_hint(), received_at => crate::db::from_db_time(c.received_at).to_rfc3339(),
                        status => c.status.as_str(),
                    }
                })
                .collect();
            page.render(
                "staff/status.html",
                minijinja::context! {
                    number => "", q => typed, matches => lines, searched => true,
                    capped => candidates.len() as i64 == read_back::MAX_MATCHES,
                },
            )
        }
        Err(e) => page.error(&e),
    }
}

async fn show_status(
    page: &Page,
    number: &str,
    done: Option<&str>,
    failed: Option<(&ApiError, &ActionForm)>,
) -> HttpResponse {
    let typed: String = number.chars().take(40).collect();
    if typed.is_empty() {
        return page.render("staff/status.html", minijinja::context! { number => "" });
    }
    let lang = page.lang;
    let role = signed_in(page).role;
    let wanted = typed.clone();
    let found = with_ctx(&page.state, Access::Lookup, move |conn, ctx| {
        let number = TrackingNumber::parse(&wanted).ok_or(ComplaintError::UnknownTrackingNumber)?;
        let found = store::find_by_tracking_number_with_department(conn, &number.to_string())?
            .ok_or(ComplaintError::UnknownTrackingNumber)?;
        let id = found.0.id.clone();
        let status = found.0.status;
        let may_open = crate::complaints::attachments::may_open(found.0.confidential, role);
        let mut view = views::tracking_view(&service::load_viewed(conn, ctx, found)?, ctx, lang)?;
        if !may_open {
            view.hide_file_names();
        }
        Ok((id, status, view))
    })
    .await;
    let (id, status, view) = match found {
        Ok(found) => found,
        Err(e) => {
            let shown = explain(page, &e, None);
            return page.render_status(
                shown.status,
                "staff/status.html",
                minijinja::context! { number => typed, error => shown },
            );
        }
    };
    let can_withdraw =
        signed_in(page).role == Role::Operator && transition(status, Action::Withdraw, Actor::Operator).is_ok();
    let shown = failed.map(|(e, _)| explain(page, e, Some("withdraw")));
    page.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "staff/status.html",
        minijinja::context! {
            number => typed, id, view, can_withdraw, done,
            values => failed.map(|(_, f)| f), failed => failed.map(|_| "withdraw"),
            field_errors => shown.as_ref().map(|s| s.by_field()), error => shown,
            max => minijinja::context! { reason => limits::SHORT_TEXT },
        },
    )
}

/// Withdraws for a caller who asks on the hotline (the reason is required, as in the API).
#[post("/staff/complaints/{id}/withdraw")]
async fn withdraw_post(
    staff: StaffPage<OperatorOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let reason = required_text("reason", &form.reason, limits::SHORT_TEXT);
    let target = id.clone();
    let result = match reason {
        Ok(reason) => {
            with_ctx(&staff.state, Access::Write, move |conn, ctx| {
                service::withdraw(conn, ctx, &target, &by, Some(&reason))?;
                Ok(store::find(conn, &target)?.map(|r| r.tracking_number).unwrap_or_default())
            })
            .await
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(number) => {
            staff.see_other(&format!("/staff/status?{}", query(&[("number", &number), ("done", "withdraw")])))
        }
        Err(e) => {
            let number = db::run(&staff.state.pool, move |conn| {
                store::find(conn, &id).map(|row| row.map(|r| r.tracking_number))
            })
            .await;
            match number {
                Ok(Some(number)) => show_status(&staff, &number, None, Some((&e, &form))).await,
                Ok(None) => staff.error(&ApiError::NotFound("no such complaint".into())),
                Err(other) => staff.error(&other),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inbox and the coordinator's queue

/// The inbox filters, as the filter form sends them (empty means "any").
#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct InboxQuery {
    status: String,
    department_id: String,
    /// "1": only overdue complaints.
    overdue: String,
    q: String,
    /// Received on or after (YYYY-MM-DD).
    from: String,
    /// Received on or before (YYYY-MM-DD).
    to: String,
    cursor: String,
    done: String,
}

impl InboxQuery {
    /// The query of the same list without the cursor (for the next page and "first page").
    fn filters(&self) -> Vec<(&'static str, &str)> {
        [
            ("status", &self.status),
            ("department_id", &self.department_id),
            ("overdue", &self.overdue),
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect()
    }

    fn filtered(&self) -> bool {
        !self.filters().is_empty()
    }
}

/// The list filter for `user`: department staff always see only their department's complaints.
fn inbox_filter(user: &StaffUser, q: &InboxQuery) -> Result<ListFilter, ApiError> {
    let mut c = Checker::default();
    let status = match q.status.trim() {
        "" => None,
        s => c.check(Status::parse(s).ok_or_else(|| FieldError::new("status", "unknown", "not a complaint status"))),
    };
    let text = c.check(optional_text("q", Some(&q.q), 100)).flatten();
    let mut date = |field: &str, raw: &str| match raw.trim() {
        "" => None,
        d => c.check(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| FieldError::new(field, "invalid_date", "a date YYYY-MM-DD")),
        ),
    };
    let (from, to) = (date("from", &q.from), date("to", &q.to));
    let after = match q.cursor.trim() {
        "" => None,
        cursor => c.check(store::decode_cursor(cursor)),
    };
    // Bounded text (no control characters), as the API's filter.
    let department_id =
        c.check(optional_text("department_id", Some(&q.department_id), 64)).flatten().map(DepartmentId::new);
    c.finish()?;
    let department_id = if user.role == Role::Department { user.department_id.clone() } else { department_id };
    Ok(ListFilter {
        status,
        department_id,
        overdue: (q.overdue == "1").then_some(true),
        received_from: from.map(|d| received_filter("received_from", d, false)).transpose()?,
        received_before: to.map(|d| received_filter("received_to", d, true)).transpose()?,
        text,
        after,
        limit: PAGE_SIZE + 1,
    })
}

/// `k=v&…`, percent-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One line of the inbox.
#[derive(Serialize)]
struct Row {
    id: String,
    tracking_number: String,
    status: Status,
    subject: String,
    company: String,
    department: Option<String>,
    /// The department the investor named, if any (the assign form preselects it).
    suggested_department_id: Option<String>,
    received_at: String,
    /// The last day (the clock runs to its end).
    due_date: Option<String>,
    urgency: &'static str,
    days_left: i64,
}

/// A run of inbox rows of one queue group, shown under its own heading.
#[derive(Serialize)]
struct RowGroup {
    /// `running`, `paused` (waiting for the investor) or `stopped` (no running clock).
    key: &'static str,
    rows: Vec<Row>,
}

/// The rows in list order, cut where the queue group changes.
fn grouped(listed: &[ListedComplaint], to_row: impl Fn(&ListedComplaint) -> Row) -> Vec<RowGroup> {
    let mut groups: Vec<(i32, RowGroup)> = Vec::new();
    for r in listed {
        let key = match r.queue_group {
            0 => "running",
            1 => "paused",
            _ => "stopped",
        };
        match groups.last_mut() {
            Some((g, group)) if *g == r.queue_group => group.rows.push(to_row(r)),
            _ => groups.push((r.queue_group, RowGroup { key, rows: vec![to_row(r)] })),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

fn row(
    r: &ListedComplaint,
    names: &BTreeMap<DepartmentId, String>,
    cal: &WorkingCalendar,
    now: DateTime<Utc>,
    reminder: u32,
) -> Row {
    let facts = row_facts(r, cal, now);
    let urgency = facts.as_ref().map(|f| classify(f, local_date(now), reminder)).unwrap_or(Urgency::None);
    let v = views::summary(r);
    Row {
        id: v.id,
        tracking_number: v.tracking_number,
        status: v.status,
        subject: v.subject,
        company: v.company,
        department: r.department_id.as_ref().map(|d| names.get(d).cloned().unwrap_or_else(|| d.to_string())),
        suggested_department_id: r.concerned_department_id.clone().map(String::from),
        received_at: v.received_at.to_rfc3339(),
        due_date: facts.as_ref().map(|f| f.due_date.to_string()),
        urgency: urgency.as_str(),
        days_left: facts.map(|f| f.left.max(0)).unwrap_or(0),
    }
}

/// Complaints by time left (overdue first). Department staff see their department's; the
/// coordination office sees all, with the complaints waiting to be assigned on top.
#[get("/staff/inbox")]
async fn inbox_page(staff: StaffPage<Handlers>, req: HttpRequest) -> HttpResponse {
    let q = match web::Query::<InboxQuery>::from_query(req.query_string()) {
        Ok(q) => q.into_inner(),
        Err(e) => return staff.error(&ApiError::BadRequest(format!("query: {e}"))),
    };
    let user = staff.user().clone();
    let coordinator = user.role == Role::Coordinator;
    let depts = match departments(&staff).await {
        Ok(d) => d,
        Err(e) => return staff.error(&e),
    };
    let reminder = reminder_days(&staff);
    let listed = async {
        let filter = inbox_filter(&user, &q)?;
        let first_page = filter.after.is_none();
        db::run(&staff.state.pool, move |conn| {
            let mut rows = store::list(conn, &filter)?;
            let mut queue = Vec::new();
            if coordinator && first_page {
                for s in [Status::Received, Status::Contested] {
                    queue.extend(store::list(
                        conn,
                        &ListFilter { status: Some(s), limit: QUEUE_SIZE, ..Default::default() },
                    )?);
                }
                queue.sort_by(|a, b| {
                    (a.queue_group, a.due_at, a.received_at, &a.id).cmp(&(
                        b.queue_group,
                        b.due_at,
                        b.received_at,
                        &b.id,
                    ))
                });
                queue.truncate(QUEUE_SIZE as usize);
            }
            let next = if rows.len() as i64 > PAGE_SIZE {
                rows.truncate(PAGE_SIZE as usize);
                rows.last().map(|r| store::encode_cursor(&r.position()))
            } else {
                None
            };
            Ok::<_, ApiError>((rows, queue, next))
        })
        .await
    }
    .await;
    let cal = staff.state.calendar.current();
    let now = db::now();
    let (rows, queue, next, shown) = match listed {
        Ok((rows, queue, next)) => (rows, queue, next, None),
        Err(e) => (Vec::new(), Vec::new(), None, Some(explain(&staff, &e, None))),
    };
    let to_row = |r: &ListedComplaint| row(r, &depts.names, &cal, now, reminder);
    let mut with_cursor = q.filters();
    let next_href = next.as_ref().map(|c| {
        with_cursor.push(("cursor", c));
        format!("/staff/inbox?{}", query(&with_cursor))
    });
    let first_href = (!q.cursor.is_empty()).then(|| format!("/staff/inbox?{}", query(&q.filters())));
    staff.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "staff/inbox.html",
        minijinja::context! {
            row_groups => grouped(&rows, to_row),
            queue => queue.iter().map(to_row).collect::<Vec<_>>(),
            coordinator,
            department_name => user.department_id.as_ref().and_then(|d| depts.names.get(d)),
            filters => &q,
            filtered => q.filtered(),
            statuses => Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            departments => &depts.assignable,
            next_href, first_href,
            reminder_days => reminder,
            done => done_notice(Some(&q.done)),
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// One complaint

/// Every staff form on the complaint page posts some of these fields.
#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct ActionForm {
    #[serde(skip_serializing)]
    csrf: String,
    department_id: String,
    reason: String,
    question: String,
    text: String,
    outcome: String,
    days: String,
    /// Extension decision: "approve" or "refuse".
    decision: String,
    /// Extension decision: what the investor is told with the new due date (optional).
    investor_note: String,
    /// "inbox" when the assign form of the coordinator's queue sent it.
    from: String,
    /// A previewed reply sent back to its form to be changed.
    edit: String,
    /// The tracking number of the complaint this one repeats.
    duplicate_of: String,
}

#[derive(Deserialize, Default)]
struct DetailQuery {
    #[serde(default)]
    done: String,
}

/// What a role may do now, by the state machine (the service decides again on every post).
#[derive(Serialize, Default)]
struct Can {
    assign: bool,
    reassign: bool,
    reject: bool,
    decide_extension: bool,
    request_info: bool,
    reply: bool,
    return_to_office: bool,
    request_extension: bool,
}

fn can(status: Status, actor: Actor) -> Can {
    let ok = |a: Action| transition(status, a, actor).is_ok();
    Can {
        assign: ok(Action::Assign),
        reassign: ok(Action::Reassign),
        reject: ok(Action::Reject),
        decide_extension: ok(Action::DecideExtension),
        request_info: ok(Action::RequestInfo),
        reply: ok(Action::Reply),
        return_to_office: ok(Action::Return),
        request_extension: ok(Action::RequestExtension),
    }
}

#[get("/staff/complaints/{id}")]
async fn complaint_page(staff: StaffPage<Handlers>, path: web::Path<ComplaintId>, req: HttpRequest) -> HttpResponse {
    let q = web::Query::<DetailQuery>::from_query(req.query_string()).map(|q| q.into_inner()).unwrap_or_default();
    show_detail(&staff, path.into_inner(), done_notice(Some(&q.done)), None).await
}

/// A form shown again with what was typed: which one, and the error that refused it (none when
/// the reader asked to change a previewed reply).
struct Typed<'a> {
    form: String,
    error: Option<ApiError>,
    values: &'a ActionForm,
}

async fn show_detail(page: &Page, id: ComplaintId, done: Option<&str>, failed: Option<Typed<'_>>) -> HttpResponse {
    let by = acting(signed_in(page));
    let actor = by.actor;
    let loaded = with_ctx(&page.state, Access::Read, move |conn, ctx| {
        let row = store::find(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        context::ensure_department_scope(&row, &by)?;
        // Possible duplicates are the coordination office's to weigh (it sees every complaint;
        // a department would be shown numbers it cannot open).
        let duplicates = match actor {
            Actor::Coordinator => duplicates::possible(conn, &row)?,
            _ => Vec::new(),
        };
        let full = service::load_full(conn, row)?;
        let chain_valid = events::verify_chain(&full.events).is_ok();
        let timeline: Vec<EventView> = full.events.iter().map(Into::into).collect();
        Ok((views::complaint_view(&full, ctx)?, timeline, chain_valid, duplicates))
    })
    .await;
    let (view, timeline, chain_valid, duplicates) = match loaded {
        Ok(l) => l,
        Err(e) => return page.error(&e),
    };
    let depts = match departments(page).await {
        Ok(d) => d,
        Err(e) => return page.error(&e),
    };
    let now = db::now();
    let today = local_date(now);
    let clock = &view.clock;
    let facts = ClockFacts {
        open: view.status.clock_open() && clock.running,
        overdue: view.overdue || clock.breached,
        paused: clock.paused,
        due_date: clock.due_date,
        left: clock.working_days_left,
    };
    let urgency = classify(&facts, today, reminder_days(page));
    let pending_extension = view.extensions.iter().any(|e| e.decision.is_none());
    let shown = failed.as_ref().and_then(|f| f.error.as_ref().map(|e| explain(page, e, Some(&f.form))));
    page.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "staff/complaint.html",
        minijinja::context! {
            can => can(view.status, actor),
            urgency => urgency.as_str(),
            days_left => clock.working_days_left.max(0),
            days_overdue => (-clock.working_days_left).max(0),
            view, timeline, chain_valid, pending_extension, done, duplicates,
            names => &depts.names,
            departments => &depts.assignable,
            outcomes => ReplyOutcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            failed => failed.as_ref().map(|f| f.form.clone()),
            values => failed.as_ref().map(|f| f.values),
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
            max => minijinja::context! {
                reply => limits::REPLY, reason => limits::SHORT_TEXT, question => limits::SHORT_TEXT, note => limits::SHORT_TEXT,
                extension_days => page.state.settings.complaints.max_extension_working_days,
            },
        },
    )
}

/// Downloads a file with the page session; the same rules as the API's download (department
/// scope; files of a confidential complaint only to its department and the coordination office,
/// which are the only roles admitted here).
#[get("/staff/complaints/{id}/attachments/{attachment_id}")]
async fn download_file(staff: StaffPage<Handlers>, path: web::Path<(ComplaintId, String)>) -> HttpResponse {
    let (id, attachment_id) = path.into_inner();
    let by = acting(staff.user());
    let found = db::run(&staff.state.pool, move |conn| {
        let complaint = store::find(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        context::ensure_department_scope(&complaint, &by)?;
        crate::complaints::attachments::find(conn, &id, &attachment_id)?
            .ok_or_else(|| ApiError::NotFound("no such attachment".into()))
    })
    .await;
    let response = match found {
        Ok(row) => crate::complaints::attachments::download_response(&staff.state.pool, &row).await,
        Err(e) => Err(e),
    };
    match response {
        Ok(res) => res,
        Err(e) => staff.error(&e),
    }
}

fn detail_url(id: &ComplaintId, done: &str) -> String {
    format!("/staff/complaints/{}?done={done}", encode(id.as_str()))
}

/// After a form: 303 to `success` (a reload does not post again), or the complaint page again
/// with the error beside the form and the typed text kept.
async fn finish(
    page: &Page,
    id: ComplaintId,
    form: &ActionForm,
    form_key: &str,
    result: Result<(), ApiError>,
    success: String,
) -> HttpResponse {
    match result {
        Ok(()) => page.see_other(&success),
        Err(error) => {
            show_detail(page, id, None, Some(Typed { form: form_key.to_string(), error: Some(error), values: form }))
                .await
        }
    }
}

/// Runs a service operation on complaint `id` in one write.
async fn run<F>(page: &Page, id: &ComplaintId, work: F) -> Result<(), ApiError>
where
    F: FnOnce(&mut db::DbConnection, &context::Ctx, &ComplaintId) -> ComplaintResult<()> + Send + 'static,
{
    let id = id.clone();
    with_ctx(&page.state, Access::Write, move |conn, ctx| work(conn, ctx, &id)).await
}

/// A department chosen in a form: present, without control characters, and at most as long
/// as an id can be.
fn department_field(raw: &str) -> Result<DepartmentId, FieldError> {
    let d = required_text("department_id", raw, 64)?;
    if d.len() > 64 {
        return Err(FieldError::new("department_id", "unknown", "no such department"));
    }
    Ok(DepartmentId::new(d))
}

fn days_field(raw: &str, max: u32) -> Result<u32, FieldError> {
    match raw.trim().parse::<u32>() {
        Ok(d) if (1..=max).contains(&d) => Ok(d),
        _ => Err(FieldError::new("days", "out_of_range", format!("between 1 and {max} working days"))),
    }
}

#[post("/staff/complaints/{id}/assign")]
async fn post_assign(
    staff: StaffPage<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let result = match department_field(&form.department_id) {
        Ok(dept) => run(&staff, &id, move |conn, ctx, id| service::assign(conn, ctx, id, &by, &dept)).await,
        Err(e) => Err(e.into()),
    };
    let success = if form.from == "inbox" { "/staff/inbox?done=assign".to_string() } else { detail_url(&id, "assign") };
    finish(&staff, id, &form, "assign", result, success).await
}

#[post("/staff/complaints/{id}/reassign")]
async fn post_reassign(
    staff: StaffPage<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let mut c = Checker::default();
    let dept = c.check(department_field(&form.department_id));
    let reason = c.check(required_text("reason", &form.reason, limits::SHORT_TEXT));
    let result = match (c.finish().map_err(ApiError::from), dept, reason) {
        (Ok(()), Some(dept), Some(reason)) => {
            run(&staff, &id, move |conn, ctx, id| service::reassign(conn, ctx, id, &by, &dept, &reason)).await
        }
        (Err(e), _, _) => Err(e),
        _ => unreachable!("checked"),
    };
    finish(&staff, id.clone(), &form, "reassign", result, detail_url(&id, "reassign")).await
}

#[post("/staff/complaints/{id}/reject")]
async fn post_reject(
    staff: StaffPage<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let result = match required_text("reason", &form.reason, limits::SHORT_TEXT) {
        Ok(reason) => run(&staff, &id, move |conn, ctx, id| service::reject(conn, ctx, id, &by, &reason)).await,
        Err(e) => Err(e.into()),
    };
    finish(&staff, id.clone(), &form, "reject", result, detail_url(&id, "reject")).await
}

/// Refuses the complaint as a duplicate of another (the investor is told which one).
#[post("/staff/complaints/{id}/mark-duplicate")]
async fn post_mark_duplicate(
    staff: StaffPage<CoordinatorOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let result = match required_text("duplicate_of", &form.duplicate_of, 40) {
        Ok(original) => {
            run(&staff, &id, move |conn, ctx, id| service::mark_duplicate(conn, ctx, id, &by, &original)).await
        }
        Err(e) => Err(e.into()),
    };
    finish(&staff, id.clone(), &form, "duplicate", result, detail_url(&id, "duplicate")).await
}

#[post("/staff/complaints/{id}/extension-requests/{request_id}/decision")]
async fn post_decide_extension(
    staff: StaffPage<CoordinatorOnly>,
    path: web::Path<(ComplaintId, String)>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let ((id, request_id), form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let max = staff.state.settings.complaints.max_extension_working_days;
    let mut c = Checker::default();
    let days = match form.decision.as_str() {
        "approve" => c.check(days_field(&form.days, max)).map(Some),
        // A refusal grants no days, whatever the days box holds.
        "refuse" => Some(None),
        _ => {
            c.push(FieldError::new("decision", "required", "approve or refuse"));
            None
        }
    };
    let reason = c.check(required_text("reason", &form.reason, limits::SHORT_TEXT));
    let note = c.check(optional_text("investor_note", Some(&form.investor_note), limits::SHORT_TEXT)).flatten();
    let result = match (c.finish().map_err(ApiError::from), days, reason) {
        (Ok(()), Some(days), Some(reason)) => {
            let rid = request_id.clone();
            run(&staff, &id, move |conn, ctx, id| {
                service::decide_extension(
                    conn,
                    ctx,
                    id,
                    &by,
                    service::ExtensionDecision {
                        request_id: &rid,
                        approved_days: days,
                        reason: &reason,
                        investor_note: note.as_deref(),
                    },
                )
            })
            .await
        }
        (Err(e), _, _) => Err(e),
        _ => unreachable!("checked"),
    };
    finish(&staff, id.clone(), &form, &format!("decide-{request_id}"), result, detail_url(&id, "decide_extension"))
        .await
}

#[post("/staff/complaints/{id}/request-info")]
async fn post_request_info(
    staff: StaffPage<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let result = match required_text("question", &form.question, limits::SHORT_TEXT) {
        Ok(question) => {
            run(&staff, &id, move |conn, ctx, id| service::request_info(conn, ctx, id, &by, &question)).await
        }
        Err(e) => Err(e.into()),
    };
    finish(&staff, id.clone(), &form, "request_info", result, detail_url(&id, "request_info")).await
}

/// An internal note: the coordination office or the holding department, never shown to the
/// investor.
#[post("/staff/complaints/{id}/notes")]
async fn post_note(
    staff: StaffPage<Handlers>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let result = match required_text("text", &form.text, limits::SHORT_TEXT) {
        Ok(text) => run(&staff, &id, move |conn, ctx, id| service::add_note(conn, ctx, id, &by, &text)).await,
        Err(e) => Err(e.into()),
    };
    finish(&staff, id.clone(), &form, "note", result, format!("{}#notes", detail_url(&id, "note"))).await
}

#[post("/staff/complaints/{id}/reply")]
async fn post_reply(
    staff: StaffPage<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let result = match reply_fields(&form) {
        Ok((text, outcome)) => {
            run(&staff, &id, move |conn, ctx, id| service::reply(conn, ctx, id, &by, &text, outcome)).await
        }
        Err(e) => Err(e),
    };
    finish(&staff, id.clone(), &form, "reply", result, detail_url(&id, "reply")).await
}

/// The reply form's text and outcome, both required.
fn reply_fields(form: &ActionForm) -> Result<(String, ReplyOutcome), ApiError> {
    let mut c = Checker::default();
    let text = c.check(required_text("text", &form.text, limits::REPLY));
    let outcome = ReplyOutcome::parse(&form.outcome);
    if outcome.is_none() {
        c.push(FieldError::new("outcome", "required", "choose the outcome"));
    }
    c.finish().map_err(ApiError::from)?;
    Ok((text.expect("checked"), outcome.expect("checked")))
}

/// The reply as the investor will receive it, before it is sent: the investor's language, the
/// reply as their tracking page shows it and the email that tells them, each in that language;
/// then "send" (the reply form's own post) or "change" (the form again, as typed). Nothing is
/// written.
#[post("/staff/complaints/{id}/reply/preview")]
async fn preview_reply(
    staff: StaffPage<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    if !form.edit.is_empty() {
        return show_detail(&staff, id, None, Some(Typed { form: "reply".into(), error: None, values: &form })).await;
    }
    let (text, outcome) = match reply_fields(&form) {
        Ok(fields) => fields,
        Err(e) => return finish(&staff, id, &form, "reply", Err(e), String::new()).await,
    };
    let by = acting(staff.user());
    let complaint = id.clone();
    let previewed = with_ctx(&staff.state, Access::Read, move |conn, ctx| {
        let row = store::find(conn, &complaint)?.ok_or(ComplaintError::NotFound)?;
        context::ensure_department_scope(&row, &by)?;
        transition(row.status, Action::Reply, by.actor)
            .map_err(|error| ComplaintError::Transition { error, current: row.status })?;
        let clock = store::current_clock(conn, &complaint, context::REPLY_CLOCK)?
            .ok_or_else(|| ComplaintError::internal("reply preview", "no reply clock"))?;
        let (email, lang) = crate::complaints::notices::render_for_investor(
            ctx,
            &row,
            &clock,
            "reply_available",
            serde_json::json!({}),
        )?;
        Ok((row.tracking_number, row.subject, lang, email))
    })
    .await;
    let (tracking_number, subject, lang, email) = match previewed {
        Ok(p) => p,
        Err(e) => return finish(&staff, id, &form, "reply", Err(e), String::new()).await,
    };
    let in_their_language = |key: &str| staff.state.pages.text(key, lang).unwrap_or(key).to_string();
    staff.render(
        "staff/reply_preview.html",
        minijinja::context! {
            // The switch previews again in the other language (a preview writes nothing).
            switch_form => SwitchForm { form: "confirm-reply", action: format!("/staff/complaints/{}/reply/preview", encode(id.as_str())) },
            id => id.as_str(), tracking_number, subject, text, outcome => outcome.as_str(),
            investor_language => staff.text(&format!("common.language_name.of_{}", lang.as_str())),
            investor_html_lang => lang.html_tag(),
            investor_reply_heading => in_their_language("investor.track.reply"),
            investor_outcome => in_their_language(&format!("common.outcome.{}", outcome.as_str())),
            email_subject => email.subject, email_text => email.text,
        },
    )
}

/// Hands the complaint back to the coordination office; the department no longer sees it, so
/// the answer is its inbox.
#[post("/staff/complaints/{id}/return")]
async fn post_return(
    staff: StaffPage<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let result = match required_text("reason", &form.reason, limits::SHORT_TEXT) {
        Ok(reason) => {
            run(&staff, &id, move |conn, ctx, id| service::return_to_office(conn, ctx, id, &by, &reason)).await
        }
        Err(e) => Err(e.into()),
    };
    finish(&staff, id, &form, "return", result, "/staff/inbox?done=return".to_string()).await
}

#[post("/staff/complaints/{id}/extension-requests")]
async fn post_request_extension(
    staff: StaffPage<DepartmentOnly>,
    path: web::Path<ComplaintId>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let max = staff.state.settings.complaints.max_extension_working_days;
    let mut c = Checker::default();
    let days = c.check(days_field(&form.days, max));
    let reason = c.check(required_text("reason", &form.reason, limits::SHORT_TEXT));
    let result = match (c.finish().map_err(ApiError::from), days, reason) {
        (Ok(()), Some(days), Some(reason)) => {
            run(&staff, &id, move |conn, ctx, id| {
                service::request_extension(conn, ctx, id, &by, days, &reason).map(|_| ())
            })
            .await
        }
        (Err(e), _, _) => Err(e),
        _ => unreachable!("checked"),
    };
    finish(&staff, id.clone(), &form, "extension", result, detail_url(&id, "request_extension")).await
}

// ---------------------------------------------------------------------------------------------
// Call-backs (complaints::callbacks)

/// The calls to make: for each notice to a caller without an email address, whom to call, at
/// which number, and what to tell them in their language.
#[get("/staff/callbacks")]
async fn callbacks_page(staff: StaffPage<OperatorOnly>, req: HttpRequest) -> HttpResponse {
    let q = web::Query::<DetailQuery>::from_query(req.query_string()).map(|q| q.into_inner()).unwrap_or_default();
    let open =
        db::run(&staff.state.pool, |conn| crate::complaints::callbacks::open(conn).map_err(ApiError::from)).await;
    match open {
        Ok(open) => {
            let lines: Vec<_> = open
                .iter()
                .map(|c| {
                    minijinja::context! {
                        id => &c.id, tracking_number => &c.tracking_number, caller => &c.caller, phone => &c.phone,
                        language => &c.language, html_lang => crate::complaints::model::Language::parse(&c.language).map(|l| l.html_tag()),
                        subject => &c.subject, message => &c.message,
                        queued_at => from_db_time(c.created_at).to_rfc3339(),
                    }
                })
                .collect();
            staff.render(
                "staff/callbacks.html",
                minijinja::context! { callbacks => lines, called => q.done == "called" },
            )
        }
        Err(e) => staff.error(&e),
    }
}

/// Marks a call made; recorded in the complaint's trail.
#[post("/staff/callbacks/{id}/done")]
async fn callback_done(
    staff: StaffPage<OperatorOnly>,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, form) = (path.into_inner(), form.into_inner());
    csrf_or_refuse!(staff, form);
    let by = acting(staff.user());
    let marked =
        with_ctx(&staff.state, Access::Write, move |conn, ctx| crate::complaints::callbacks::done(conn, ctx, &id, &by))
            .await;
    match marked {
        Ok(()) => staff.see_other("/staff/callbacks?done=called"),
        Err(e) => staff.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn facts(due: &str, left: i64) -> ClockFacts {
        ClockFacts { open: true, overdue: false, paused: false, due_date: d(due), left }
    }

    #[test]
    fn urgency_follows_the_reminder_window() {
        let today = d("2026-10-13");
        assert_eq!(classify(&facts("2026-10-22", 7), today, 2), Urgency::Ok);
        assert_eq!(classify(&facts("2026-10-15", 2), today, 2), Urgency::Reminder);
        assert_eq!(classify(&facts("2026-10-14", 1), today, 2), Urgency::Reminder);
        assert_eq!(classify(&facts("2026-10-15", 2), today, 1), Urgency::Ok);
        assert_eq!(classify(&facts("2026-10-13", 0), today, 2), Urgency::DueToday);
        assert_eq!(classify(&ClockFacts { overdue: true, ..facts("2026-10-12", 0) }, today, 2), Urgency::Overdue);
        // Overdue before the pause began stays overdue; otherwise a pause is a pause.
        assert_eq!(
            classify(&ClockFacts { overdue: true, paused: true, ..facts("2026-10-12", 0) }, today, 2),
            Urgency::Overdue
        );
        assert_eq!(classify(&ClockFacts { paused: true, ..facts("2026-10-14", 1) }, today, 2), Urgency::Paused);
        assert_eq!(
            classify(&ClockFacts { open: false, overdue: true, ..facts("2026-10-12", 0) }, today, 2),
            Urgency::None
        );
    }

    #[test]
    fn list_rows_count_working_days_to_the_due_date() {
        let cal = crate::calendar::runtime::build(std::path::Path::new("/nonexistent"), None).unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut r = ListedComplaint {
            id: ComplaintId::new("x"),
            tracking_number: "CZ-2026-000001".into(),
            status: Status::Assigned,
            company: "c".into(),
            concerned_department_id: None,
            subject: "s".into(),
            department_id: None,
            received_at: db::to_db_time(at("2026-09-30T10:00:00+08:00")),
            // Due at the end of Thursday 2026-10-15.
            due_at: Some(db::to_db_time(at("2026-10-16T00:00:00+08:00"))),
            overdue: false,
            queue_group: 0,
        };
        let urgency =
            |r: &ListedComplaint, now: &str| classify(&row_facts(r, &cal, at(now)).unwrap(), local_date(at(now)), 2);
        // Across National Day: on 09-30 the due date is 7 working days away.
        assert_eq!(row_facts(&r, &cal, at("2026-09-30T12:00:00+08:00")).unwrap().due_date, d("2026-10-15"));
        assert_eq!(urgency(&r, "2026-09-30T12:00:00+08:00"), Urgency::Ok);
        // From the start of Tuesday 10-13 two working days are left: the ladder's reminder day.
        assert_eq!(urgency(&r, "2026-10-12T23:59:00+08:00"), Urgency::Ok);
        assert_eq!(urgency(&r, "2026-10-13T00:00:00+08:00"), Urgency::Reminder);
        assert_eq!(urgency(&r, "2026-10-15T09:00:00+08:00"), Urgency::DueToday);
        assert_eq!(urgency(&r, "2026-10-16T00:00:00+08:00"), Urgency::Overdue);
        r.status = Status::AwaitingInvestor;
        assert_eq!(urgency(&r, "2026-10-13T09:00:00+08:00"), Urgency::Paused);
        r.status = Status::Replied;
        assert_eq!(urgency(&r, "2026-10-20T09:00:00+08:00"), Urgency::None);
    }

    #[test]
    fn queries_and_cursors_round_trip() {
        assert_eq!(query(&[("q", "许可 a&b"), ("status", "assigned")]), "q=%E8%AE%B8%E5%8F%AF%20a%26b&status=assigned");
        let instant = |micros: i64| DateTime::from_timestamp_micros(micros).unwrap().naive_utc();
        let running = store::ListPosition {
            group: 0,
            due_at: Some(instant(1_790_000_000_000_000)),
            received_at: instant(1_789_000_000_000_000),
            id: "abc".into(),
        };
        let stopped = store::ListPosition { group: 2, due_at: None, ..running.clone() };
        for p in [&running, &stopped] {
            assert_eq!(&store::decode_cursor(&store::encode_cursor(p)).unwrap(), p);
        }
        // A group that does not go with the presence of a due instant was not made here.
        let forged = store::ListPosition { group: 2, ..running.clone() };
        assert!(store::decode_cursor(&store::encode_cursor(&forged)).is_err());
        assert!(store::decode_cursor(&store::encode_cursor(&store::ListPosition { group: 3, ..running })).is_err());
        assert!(store::decode_cursor("zz").is_err());
    }
}
