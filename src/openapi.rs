//! The OpenAPI 3.1 document, generated from the handlers' annotations, and a self-contained
//! page that renders it (no external scripts or fonts).

use actix_web::{get, http::header, web, HttpResponse};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;

#[derive(OpenApi)]
#[openapi(
    info(title = "anshang", description = "Investor complaints with a legal response clock, and anonymous conduct ballots."),
    paths(
        crate::health::healthz, crate::health::readyz,
        crate::auth::routes::login, crate::auth::routes::logout, crate::auth::routes::me, crate::auth::routes::change_password,
        crate::auth::routes::create_user, crate::auth::routes::list_users, crate::auth::routes::update_user,
        crate::auth::routes::reset_password,
        crate::departments::routes::list_public, crate::departments::routes::list_admin,
        crate::departments::routes::create, crate::departments::routes::update,
        crate::calendar::routes::due, crate::calendar::routes::get_year, crate::calendar::routes::put_year,
        crate::complaints::routes::file, crate::complaints::routes::list, crate::complaints::routes::get_one,
        crate::complaints::routes::events, crate::complaints::routes::by_number,
        crate::complaints::routes::assign, crate::complaints::routes::reassign, crate::complaints::routes::reject,
        crate::complaints::routes::possible_duplicates, crate::complaints::routes::mark_duplicate,
        crate::complaints::routes::return_to_office, crate::complaints::routes::request_extension,
        crate::complaints::routes::decide_extension, crate::complaints::routes::request_info,
        crate::complaints::routes::reply, crate::complaints::routes::add_note, crate::complaints::routes::withdraw_for_caller,
        crate::complaints::routes::track, crate::complaints::routes::track_answer, crate::complaints::routes::track_rate,
        crate::complaints::routes::track_contest, crate::complaints::routes::track_withdraw,
        crate::complaints::routes::staff_upload, crate::complaints::routes::staff_download,
        crate::complaints::routes::track_upload, crate::complaints::routes::track_download,
        crate::mail::routes::list, crate::mail::routes::retry, crate::mail::routes::withheld,
        crate::ballots::routes::create_round, crate::ballots::routes::list_rounds, crate::ballots::routes::import_voters,
        crate::ballots::routes::issue_codes, crate::ballots::routes::reissue_code, crate::ballots::routes::open_round, crate::ballots::routes::close_round, crate::ballots::routes::unseal_round,
        crate::ballots::routes::publish_round, crate::ballots::routes::get_round, crate::ballots::routes::check_code,
        crate::ballots::routes::cast, crate::ballots::routes::results, crate::ballots::routes::bulletin,
        crate::assessment::routes::year_report, crate::assessment::routes::department_breakdown, crate::assessment::routes::finalize,
        crate::assessment::routes::monthly, crate::assessment::routes::bimonthly,
        crate::assessment::routes::request_review, crate::assessment::routes::list_reviews, crate::assessment::routes::decide_review,
    ),
    modifiers(&BearerAuth, &SharedResponses),
    tags((name = "health"), (name = "auth"), (name = "users"), (name = "departments"), (name = "calendar"),
        (name = "complaints", description = "Filing and the staff's work on complaints"),
        (name = "tracking", description = "The investor, with tracking number and access code"),
        (name = "mail", description = "The outbox of notices"),
        (name = "ballots", description = "Anonymous conduct ballots"),
        (name = "assessment", description = "Yearly department scores"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The answers that the shared plumbing gives, documented once here rather than on every
/// handler: a bearer-secured operation (`Staff<Rule>`) answers 401 without a valid, current token
/// and 403 to a role its rule does not list or to a token that still holds a one-time password;
/// a JSON body (`JsonBody`, `parse_json_request`) is 400 when malformed, 413 when larger than
/// `server.json_limit_bytes`, 415 when not sent as JSON and 422 naming a wrong, missing or unknown
/// field; an operation with a path parameter answers 404 when no record has that id or the
/// parameter cannot be read (`PathConfig`). A handler's own description of the same status wins.
/// The headers set on answers in one place are documented here too: `X-Request-Id` on every
/// answer, `WWW-Authenticate` on every 401, `Retry-After` on every 429 and 503.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete];
            for op in operations.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| s.contains(&bearer));
                let json_body = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
                let path_parameter = op.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Path);
                let mut add = |status: &str, description: &str| {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| problem(description).into());
                };
                if secured {
                    add("401", "no token, or one that is invalid, expired or older than the account's last change");
                    add("403", "a role this operation does not admit, or a one-time password still to change");
                }
                if path_parameter {
                    add("404", "no such record, or a path parameter that cannot be read");
                }
                if json_body {
                    add("400", "malformed JSON");
                    add("413", "the body is larger than server.json_limit_bytes");
                    add("415", "the body is not sent as application/json");
                    add("422", "a field is missing, unknown or invalid (named in `errors`)");
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else { continue };
                    response.headers.insert(
                        "X-Request-Id".into(),
                        header(
                            Type::String,
                            Some("^[A-Za-z0-9-]{1,64}$"),
                            "the request's id in the logs: the client's own if it sent a valid one, else a new UUID",
                        ),
                    );
                    match status.as_str() {
                        "401" => response
                            .headers
                            .insert("WWW-Authenticate".into(), header(Type::String, Some("^Bearer"), "`Bearer`")),
                        "429" => response.headers.insert(
                            "Retry-After".into(),
                            header(Type::Integer, None, "seconds until a request is allowed again"),
                        ),
                        "503" => response.headers.insert(
                            "Retry-After".into(),
                            header(
                                Type::Integer,
                                None,
                                "seconds to wait before trying again (the database is out of reach)",
                            ),
                        ),
                        _ => None,
                    };
                }
            }
        }
    }
}

fn header(kind: Type, pattern: Option<&str>, description: &str) -> Header {
    let integer = kind == Type::Integer;
    let schema = ObjectBuilder::new().schema_type(kind).pattern(pattern);
    let schema = if integer { schema.minimum(Some(0)) } else { schema };
    HeaderBuilder::new().schema(schema).description(Some(description)).build()
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
        .build()
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi_json).service(docs_page).service(docs_script);
}

#[get("/api/v1/openapi.json")]
async fn openapi_json() -> HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(|| ApiDoc::openapi().to_json().expect("OpenAPI document serialises"));
    HttpResponse::Ok().content_type("application/json").body(body.as_str())
}

#[get("/api/v1/docs")]
async fn docs_page() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(include_str!("../assets/api-docs.html"))
}

#[get("/assets/api-docs.js")]
async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../assets/api-docs.js"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn operations() -> Vec<(String, String, Value)> {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
        out
    }

    /// Path parameters are exactly the template's names; everything else is a query or header
    /// parameter (a query struct without `parameter_in = Query` is documented as path).
    #[test]
    fn parameters_sit_where_they_are_sent() {
        for (method, path, op) in operations() {
            let in_template: Vec<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: Vec<&str> =
                params.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect();
            assert_eq!(in_path, in_template, "{method} {path}");
            for p in &params {
                let location = p["in"].as_str().unwrap();
                assert!(["path", "query", "header"].contains(&location), "{method} {path}: {p}");
                if location == "path" {
                    assert_eq!(p["required"], true, "{method} {path}: {p}");
                }
            }
        }
    }

    /// The shared answers are on every operation they can come from, and every error is problem+json.
    #[test]
    fn shared_answers_are_documented_and_errors_are_problems() {
        for (method, path, op) in operations() {
            let responses = op["responses"].as_object().unwrap();
            let secured = op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            let json_body = op["requestBody"]["content"].get("application/json").is_some();
            let path_parameter = path.contains('{');
            let mut expected = Vec::new();
            if path_parameter {
                expected.push("404");
            }
            if secured {
                expected.extend(["401", "403"]);
            }
            if json_body {
                expected.extend(["400", "413", "415", "422"]);
            }
            for status in expected {
                assert!(responses.contains_key(status), "{method} {path} lacks {status}");
            }
            for (status, response) in responses {
                assert!(response["headers"].get("X-Request-Id").is_some(), "{method} {path} {status}");
                let own = match status.as_str() {
                    "401" => Some("WWW-Authenticate"),
                    "429" | "503" => Some("Retry-After"),
                    _ => None,
                };
                if let Some(name) = own {
                    assert!(response["headers"].get(name).is_some(), "{method} {path} {status} lacks {name}");
                }
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"]
                        .as_object()
                        .unwrap_or_else(|| panic!("{method} {path} {status}: no content"));
                    assert_eq!(content.keys().collect::<Vec<_>>(), [PROBLEM_JSON], "{method} {path} {status}");
                }
            }
        }
    }
}
