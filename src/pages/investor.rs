//! The investor's pages: `/` (the complaint form), its confirmation, and `/track` (status, due
//! date and why, the reply; answer, rate, contest, withdraw, add a file).

use crate::complaints::context;
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::Connection;
use serde::Deserialize;

use super::complaint_form::{self, Posted};
use super::render::{Page, Switch, SwitchForm};
use super::session::{self, TRACK_COOKIE};
use crate::complaints::context::Acting;
use crate::complaints::error::{ComplaintError, ComplaintResult};
use crate::complaints::intake::{self, limits};
use crate::complaints::model::{hash_access_code, Rating, TrackingNumber};
use crate::complaints::operations::{self, open_by_code, open_with_department, with_ctx, Access};
use crate::complaints::service::{self, IdempotencyKey};
use crate::complaints::store;
use crate::complaints::views;
use crate::db;
use crate::error::ApiError;
use crate::fields::{optional_text, required_text};
use crate::http::rate_limit::Admission;
use crate::http::ClientAddr;
use crate::ids::ComplaintId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(landing)
        .service(file)
        .service(track)
        .service(open)
        .service(answer)
        .service(rate)
        .service(contest)
        .service(withdraw)
        .service(upload)
        .service(download)
        .service(leave)
        .service(recover_page)
        .service(recover)
        .service(receipt)
        .service(reset_page)
        .service(reset);
}

/// The landing page: the complaint form.
#[get("/")]
async fn landing(page: Page) -> HttpResponse {
    render_form(&page, &Posted::default(), None).await
}

async fn render_form(page: &Page, posted: &Posted, error: Option<&ApiError>) -> HttpResponse {
    let departments = match complaint_form::department_choices(&page.state, page.lang).await {
        Ok(d) => d,
        Err(e) => return page.error(&e),
    };
    let shown = error.map(|e| page.explain(e));
    let status = shown.as_ref().map(|s| s.status).unwrap_or(StatusCode::OK);
    page.render_status(
        status,
        "investor/form.html",
        minijinja::context! {
            switch_form => SwitchForm { form: "complaint-form", action: "/".into() },
            options => complaint_form::form_options(&page.state, departments),
            values => &posted.fields,
            field_errors => shown.as_ref().map(|s| s.by_field()),
            error => shown,
        },
    )
}

/// Files from the form; shows the tracking number and access code once.
#[post("/")]
async fn file(page: Page, client: ClientAddr, switch: web::Query<Switch>, payload: Multipart) -> HttpResponse {
    let s = &page.state.settings.complaints;
    if switch.asked() {
        return show_form_again(&page, payload).await;
    }
    // The client's filing limit is checked before a byte of the body is read: a client over it
    // costs a 429, not up to attachment_max_count × attachment_max_bytes of reading.
    if let Err(e) = page.state.limits.filing_by_client.check(&client.0).await {
        return render_form(&page, &Posted::default(), Some(&e)).await;
    }
    let dir = s.attachment_dir(page.state.settings.data_dir());
    let mut posted = match complaint_form::read_keeping_fields(
        payload,
        "attachments",
        s.attachment_max_bytes,
        s.attachment_max_count as usize,
        &dir,
    )
    .await
    {
        Ok((p, None)) => p,
        Ok((p, Some(refused))) => return render_form(&page, &p, Some(&refused)).await,
        Err(e) => return render_form(&page, &Posted::default(), Some(&e)).await,
    };
    match file_posted(&page, &mut posted).await {
        Ok(res) => res,
        Err(e) => render_form(&page, &posted, Some(&e)).await,
    }
}

/// The form as typed, in the language just chosen, with its mistakes named again: nothing is
/// filed (the language switch of a form shown with errors posts it here).
async fn show_form_again(page: &Page, payload: Multipart) -> HttpResponse {
    let s = &page.state.settings.complaints;
    let dir = s.attachment_dir(page.state.settings.data_dir());
    let read = complaint_form::read_keeping_fields(
        payload,
        "attachments",
        s.attachment_max_bytes,
        s.attachment_max_count as usize,
        &dir,
    )
    .await;
    match read {
        Ok((posted, refused)) => {
            let mistakes = refused.or_else(|| {
                complaint_form::filing_request(&posted, false)
                    .and_then(|request| intake::validate(request, false).map_err(ApiError::from))
                    .err()
            });
            render_form(page, &Posted { files: Vec::new(), ..posted }, mistakes.as_ref()).await
        }
        Err(e) => render_form(page, &Posted::default(), Some(&e)).await,
    }
}

/// Files the form; its files are taken (what is left for showing the form again is the text).
async fn file_posted(page: &Page, posted: &mut Posted) -> Result<HttpResponse, ApiError> {
    let request = complaint_form::filing_request(posted, false)?;
    let valid = intake::validate(request, false)?;
    // A double click or a retried post files once: the form carries its own key.
    let idempotency = IdempotencyKey::parse(posted.get("idempotency_key")).ok().map(|k| (k, posted.digest()));
    let count = posted.files.len();
    let files = complaint_form::check_files(std::mem::take(&mut posted.files), "attachments")?;
    let filed = operations::file(&page.state, Admission::Counted, valid, Acting::investor(), idempotency).await?;
    if !filed.replayed {
        store_attachments(page, &filed.complaint.id, files, Acting::investor()).await?;
    }
    let number = filed.complaint.tracking_number.clone();
    let Some(code) = filed.access_code.clone() else {
        // A retry after the sealed code expired: the code was shown the first time.
        return Ok(page.see_other("/track"));
    };
    let session =
        page.state.tokens.issue_tracking(&number, &hash_access_code(&code), db::now(), session::TRACK_MINUTES)?;
    let mut res = render_receipt(page, &number, &code, &filed.clock, count);
    res.add_cookie(&session::track_cookie(session, page.secure)).map_err(|e| ApiError::internal("cookie", e))?;
    Ok(res)
}

/// The confirmation: the number and code (shown here and, in another language, by the switch
/// only to whoever holds both), the due date, the files received.
fn render_receipt(page: &Page, number: &str, code: &str, clock: &store::ClockRow, files: usize) -> HttpResponse {
    let due_at = db::from_db_time(clock.due_at).with_timezone(&crate::calendar::shanghai());
    page.render(
        "investor/filed.html",
        minijinja::context! {
            switch_form => SwitchForm { form: "receipt-form", action: "/track/receipt".into() },
            tracking_number => number,
            access_code => code,
            due_date => clock.due_date.to_string(),
            due_at => due_at.to_rfc3339(),
            provisional => clock.provisional,
            attachments => files,
        },
    )
}

/// What the switch of a page showing a number and its code posts back: the page it was (the
/// confirmation of a filing, or `reset`: the new code after a reset).
#[derive(Deserialize)]
struct ShownAgain {
    tracking_number: String,
    access_code: String,
    #[serde(default)]
    shown: String,
}

/// The confirmation (or the new code after a reset) again, in the language the switch asked
/// for: the number and the code must match (as on the look-up; the same limit per client).
#[post("/track/receipt")]
async fn receipt(page: Page, client: ClientAddr, form: web::Form<ShownAgain>) -> HttpResponse {
    let ShownAgain { tracking_number, access_code, shown: page_shown } = form.into_inner();
    let shown = async {
        page.state.limits.tracking_by_client.check(&client.0).await?;
        let code = access_code.trim().to_string();
        let (number, hash) = (tracking_number.trim().to_string(), hash_access_code(&code));
        db::run(&page.state.pool, move |conn| {
            let row = open_by_code(conn, &number, &hash)?;
            let clock = store::current_clock(conn, &row.id, context::REPLY_CLOCK)?
                .ok_or_else(|| ComplaintError::internal("receipt", "a complaint without its reply clock"))?;
            let files = crate::complaints::attachments::count(conn, &row.id)?;
            Ok::<_, ComplaintError>((row.tracking_number, clock, files))
        })
        .await
        .map(|found| (found, code))
    }
    .await;
    match shown {
        Ok(((number, _, _), code)) if page_shown == "reset" => render_new_code(&page, &number, &code),
        Ok(((number, clock, files), code)) => render_receipt(&page, &number, &code, &clock, files as usize),
        Err(e) => page.error(&e),
    }
}

/// Stores each checked file and records it on the complaint.
pub(super) async fn store_attachments(
    page: &Page,
    complaint_id: &ComplaintId,
    files: Vec<complaint_form::CheckedFile>,
    acting: Acting,
) -> Result<(), ApiError> {
    let max = page.state.settings.complaints.attachment_max_count;
    for f in files {
        let (id, acting) = (complaint_id.clone(), acting.clone());
        // The content is stored with the row; the temporary file goes as `f` drops.
        with_ctx(&page.state, Access::Write, move |conn, ctx| {
            service::attach(conn, ctx, &id, &acting, &f.filename, f.content_type, &f.staged, max).map(|_| ())
        })
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Tracking

/// The open tracking session, if the cookie holds a valid one.
fn session_of(page: &Page, req: &HttpRequest) -> Option<(String, String)> {
    let token = req.cookie(TRACK_COOKIE)?;
    let claims = page.state.tokens.verify_tracking(token.value()).ok()?;
    Some((claims.sub, claims.code_hash))
}

/// `/track?number=CZ-2026-000042` (the link in every investor email) fills in the number.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct TrackQuery {
    number: String,
}

#[get("/track")]
async fn track(page: Page, req: HttpRequest, query: Option<web::Query<TrackQuery>>) -> HttpResponse {
    match session_of(&page, &req) {
        Some(who) => show(&page, who, None, StatusCode::OK).await,
        None => {
            // Only a well-formed number is echoed back into the form.
            let number = query.and_then(|q| TrackingNumber::parse(&q.number)).map(|n| n.to_string());
            page.render(
                "investor/lookup.html",
                minijinja::context! { tracking_number => &number, recover_number => &number },
            )
        }
    }
}

async fn show(
    page: &Page,
    (number, code_hash): (String, String),
    error: Option<&ApiError>,
    status: StatusCode,
) -> HttpResponse {
    let lang = page.lang;
    let loaded = with_ctx(&page.state, Access::Lookup, move |conn, ctx| {
        let found = open_with_department(conn, &number, &code_hash)?;
        views::tracking_view(&service::load_viewed(conn, ctx, found)?, ctx, lang)
    })
    .await;
    match loaded {
        Ok(view) => {
            let shown = error.map(|e| page.explain(e));
            page.render_status(
                shown.as_ref().map(|s| s.status).unwrap_or(status),
                "investor/track.html",
                minijinja::context! {
                    view => view,
                    field_errors => shown.as_ref().map(|s| s.by_field()),
                    error => shown,
                    max => minijinja::context! { answer => limits::FACTS, comment => limits::SHORT_TEXT, reason => limits::SHORT_TEXT,
                        file_bytes => page.state.settings.complaints.attachment_max_bytes,
                        file_mib => format!("{:.1}", page.state.settings.complaints.attachment_max_bytes as f64 / 1_048_576.0) },
                },
            )
        }
        Err(e) => page.error(&e),
    }
}

#[derive(Deserialize)]
struct Lookup {
    tracking_number: String,
    access_code: String,
}

/// Opens the tracking page with the number and code (rate-limited per client; wrong number and
/// wrong code answer alike).
#[post("/track")]
async fn open(page: Page, client: ClientAddr, form: web::Form<Lookup>) -> HttpResponse {
    let Lookup { tracking_number, access_code } = form.into_inner();
    let opened = async {
        page.state.limits.tracking_by_client.check(&client.0).await?;
        let number = TrackingNumber::parse(tracking_number.trim())
            .ok_or_else(|| ApiError::NotFound("no complaint matches this tracking number and access code".into()))?
            .to_string();
        let code = access_code.trim();
        if code.is_empty() || code.len() > 64 {
            return Err(ApiError::NotFound("no complaint matches this tracking number and access code".into()));
        }
        let code_hash = hash_access_code(code);
        let (n, h) = (number.clone(), code_hash.clone());
        db::run(&page.state.pool, move |conn| open_by_code(conn, &n, &h).map(|_| ()).map_err(ApiError::from)).await?;
        page.state.tokens.issue_tracking(&number, &code_hash, db::now(), session::TRACK_MINUTES)
    }
    .await;
    match opened {
        Ok(token) => {
            let mut res = page.see_other("/track");
            let _ = res.add_cookie(&session::track_cookie(token, page.secure));
            res
        }
        Err(e) => {
            let shown = page.explain(&e);
            page.render_status(
                shown.status,
                "investor/lookup.html",
                minijinja::context! {
                    switch_form => SwitchForm { form: "lookup-form", action: "/track".into() },
                    error => shown,
                    tracking_number => tracking_number.chars().take(40).collect::<String>(),
                    // The "lost your code?" link carries the number only when it is well formed.
                    recover_number => TrackingNumber::parse(tracking_number.trim()).map(|n| n.to_string()),
                },
            )
        }
    }
}

/// Runs an investor action on the session's complaint, then shows the page again.
async fn act<F>(page: Page, req: HttpRequest, action: Result<F, ApiError>) -> HttpResponse
where
    F: FnOnce(&mut db::DbConnection, &context::Ctx, &ComplaintId) -> ComplaintResult<()> + Send + 'static,
{
    let Some(who) = session_of(&page, &req) else { return page.see_other("/track") };
    let action = match action {
        Ok(a) => a,
        Err(e) => return show(&page, who, Some(&e), StatusCode::OK).await,
    };
    let (number, code_hash) = who.clone();
    let done = with_ctx(&page.state, Access::Write, move |conn, ctx| {
        let row = open_by_code(conn, &number, &code_hash)?;
        action(conn, ctx, &row.id)
    })
    .await;
    match done {
        Ok(()) => page.see_other("/track"),
        Err(e) => show(&page, who, Some(&e), StatusCode::OK).await,
    }
}

/// Answers the department's question, with the files it asked for: the files and the answer are
/// stored in one transaction (the answer resumes the clock, so it must not arrive without them).
#[post("/track/answer")]
async fn answer(page: Page, req: HttpRequest, payload: Multipart) -> HttpResponse {
    let Some(who) = session_of(&page, &req) else { return page.see_other("/track") };
    let s = &page.state.settings.complaints;
    let answered = async {
        let dir = s.attachment_dir(page.state.settings.data_dir());
        let max = s.attachment_max_count;
        let posted = complaint_form::read(payload, "files", s.attachment_max_bytes, max as usize, &dir).await?;
        let text =
            required_text("answer", posted.get("answer"), limits::FACTS).map_err(|e| ApiError::Invalid(vec![e]))?;
        let files = complaint_form::check_files(posted.files, "files")?;
        let (number, code_hash) = who.clone();
        with_ctx(&page.state, Access::Write, move |conn, ctx| {
            let id = open_by_code(conn, &number, &code_hash)?.id;
            let acting = Acting::investor();
            conn.transaction(|conn| {
                for f in &files {
                    service::attach(conn, ctx, &id, &acting, &f.filename, f.content_type, &f.staged, max)?;
                }
                service::answer_info(conn, ctx, &id, &acting, &text)
            })
        })
        .await
    }
    .await;
    match answered {
        Ok(()) => page.see_other("/track"),
        Err(e) => show(&page, who, Some(&e), StatusCode::OK).await,
    }
}

#[derive(Deserialize)]
struct RateForm {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

#[post("/track/rate")]
async fn rate(page: Page, req: HttpRequest, form: web::Form<RateForm>) -> HttpResponse {
    let checked = (|| {
        let rating =
            Rating::parse(&form.rating).ok_or_else(|| ApiError::invalid("rating", "required", "choose a rating"))?;
        let comment = optional_text("comment", Some(&form.comment), limits::SHORT_TEXT)?;
        Ok((rating, comment))
    })();
    act(
        page,
        req,
        checked.map(|(rating, comment)| {
            move |conn: &mut db::DbConnection, ctx: &context::Ctx, id: &ComplaintId| {
                service::rate(conn, ctx, id, &Acting::investor(), rating, comment.as_deref())
            }
        }),
    )
    .await
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

#[post("/track/contest")]
async fn contest(page: Page, req: HttpRequest, form: web::Form<ReasonForm>) -> HttpResponse {
    let reason = required_text("reason", &form.reason, limits::SHORT_TEXT).map_err(|e| ApiError::Invalid(vec![e]));
    act(
        page,
        req,
        reason.map(|reason| {
            move |conn: &mut db::DbConnection, ctx: &context::Ctx, id: &ComplaintId| {
                service::contest(conn, ctx, id, &Acting::investor(), &reason)
            }
        }),
    )
    .await
}

#[post("/track/withdraw")]
async fn withdraw(page: Page, req: HttpRequest, form: web::Form<ReasonForm>) -> HttpResponse {
    let reason =
        optional_text("reason", Some(&form.reason), limits::SHORT_TEXT).map_err(|e| ApiError::Invalid(vec![e]));
    act(
        page,
        req,
        reason.map(|reason| {
            move |conn: &mut db::DbConnection, ctx: &context::Ctx, id: &ComplaintId| {
                service::withdraw(conn, ctx, id, &Acting::investor(), reason.as_deref())
            }
        }),
    )
    .await
}

/// Adds one file to the session's complaint.
#[post("/track/attachments")]
async fn upload(page: Page, req: HttpRequest, payload: Multipart) -> HttpResponse {
    let Some(who) = session_of(&page, &req) else { return page.see_other("/track") };
    let s = &page.state.settings.complaints;
    let added = async {
        // The code, the complaint's state and the count are checked before the body is read.
        let (number, code_hash) = who.clone();
        let max = s.attachment_max_count;
        let id = with_ctx(&page.state, Access::Read, move |conn, _| {
            let id = open_by_code(conn, &number, &code_hash)?.id;
            service::check_attachable(conn, &id, &Acting::investor(), max).map(|()| id)
        })
        .await?;
        let dir = s.attachment_dir(page.state.settings.data_dir());
        let posted = complaint_form::read(payload, "file", s.attachment_max_bytes, 1, &dir).await?;
        if posted.files.is_empty() {
            return Err(ApiError::invalid("file", "required", "choose a file"));
        }
        let files = complaint_form::check_files(posted.files, "file")?;
        store_attachments(&page, &id, files, Acting::investor()).await
    }
    .await;
    match added {
        Ok(()) => page.see_other("/track"),
        Err(e) => show(&page, who, Some(&e), StatusCode::OK).await,
    }
}

#[get("/track/attachments/{attachment_id}")]
async fn download(page: Page, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some((number, code_hash)) = session_of(&page, &req) else { return page.see_other("/track") };
    let attachment_id = path.into_inner();
    let found = db::run(&page.state.pool, move |conn| {
        let complaint = open_by_code(conn, &number, &code_hash)?;
        crate::complaints::attachments::find(conn, &complaint.id, &attachment_id)?
            .ok_or_else(|| ApiError::NotFound("no such attachment".into()))
    })
    .await;
    let response = match found {
        Ok(row) => crate::complaints::attachments::download_response(&page.state.pool, &row).await,
        Err(e) => Err(e),
    };
    match response {
        Ok(res) => res,
        Err(e) => page.error(&e),
    }
}

/// Ends the tracking session on this browser.
#[post("/track/leave")]
async fn leave(page: Page) -> HttpResponse {
    let mut res = page.see_other("/track");
    let _ = res.add_cookie(&session::expired_cookie(TRACK_COOKIE, "/track"));
    res
}

// ---------------------------------------------------------------------------------------------
// A lost access code (complaints::code_reset)

/// `/track/recover?number=` (from the look-up page) fills in the number.
#[get("/track/recover")]
async fn recover_page(page: Page, query: Option<web::Query<TrackQuery>>) -> HttpResponse {
    let number = query.and_then(|q| TrackingNumber::parse(&q.number)).map(|n| n.to_string());
    let values: std::collections::HashMap<&str, String> = number.map(|n| ("tracking_number", n)).into_iter().collect();
    page.render("investor/recover.html", minijinja::context! { values => values })
}

#[derive(Deserialize)]
struct RecoverForm {
    #[serde(default)]
    tracking_number: String,
    #[serde(default)]
    email: String,
    /// `sent`: the language switch of the answer page (which shows nothing typed).
    #[serde(default)]
    shown: String,
}

/// The recovery form's number and address, or every mistake in them.
fn recover_fields(tracking_number: &str, email: &str) -> Result<(String, String), ApiError> {
    let mut errors = Vec::new();
    let number = required_text("tracking_number", tracking_number, 40).map_err(|e| errors.push(e)).ok();
    let address = crate::fields::EmailAddress::parse("email", email).map_err(|e| errors.push(e)).ok();
    match (number, address) {
        (Some(number), Some(address)) => Ok((number, address.into_inner())),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// Asks for a link that sets a new code. The answer is the same whether or not the number and
/// the address matched a complaint; each request counts against the client's tracking limit.
#[post("/track/recover")]
async fn recover(
    page: Page,
    client: ClientAddr,
    switch: web::Query<Switch>,
    form: web::Form<RecoverForm>,
) -> HttpResponse {
    let RecoverForm { tracking_number, email, shown } = form.into_inner();
    let hours = crate::complaints::code_reset::LINK_HOURS;
    let switch_form = SwitchForm { form: "recover-form", action: "/track/recover".into() };
    // The answer page in another language: the same answer (it never depended on a match).
    if switch.asked() && shown == "sent" {
        return page
            .render("investor/recover.html", minijinja::context! { sent => true, link_hours => hours, switch_form });
    }
    let asked = async {
        page.state.limits.tracking_by_client.check(&client.0).await?;
        let (number, address) = recover_fields(&tracking_number, &email)?;
        with_ctx(&page.state, Access::Write, move |conn, ctx| {
            crate::complaints::code_reset::request(conn, ctx, &number, &address)
        })
        .await
    };
    let values = std::collections::HashMap::from([
        ("tracking_number", tracking_number.chars().take(40).collect::<String>()),
        ("email", email.chars().take(254).collect::<String>()),
    ]);
    // The form's own switch shows it again as typed, with its mistakes, and sends nothing.
    let asked = if switch.asked() {
        match recover_fields(&tracking_number, &email) {
            Ok(_) => return page.render("investor/recover.html", minijinja::context! { values, switch_form }),
            Err(e) => Err(e),
        }
    } else {
        asked.await
    };
    match asked {
        Ok(()) => {
            page.render("investor/recover.html", minijinja::context! { sent => true, link_hours => hours, switch_form })
        }
        Err(e) => {
            let shown = page.explain(&e);
            page.render_status(
                shown.status,
                "investor/recover.html",
                minijinja::context! { values, switch_form, field_errors => shown.by_field(), error => shown },
            )
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResetToken {
    token: String,
}

/// The page the emailed link opens: nothing changes until the investor confirms (a mail
/// scanner fetching the link changes nothing).
#[get("/track/reset")]
async fn reset_page(page: Page, query: Option<web::Query<ResetToken>>) -> HttpResponse {
    let token = query.map(|q| q.into_inner().token).unwrap_or_default();
    let probe = token.clone();
    let usable = with_ctx(&page.state, Access::Read, move |conn, ctx| {
        crate::complaints::code_reset::is_usable(conn, ctx, &probe)
    })
    .await;
    match usable {
        Ok(true) => page.render("investor/reset.html", minijinja::context! { token => token }),
        Ok(false) => reset_invalid(&page),
        Err(e) => page.error(&e),
    }
}

/// Sets the new code, shows it once and opens the tracking session with it.
#[post("/track/reset")]
async fn reset(page: Page, client: ClientAddr, form: web::Form<ResetToken>) -> HttpResponse {
    let token = form.into_inner().token;
    let redeemed = async {
        page.state.limits.tracking_by_client.check(&client.0).await?;
        with_ctx(&page.state, Access::Write, move |conn, ctx| crate::complaints::code_reset::redeem(conn, ctx, &token))
            .await
    }
    .await;
    match redeemed {
        Ok(r) => {
            let code_hash = r.code.hash();
            let mut res = render_new_code(&page, &r.tracking_number, &r.code.display());
            if let Ok(session) =
                page.state.tokens.issue_tracking(&r.tracking_number, &code_hash, db::now(), session::TRACK_MINUTES)
            {
                let _ = res.add_cookie(&session::track_cookie(session, page.secure));
            }
            res
        }
        Err(ApiError::NotFound(_)) => reset_invalid(&page),
        Err(e) => page.error(&e),
    }
}

/// The new code, shown once, with a switch that shows it again in another language to whoever
/// holds the number and the code (the page has both).
fn render_new_code(page: &Page, tracking_number: &str, code: &str) -> HttpResponse {
    page.render(
        "investor/reset.html",
        minijinja::context! {
            tracking_number, code,
            switch_form => SwitchForm { form: "new-code-form", action: "/track/receipt".into() },
        },
    )
}

/// An unknown, used or expired link: what happened and the way to another.
fn reset_invalid(page: &Page) -> HttpResponse {
    page.render_status(
        StatusCode::NOT_FOUND,
        "investor/reset.html",
        minijinja::context! { link_hours => crate::complaints::code_reset::LINK_HOURS },
    )
}
