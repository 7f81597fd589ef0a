//! `/api/v1/ballots/*`. Officers (commission, coordination office) run rounds; anyone votes with
//! a code; results and the bulletin are public once published. These handlers never log a code
//! or a body, and casting is rate-limited per client with one generic refusal.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::bulletin::Bulletin;
use super::error::BallotError;
use super::model::RoundStatus;
use super::service::{self, CastReceipt, CastRequest, CreateRound, ImportReport, Issued, RoundDepartment, RoundView};
use super::tally::DepartmentTally;
use crate::auth::roles::BallotOfficers;
use crate::auth::{MaybeStaff, Staff};
use crate::db;
use crate::error::ApiError;
use crate::http::{ClientAddr, JsonBody};
use crate::ids::RoundId;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_round)
        .service(list_rounds)
        .service(import_voters)
        .service(issue_codes)
        .service(reissue_code)
        .service(open_round)
        .service(close_round)
        .service(unseal_round)
        .service(publish_round)
        .service(get_round)
        .service(check_code)
        .service(cast)
        .service(results)
        .service(bulletin);
}

/// Create a round (draft).
#[utoipa::path(post, path = "/api/v1/ballots/rounds", tag = "ballots", security(("bearer" = [])), request_body = CreateRound,
    responses((status = 201, body = RoundView)))]
#[post("/api/v1/ballots/rounds")]
async fn create_round(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    body: JsonBody<CreateRound>,
) -> Result<HttpResponse, ApiError> {
    let (req, actor) = (body.into_inner(), staff.id.clone());
    let view = db::run(&state.pool, move |conn| {
        let created = service::create(conn, req, &actor, db::now())?;
        Ok::<_, ApiError>(service::RoundView {
            revocation_key: Some(created.revocation_key),
            ..service::view(conn, &created.round)?
        })
    })
    .await?;
    Ok(HttpResponse::Created().insert_header((header::CACHE_CONTROL, "no-store")).json(view))
}

/// All rounds (officers).
#[utoipa::path(get, path = "/api/v1/ballots/rounds", tag = "ballots", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoundView>)))]
#[get("/api/v1/ballots/rounds")]
async fn list_rounds(
    state: web::Data<AppState>,
    _staff: Staff<BallotOfficers>,
) -> Result<web::Json<Vec<RoundView>>, ApiError> {
    db::run(&state.pool, |conn| service::list(conn)?.iter().map(|r| service::view(conn, r)).collect())
        .await
        .map(web::Json)
}

/// Import the roll (CSV `name,category,contact,departments[,language]`; contact an email or
/// `paper`; departments as codes separated by `;`; language `zh`, `zh-Hant` or `en`, zh when
/// empty or absent — the voter's letter and code email are written in it). All rows or none;
/// every wrong row is reported.
#[utoipa::path(post, path = "/api/v1/ballots/rounds/{id}/voters", tag = "ballots", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 400, description = "the body is not UTF-8", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "the body is larger than server.json_limit_bytes", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "wrong rows, each named `line N`; nothing imported", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/rounds/{id}/voters")]
async fn import_voters(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    path: web::Path<RoundId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let text =
        String::from_utf8(body.to_vec()).map_err(|_| ApiError::BadRequest("the roll must be UTF-8 CSV".into()))?;
    let (id, actor) = (path.into_inner(), staff.id.clone());
    let report = db::run(&state.pool, move |conn| service::import_roll(conn, &id, &text, &actor, db::now())).await?;
    if !report.errors.is_empty() {
        // Every wrong row, as problem+json fields named `line N`.
        return Err(ApiError::Invalid(
            report
                .errors
                .iter()
                .map(|e| crate::error::FieldError::new(format!("line {}", e.line), "invalid_row", e.message.clone()))
                .collect(),
        ));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// Issue codes to everyone on the roll without one: paper letters come back here, once;
/// emailed codes are queued and made at send time.
#[utoipa::path(post, path = "/api/v1/ballots/rounds/{id}/issue-codes", tag = "ballots", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Issued),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/rounds/{id}/issue-codes")]
async fn issue_codes(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    path: web::Path<RoundId>,
) -> Result<HttpResponse, ApiError> {
    let (id, actor, rules, deliverable) =
        (path.into_inner(), staff.id.clone(), state.rules.clone(), service::email_deliverable(&state.settings));
    let issued = db::run(&state.pool, move |conn| {
        service::issue_codes(conn, &id, &rules.notices, deliverable, &actor, db::now())
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(issued))
}

/// Revoke an unspent code (a letter returned undelivered, damaged, or seen by someone else) and
/// issue its voter a new one; the answer is as issue-codes'.
#[utoipa::path(post, path = "/api/v1/ballots/rounds/{id}/reissue", tag = "ballots", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = service::ReissueRequest,
    responses((status = 200, body = Issued),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/rounds/{id}/reissue")]
async fn reissue_code(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    path: web::Path<RoundId>,
    body: JsonBody<service::ReissueRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, actor, rules, deliverable, req) = (
        path.into_inner(),
        staff.id.clone(),
        state.rules.clone(),
        service::email_deliverable(&state.settings),
        body.into_inner(),
    );
    let issued = db::run(&state.pool, move |conn| {
        service::reissue(conn, &id, &req, &rules.notices, deliverable, &actor, db::now())
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(issued))
}

async fn advance(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    id: RoundId,
    to: RoundStatus,
) -> Result<web::Json<RoundView>, ApiError> {
    let actor = staff.id.clone();
    db::run(&state.pool, move |conn| {
        let advanced = service::advance(conn, &id, to, &actor, db::now())?;
        service::view(conn, &advanced.round)
    })
    .await
    .map(web::Json)
}

/// A round just opened, with the shares of its key.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OpenedRound {
    #[serde(flatten)]
    pub round: RoundView,
    /// One share of the round key per trustee, shown this once: the service keeps only the
    /// public key. Any `threshold` of them open the ballots after close.
    pub key_shares: Vec<String>,
}

/// Open for voting; questions, departments and anonymity settings are locked from here.
#[utoipa::path(post, path = "/api/v1/ballots/rounds/{id}/open", tag = "ballots", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OpenedRound),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/rounds/{id}/open")]
async fn open_round(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    path: web::Path<RoundId>,
) -> Result<HttpResponse, ApiError> {
    let (id, actor) = (path.into_inner(), staff.id.clone());
    let opened = db::run(&state.pool, move |conn| {
        let advanced = service::advance(conn, &id, RoundStatus::Open, &actor, db::now())?;
        Ok::<_, ApiError>(OpenedRound {
            round: service::view(conn, &advanced.round)?,
            key_shares: advanced.key_shares.unwrap_or_default(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(opened))
}

/// The trustees open a closed round's ballots with their key shares: decrypted in memory,
/// written in random order, the sealed copies destroyed and the key forgotten.
#[utoipa::path(post, path = "/api/v1/ballots/rounds/{id}/unseal", tag = "ballots", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = service::UnsealRequest,
    responses((status = 200, body = RoundView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/rounds/{id}/unseal")]
async fn unseal_round(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    path: web::Path<RoundId>,
    body: JsonBody<service::UnsealRequest>,
) -> Result<web::Json<RoundView>, ApiError> {
    let (id, actor, shares) = (path.into_inner(), staff.id.clone(), body.into_inner().key_shares);
    db::run(&state.pool, move |conn| {
        let round = service::unseal(conn, &id, &shares, &actor, db::now())?;
        service::view(conn, &round)
    })
    .await
    .map(web::Json)
}

/// Close voting; the ballot rows are rewritten in random order.
#[utoipa::path(post, path = "/api/v1/ballots/rounds/{id}/close", tag = "ballots", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RoundView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/rounds/{id}/close")]
async fn close_round(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    path: web::Path<RoundId>,
) -> Result<web::Json<RoundView>, ApiError> {
    advance(state, staff, path.into_inner(), RoundStatus::Closed).await
}

/// Publish the results and the bulletin.
#[utoipa::path(post, path = "/api/v1/ballots/rounds/{id}/publish", tag = "ballots", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RoundView),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/rounds/{id}/publish")]
async fn publish_round(
    state: web::Data<AppState>,
    staff: Staff<BallotOfficers>,
    path: web::Path<RoundId>,
) -> Result<web::Json<RoundView>, ApiError> {
    advance(state, staff, path.into_inner(), RoundStatus::Published).await
}

/// A round as voters see it: title, window, questions, departments (public).
#[utoipa::path(get, path = "/api/v1/ballots/{round}", tag = "ballots", params(("round" = String, Path)),
    responses((status = 200, body = RoundView)))]
#[get("/api/v1/ballots/{round}")]
async fn get_round(state: web::Data<AppState>, path: web::Path<RoundId>) -> Result<web::Json<RoundView>, ApiError> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        let round = service::find(conn, &id)?;
        if round.status() == RoundStatus::Draft {
            return Err(BallotError::NotYetOpened);
        }
        service::view(conn, &round)
    })
    .await
    .map(web::Json)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: String,
}

/// Which departments this code may rate (the code is not spent). Rate-limited.
#[utoipa::path(post, path = "/api/v1/ballots/{round}/code", tag = "ballots", params(("round" = String, Path)), request_body = CodeRequest,
    responses((status = 200, body = Vec<RoundDepartment>), (status = 404, description = "no such round", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "unknown or spent code, or voting closed", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/{round}/code")]
async fn check_code(
    state: web::Data<AppState>,
    client: ClientAddr,
    path: web::Path<RoundId>,
    body: JsonBody<CodeRequest>,
) -> Result<web::Json<Vec<RoundDepartment>>, ApiError> {
    state.limits.ballot_by_client.check(&client.0).await?;
    let (id, code) = (path.into_inner(), body.into_inner().code);
    db::run(&state.pool, move |conn| service::departments_for_code(conn, &id, &code, db::now())).await.map(web::Json)
}

/// Cast a ballot with a one-time code (in the body, never the URL). Rate-limited; an unknown,
/// spent or foreign code gets one generic answer.
#[utoipa::path(post, path = "/api/v1/ballots/{round}/cast", tag = "ballots", params(("round" = String, Path)), request_body = CastRequest,
    responses((status = 201, body = CastReceipt), (status = 404, description = "no such round", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "code refused or voting closed", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ballots/{round}/cast")]
async fn cast(
    state: web::Data<AppState>,
    client: ClientAddr,
    path: web::Path<RoundId>,
    body: JsonBody<CastRequest>,
) -> Result<HttpResponse, ApiError> {
    state.limits.ballot_by_client.check(&client.0).await?;
    let (id, req) = (path.into_inner(), body.into_inner());
    let receipt = db::run(&state.pool, move |conn| service::cast(conn, &id, req, db::now())).await?;
    Ok(HttpResponse::Created().insert_header((header::CACHE_CONTROL, "no-store")).json(receipt))
}

/// Results with small groups suppressed: public once published; officers see them from close.
#[utoipa::path(get, path = "/api/v1/ballots/{round}/results", tag = "ballots", params(("round" = String, Path)), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<DepartmentTally>),
        (status = 401, description = "an Authorization header that is not a valid, current token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/ballots/{round}/results")]
async fn results(
    state: web::Data<AppState>,
    staff: MaybeStaff<BallotOfficers>,
    path: web::Path<RoundId>,
) -> Result<web::Json<Vec<DepartmentTally>>, ApiError> {
    let (id, officer) = (path.into_inner(), staff.0.is_some());
    db::run(&state.pool, move |conn| {
        let round = service::find(conn, &id)?;
        if round.status() != RoundStatus::Published && !officer {
            return Err(BallotError::ResultsNotPublished);
        }
        service::results(conn, &round)
    })
    .await
    .map(web::Json)
}

/// The bulletin of a published round: every counted ballot row, the receipts, the counts and
/// the tally — enough to recount independently (`anshang ballots verify`).
#[utoipa::path(get, path = "/api/v1/ballots/{round}/bulletin", tag = "ballots", params(("round" = String, Path)),
    responses((status = 200, body = Bulletin)))]
#[get("/api/v1/ballots/{round}/bulletin")]
async fn bulletin(state: web::Data<AppState>, path: web::Path<RoundId>) -> Result<web::Json<Bulletin>, ApiError> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        let round = service::find(conn, &id)?;
        service::bulletin(conn, &round)
    })
    .await
    .map(web::Json)
}
