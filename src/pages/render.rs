//! Rendering a page: the `Page` extractor (the state, the reader's language) and the response
//! every page gets (HTML from `engine`'s templates, a strict CSP, no caching, the language
//! remembered in a cookie).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use minijinja::Value;

use crate::complaints::model::Language;
use crate::error::ApiError;
use crate::state::AppState;

/// Pages load nothing from elsewhere and run no inline script or style.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const LANG_COOKIE: &str = "anshang_lang";

/// What every page handler starts from: the state, the reader's language, the path.
pub struct Page {
    pub state: web::Data<AppState>,
    pub lang: Language,
    /// `?lang=` chose the language just now: remember it.
    remember: bool,
    pub path: String,
    /// This page in each other language offered here: the same path and query, `lang`
    /// switched (GET pages).
    language_links: Vec<LanguageLink>,
    /// A page shown in answer to a post has no address to link to: its switch posts again (the
    /// form the page names as `switch_form`), to the same action with `lang` and `switch=1`.
    switch_languages: Vec<LanguageChoice>,
    /// Reached over TLS (directly or through the trusted proxy): cookies are marked Secure.
    pub secure: bool,
    /// Staff pages set the signed-in account and the form token for the layout.
    pub staff: Option<SignedIn>,
}

/// Which form of a page shown after a post the language switch posts, and where
/// (`switch_form` in `base.html`): the handler at `action` shows the page again in the language
/// asked for, and must act on nothing when it does.
#[derive(serde::Serialize)]
pub struct SwitchForm {
    pub form: &'static str,
    pub action: String,
}

/// `?switch=1`: the language switch of a page shown after a post, posting its form again to
/// show the page in another language. The handler acts on nothing; it only shows.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct Switch {
    switch: String,
}

impl Switch {
    pub fn asked(&self) -> bool {
        self.switch == "1"
    }
}

/// A link to the page in another language, named in that language.
#[derive(serde::Serialize)]
struct LanguageLink {
    /// The `lang` / `hreflang` tag.
    tag: &'static str,
    name: &'static str,
    url: String,
}

/// A language a page shown after a post can be shown again in.
#[derive(serde::Serialize)]
struct LanguageChoice {
    /// The `lang` attribute's tag.
    tag: &'static str,
    name: &'static str,
    /// The `?lang=` value.
    param: &'static str,
}

/// Investors and voters read simplified or traditional Chinese or English; the staff pages
/// (under `/staff`) are zh/en.
fn offers_traditional(path: &str) -> bool {
    path != "/staff" && !path.starts_with("/staff/")
}

/// The languages a page offers, the reader's own first-listed counterpart (zh ↔ en) first.
fn languages_offered(path: &str, lang: Language) -> Vec<Language> {
    let counterpart = match lang {
        Language::En => Language::Zh,
        Language::Zh | Language::ZhHant => Language::En,
    };
    let mut offered = vec![counterpart];
    if offers_traditional(path) {
        offered.extend(Language::ALL.into_iter().filter(|l| *l != lang && *l != counterpart));
    }
    offered
}

/// A language's name in itself. Where traditional Chinese is offered too, zh says which script.
fn autonym(lang: Language, with_traditional: bool) -> &'static str {
    match lang {
        Language::Zh if with_traditional => "简体中文",
        Language::Zh => "中文",
        Language::ZhHant => "繁體中文",
        Language::En => "English",
    }
}

/// The signed-in staff member on a page, with the form token of this session.
pub struct SignedIn {
    pub user: crate::auth::StaffUser,
    pub csrf: String,
}

/// True when the request reached us over TLS (directly, or as the trusted proxy says).
pub fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

impl FromRequest for Page {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Page, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Page::of(req))
    }
}

impl Page {
    pub fn of(req: &HttpRequest) -> Result<Page, ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| ApiError::internal("pages", "application state missing"))?;
        ensure_same_origin(req)?;
        let chosen = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("lang").and_then(|l| Language::parse(l)));
        let remembered = req.cookie(LANG_COOKIE).and_then(|c| Language::parse(c.value()));
        let from_browser = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Language::from_accept_language);
        let wanted = chosen.or(remembered).or(from_browser).unwrap_or(Language::Zh);
        let traditional = offers_traditional(req.path());
        let lang = if traditional { wanted } else { wanted.for_staff() };
        // A page shown in answer to a post has no address of its own to switch (and some, such
        // as a code shown once, must not be left by accident): the links appear on GET pages;
        // after a post, the page's own form is posted again in the other language.
        let is_get = matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD);
        let offered = languages_offered(req.path(), lang);
        let (language_links, switch_languages) = if is_get {
            let links = offered
                .into_iter()
                .map(|l| LanguageLink { tag: l.html_tag(), name: autonym(l, traditional), url: language_url(req, l) })
                .collect();
            (links, Vec::new())
        } else {
            let choices = offered
                .into_iter()
                .map(|l| LanguageChoice { tag: l.html_tag(), name: autonym(l, traditional), param: l.as_str() })
                .collect();
            (Vec::new(), choices)
        };
        Ok(Page {
            state,
            lang,
            // A staff page shown in zh to a traditional-Chinese reader does not change the choice.
            remember: chosen.is_some() && chosen != remembered && chosen == Some(lang),
            path: req.path().to_string(),
            language_links,
            switch_languages,
            secure: is_https(req),
            staff: None,
        })
    }

    pub fn text(&self, key: &str) -> String {
        self.text_in(key, self.lang)
    }

    /// The catalogue's text in a language other than the page's (a page in both languages).
    pub fn text_in(&self, key: &str, lang: Language) -> String {
        self.state.pages.text(key, lang).unwrap_or(key).to_string()
    }

    /// 200 with the template rendered over `vars` and the layout's own values.
    pub fn render(&self, template: &str, vars: Value) -> HttpResponse {
        self.render_status(StatusCode::OK, template, vars)
    }

    pub fn render_status(&self, status: StatusCode, template: &str, vars: Value) -> HttpResponse {
        let ctx = minijinja::context! {
            lang => self.lang.as_str(),
            html_lang => self.lang.html_tag(),
            path => &self.path,
            language_links => &self.language_links,
            switch_languages => &self.switch_languages,
            staff => self.staff.as_ref().map(|s| minijinja::context! { role => s.user.role.as_str(), department_id => &s.user.department_id }),
            csrf => self.staff.as_ref().map(|s| s.csrf.as_str()),
            ..vars
        };
        match self.state.pages.render(template, ctx) {
            Ok(html) => self.html(status, html),
            Err(e) => {
                tracing::error!(error = %e, template, "page failed to render");
                self.html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>anshang</title><p>Internal error. 内部错误。".into(),
                )
            }
        }
    }

    fn html(&self, status: StatusCode, body: String) -> HttpResponse {
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_LANGUAGE, self.lang.as_str()));
        if self.remember {
            res.cookie(lang_cookie(self.lang));
        }
        res.body(body)
    }

    /// 303 to `location` (after a form post: a reload does not post again).
    pub fn see_other(&self, location: &str) -> HttpResponse {
        let mut res = HttpResponse::SeeOther();
        res.insert_header((header::LOCATION, location.to_string())).insert_header((header::CACHE_CONTROL, "no-store"));
        if self.remember {
            res.cookie(lang_cookie(self.lang));
        }
        res.finish()
    }

    /// The error page, in the reader's language, with the status the API would give.
    pub fn error(&self, err: &ApiError) -> HttpResponse {
        let shown = self.explain(err);
        self.render_status(shown.status, "error.html", minijinja::context! { error => shown })
    }

    /// The error page for an answer that did not come from a page handler (the router's 404
    /// and 405, a body limit's 413, a limiter's 429, an escaped error's 500): the summary and
    /// what the reader can do about it, in the reader's language (`error_pages`).
    pub fn status_page(&self, status: StatusCode) -> HttpResponse {
        let hint = match status.as_u16() {
            404 => Some("common.error.not_found_hint"),
            405 => Some("common.error.method_hint"),
            413 => Some("common.error.too_large_hint"),
            429 => Some("common.error.too_many_hint"),
            _ => None,
        };
        let shown = ShownError {
            status,
            summary: self.text(summary_key(status)),
            detail: hint.map(|key| self.text(key)),
            fields: Vec::new(),
        };
        self.render_status(status, "error.html", minijinja::context! { error => shown })
    }

    /// An error as the reader sees it: a translated summary and, for fields, one line each.
    pub fn explain(&self, err: &ApiError) -> ShownError {
        // The status the API would answer with.
        let status = actix_web::ResponseError::status_code(err);
        if let ApiError::Internal(e) = err {
            tracing::error!(error = %e, "page request failed");
        }
        let key = summary_key(status);
        // A specific translation where the catalogue has one (e.g. `common.conflict.round-not-open`).
        let specific = match err {
            ApiError::Conflict { kind, .. } => self.state.pages.text(&format!("common.conflict.{kind}"), self.lang),
            _ => None,
        };
        let detail = match err {
            // The API's own words (English) where no translation says more; never for
            // internal errors, whose detail is only logged.
            ApiError::Conflict { detail, .. } if specific.is_none() => Some(detail.clone()),
            ApiError::BadRequest(d) | ApiError::PayloadTooLarge(d) | ApiError::UnsupportedMediaType(d) => {
                Some(d.clone())
            }
            _ => None,
        };
        let fields = match err {
            ApiError::Invalid(list) => list
                .iter()
                .map(|f| ShownField {
                    field: f.field.clone(),
                    label: self.complaint_label(&f.field, None),
                    message: self.field_message(&f.code, &f.message),
                })
                .collect(),
            _ => Vec::new(),
        };
        ShownError { status, summary: specific.map(str::to_string).unwrap_or_else(|| self.text(key)), detail, fields }
    }

    /// The label the complaint form shows for `field` (e.g. `complainant.name` → "Your name"),
    /// from `group` where a form for someone else words it its own way (the operator's form
    /// speaks of the caller), else the investor's wording; `None` for fields the complaint form
    /// does not have.
    pub fn complaint_label(&self, field: &str, group: Option<&str>) -> Option<String> {
        let key = complaint_label_key(field);
        group
            .and_then(|g| self.state.pages.text(&format!("{g}.{key}"), self.lang))
            .or_else(|| self.state.pages.text(&format!("common.complaint.{key}"), self.lang))
            .map(str::to_string)
    }

    fn field_message(&self, code: &str, english: &str) -> String {
        match self.state.pages.text(&format!("common.field.{code}"), self.lang) {
            Some(text) => text.to_string(),
            None => english.to_string(),
        }
    }
}

/// The catalogue key of the one-line summary of an error answered with `status`.
fn summary_key(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "common.error.unauthenticated",
        403 => "common.error.forbidden",
        404 => "common.error.not_found",
        405 => "common.error.method_not_allowed",
        409 => "common.error.conflict",
        413 => "common.error.too_large",
        415 => "common.error.unsupported_type",
        422 => "common.error.invalid",
        429 => "common.error.too_many",
        503 => "common.error.unavailable",
        500..=599 => "common.error.internal",
        _ => "common.error.bad_request",
    }
}

/// The catalogue key (under `common.complaint.`) of a complaint form field's label: the
/// complainant's fields drop their prefix, the agent's join it (`agent.name` → `agent_name`).
fn complaint_label_key(field: &str) -> String {
    match field {
        "department_id" => "department".to_string(),
        f => f.strip_prefix("complainant.").map(str::to_string).unwrap_or_else(|| f.replace('.', "_")),
    }
}

#[derive(Debug, serde::Serialize)]
pub struct ShownError {
    #[serde(skip)]
    pub status: StatusCode,
    pub summary: String,
    pub detail: Option<String>,
    pub fields: Vec<ShownField>,
}

/// One field's message, as the error summary lists it: the summary names the field by its
/// label and links to its input (`#f-{field}`, dots as dashes).
#[derive(Debug, serde::Serialize)]
pub struct ShownField {
    /// The form field's name (staff forms prefix it with the form's name).
    pub field: String,
    /// The field's label in the reader's language, where the page knows it.
    pub label: Option<String>,
    /// The message, in the reader's language.
    pub message: String,
}

impl ShownError {
    /// Field name → message, for placing each message under its input.
    pub fn by_field(&self) -> std::collections::BTreeMap<String, String> {
        let mut map = std::collections::BTreeMap::new();
        for f in &self.fields {
            map.entry(f.field.clone()).or_insert_with(|| f.message.clone());
        }
        map
    }
}

/// The current page's path and query with `lang` set to `lang` (filters and look-ups survive
/// the switch).
fn language_url(req: &HttpRequest, lang: Language) -> String {
    let mut query: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "lang")
        .collect();
    query.push(("lang".into(), lang.as_str().into()));
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_else(|_| format!("lang={}", lang.as_str()));
    format!("{}?{encoded}", req.path())
}

/// A form posted from another site is refused (with SameSite cookies and form tokens, a third
/// line of defence that needs no state).
fn ensure_same_origin(req: &HttpRequest) -> Result<(), ApiError> {
    if matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD) {
        return Ok(());
    }
    // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` with every form post,
    // ours included: that says nothing, like a missing header.
    let Some(origin) = req.headers().get(header::ORIGIN).filter(|o| o.as_bytes() != b"null") else { return Ok(()) };
    let host = req.connection_info().host().to_string();
    let same =
        origin.to_str().ok().and_then(|o| o.split_once("://")).is_some_and(|(_, h)| h.eq_ignore_ascii_case(&host));
    if same {
        Ok(())
    } else {
        Err(ApiError::Forbidden("a form posted from another site".into()))
    }
}

fn lang_cookie(lang: Language) -> Cookie<'static> {
    Cookie::build(LANG_COOKIE, lang.as_str())
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}
