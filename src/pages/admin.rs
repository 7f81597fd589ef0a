//! The administrator's pages: staff accounts (create, deactivate or reactivate, reset to a
//! one-time password) and the working-day calendar (the years in force and where each comes
//! from; loading an official year after a dry run that lists the open deadlines it moves).
//! Each form calls what the API calls (`auth::users`, `complaints::operations::load_year`).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::render::Page;
use super::session::{CsrfForm, StaffPage};
use crate::auth::roles::{AdminOnly, Role};
use crate::auth::users::{self, AccountRequest, User};
use crate::calendar::runtime::{self, YearSource};
use crate::calendar::CalendarYear;
use crate::db;
use crate::error::ApiError;
use crate::ids::{DepartmentId, UserId};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(accounts_page)
        .service(create_account)
        .service(set_active)
        .service(reset_password)
        .service(calendar_page)
        .service(calendar_check)
        .service(calendar_load);
}

/// The notices a redirect back to the accounts page may show.
const DONE: &[&str] = &["deactivated", "activated"];

// ---------------------------------------------------------------------------------------------
// Accounts

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct AccountForm {
    #[serde(skip_serializing)]
    csrf: String,
    email: String,
    display_name: String,
    role: String,
    department_id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: String,
}

#[get("/staff/accounts")]
async fn accounts_page(staff: StaffPage<AdminOnly>, query: web::Query<DoneQuery>) -> HttpResponse {
    let done = DONE.iter().copied().find(|d| *d == query.done);
    show_accounts(&staff, done, None, &AccountForm::default()).await
}

async fn show_accounts(page: &Page, done: Option<&str>, error: Option<&ApiError>, typed: &AccountForm) -> HttpResponse {
    let loaded = db::run(&page.state.pool, |conn| {
        let accounts = users::list(conn)?;
        let departments = crate::departments::store::list(conn, true)?;
        Ok::<_, diesel::result::Error>((accounts, departments))
    })
    .await;
    let (accounts, departments) = match loaded {
        Ok(l) => l,
        Err(e) => return page.error(&e),
    };
    let name = |zh: &str, en: &str| if page.lang.is_chinese() { zh.to_string() } else { en.to_string() };
    let department_name = |id: &Option<DepartmentId>| {
        id.as_ref().and_then(|id| departments.iter().find(|d| &d.id == id)).map(|d| name(&d.name_zh, &d.name_en))
    };
    let rows: Vec<minijinja::Value> = accounts
        .iter()
        .map(|u: &User| {
            minijinja::context! {
                id => u.id.to_string(), email => &u.email, display_name => &u.display_name, role => &u.role,
                department => department_name(&u.department_id), active => u.active,
                must_change_password => u.must_change_password,
                own => page.staff.as_ref().is_some_and(|s| s.user.id == u.id),
            }
        })
        .collect();
    let choices: Vec<(String, String)> =
        departments.iter().filter(|d| d.active).map(|d| (d.id.to_string(), name(&d.name_zh, &d.name_en))).collect();
    let shown = error.map(|e| super::staff::explain(page, e, Some("account")));
    page.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "admin/accounts.html",
        minijinja::context! {
            accounts => rows, departments => choices, done,
            roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            values => typed,
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
        },
    )
}

#[post("/staff/accounts")]
async fn create_account(staff: StaffPage<AdminOnly>, form: web::Form<AccountForm>) -> HttpResponse {
    let form = form.into_inner();
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    // Every mistake at once: the account's fields are checked even when the role is missing.
    let role = Role::parse(form.role.trim());
    let department = Some(form.department_id.trim()).filter(|d| !d.is_empty()).map(DepartmentId::new);
    let parsed = AccountRequest::parse(
        &form.email,
        &form.display_name,
        role.unwrap_or(Role::Operator),
        department.filter(|_| role.is_some()),
        None,
        staff.state.settings.auth.min_password_length,
    );
    let request = match (role, parsed) {
        (Some(_), parsed) => parsed.map_err(ApiError::from),
        (None, parsed) => {
            let mut fields = match parsed {
                Err(crate::auth::error::AccountError::Invalid(fields)) => fields,
                _ => Vec::new(),
            };
            fields.insert(0, crate::error::FieldError::new("role", "unknown", "choose a role"));
            Err(ApiError::Invalid(fields))
        }
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => return show_accounts(&staff, None, Some(&page_codes(e)), &form).await,
    };
    let actor = staff.user().id.clone();
    match db::run(&staff.state.pool, move |conn| users::create(conn, &request, Some(&actor), db::now())).await {
        Ok((user, Some(password))) => one_time_password(&staff, &user, &password, "created"),
        Ok((_, None)) => staff.error(&ApiError::internal("accounts page", "no one-time password generated")),
        Err(e) => show_accounts(&staff, None, Some(&e), &form).await,
    }
}

/// The one-time password, shown once (never stored in the clear, never in a URL or log).
fn one_time_password(page: &Page, user: &User, password: &str, what: &str) -> HttpResponse {
    page.render(
        "admin/one_time.html",
        minijinja::context! {
            what, password, email => &user.email, display_name => &user.display_name,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActiveForm {
    csrf: String,
    /// "1" activates, "0" deactivates.
    active: String,
}

#[post("/staff/accounts/{id}/active")]
async fn set_active(staff: StaffPage<AdminOnly>, path: web::Path<String>, form: web::Form<ActiveForm>) -> HttpResponse {
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    let active = match form.active.as_str() {
        "1" => true,
        "0" => false,
        _ => return staff.error(&ApiError::invalid("active", "unknown", "1 or 0")),
    };
    let (id, actor) = (UserId::new(path.into_inner()), staff.user().id.clone());
    match db::run(&staff.state.pool, move |conn| users::change_active(conn, &actor, &id, active, db::now())).await {
        Ok(_) => {
            staff.see_other(if active { "/staff/accounts?done=activated" } else { "/staff/accounts?done=deactivated" })
        }
        Err(e) => staff.error(&e),
    }
}

#[post("/staff/accounts/{id}/reset-password")]
async fn reset_password(
    staff: StaffPage<AdminOnly>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    let (id, actor) = (UserId::new(path.into_inner()), staff.user().id.clone());
    match db::run(&staff.state.pool, move |conn| users::reset_to_one_time_password(conn, &actor, &id, db::now())).await
    {
        Ok((user, password)) => one_time_password(&staff, &user, &password, "reset"),
        Err(e) => staff.error(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// The calendar

#[derive(serde::Serialize)]
struct YearRow {
    year: i32,
    /// shipped, file, database; or provisional (derived from the holiday law).
    source: &'static str,
    title: String,
    off_days: usize,
    makeup_workdays: usize,
    version: String,
}

#[get("/staff/calendar")]
async fn calendar_page(staff: StaffPage<AdminOnly>) -> HttpResponse {
    show_calendar(&staff, None, &CalendarForm::default()).await
}

async fn show_calendar(page: &Page, error: Option<&ApiError>, typed: &CalendarForm) -> HttpResponse {
    let dir = page.state.settings.calendar.dir.clone();
    let official = match db::run(&page.state.pool, move |conn| {
        runtime::official_years(&dir, Some(conn)).map_err(|e| ApiError::internal("calendar page", e))
    })
    .await
    {
        Ok(y) => y,
        Err(e) => return page.error(&e),
    };
    let english = !page.lang.is_chinese();
    let row = |data: &CalendarYear, source: &'static str| YearRow {
        year: data.year,
        source,
        title: if english { data.notice.title_en.clone() } else { data.notice.title.clone() },
        off_days: data.off_days.len(),
        makeup_workdays: data.makeup_workdays.len(),
        version: data.version(),
    };
    let mut years: Vec<YearRow> = official
        .values()
        .map(|(data, source)| {
            let source = match source {
                YearSource::Shipped => "shipped",
                YearSource::File => "file",
                YearSource::Database => "database",
            };
            row(data, source)
        })
        .collect();
    // The running calendar's years that have no official data yet (the coming year before the
    // State Council's notice): deadlines there are provisional.
    let cal = page.state.calendar.current();
    let this_year = chrono::Datelike::year(&crate::calendar::local_date(db::now()));
    for year in this_year..=this_year + 1 {
        if let Some(data) = cal.year(year).filter(|d| d.provisional && !official.contains_key(&year)) {
            years.push(row(data, "provisional"));
        }
    }
    years.sort_by_key(|y| std::cmp::Reverse(y.year));
    let shown = error.map(|e| super::staff::explain(page, e, Some("calendar")));
    page.render_status(
        shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK),
        "admin/calendar.html",
        minijinja::context! {
            years, values => typed, next_year => this_year + 1,
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
        },
    )
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct CalendarForm {
    #[serde(skip_serializing)]
    csrf: String,
    year: String,
    /// The year's data as TOML (as in config/calendar/cn-<year>.toml).
    data: String,
}

/// The year and its parsed data, or the field that is wrong.
fn parse_calendar_form(form: &CalendarForm) -> Result<(i32, CalendarYear), ApiError> {
    let mut problems = Vec::new();
    let year = form.year.trim().parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        problems.push(crate::error::FieldError::new("year", "invalid_year", "a year such as 2027"));
    }
    let data = if form.data.trim().is_empty() {
        problems.push(crate::error::FieldError::new("data", "required", "paste the year's data"));
        None
    } else {
        match CalendarYear::from_toml_str(&form.data) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(crate::error::FieldError::new("data", "invalid_calendar", e.to_string()));
                None
            }
        }
    };
    match (year, data) {
        (Some(y), Some(d)) if problems.is_empty() => Ok((y, d)),
        _ => Err(ApiError::Invalid(problems)),
    }
}

/// The dry run: which open deadlines the year's data would move; nothing is stored.
#[post("/staff/calendar/check")]
async fn calendar_check(staff: StaffPage<AdminOnly>, form: web::Form<CalendarForm>) -> HttpResponse {
    calendar_submit(&staff, form.into_inner(), true).await
}

/// The load, after the dry run's confirmation.
#[post("/staff/calendar/load")]
async fn calendar_load(staff: StaffPage<AdminOnly>, form: web::Form<CalendarForm>) -> HttpResponse {
    calendar_submit(&staff, form.into_inner(), false).await
}

async fn calendar_submit(staff: &StaffPage<AdminOnly>, form: CalendarForm, dry_run: bool) -> HttpResponse {
    if let Err(e) = staff.check_csrf(&form.csrf) {
        return staff.error(&e);
    }
    let (year, data) = match parse_calendar_form(&form) {
        Ok(parsed) => parsed,
        Err(e) => return show_calendar(staff, Some(&e), &form).await,
    };
    let actor = staff.user().id.clone();
    match crate::complaints::operations::load_year(&staff.state, actor, year, data, dry_run).await {
        Ok(loaded) => staff.render("admin/calendar_result.html", minijinja::context! { loaded, values => &form }),
        Err(e) => show_calendar(staff, Some(&page_codes(e)), &form).await,
    }
}

/// Codes whose shared wording would mislead on these forms get the pages' own
/// (`staff.field.*`): "not allowed" for a department means it goes with department staff only;
/// "mismatch" for a year means the data is for another year; provisional data is the pasted
/// data's fault.
fn page_codes(e: ApiError) -> ApiError {
    match e {
        ApiError::Invalid(mut fields) => {
            for f in &mut fields {
                match (f.field.as_str(), f.code.as_str()) {
                    ("department_id", "not_allowed") => f.code = "department_not_allowed".into(),
                    ("year", "mismatch") => f.code = "year_mismatch".into(),
                    // The page has no field of that name: the pasted data says it.
                    ("provisional", _) => f.field = "data".into(),
                    _ => {}
                }
            }
            ApiError::Invalid(fields)
        }
        other => other,
    }
}
