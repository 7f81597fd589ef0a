//! The pages' templates and text, loaded once at start: every template under `templates/`
//! (embedded by build.rs, named by its path there), the zh/en catalogues, the `t()` text
//! function and the time filters. It imports nothing of the page handlers or the shared state,
//! so the state can hold it.

use std::sync::Arc;

use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior, Value};

use super::i18n::Catalogue;
use crate::complaints::model::Language;
use crate::complaints::state::Status;
use crate::error::ApiError;

// `PAGE_TEMPLATES`, made by build.rs from the files of src/pages/templates/.
include!(concat!(env!("OUT_DIR"), "/page_templates.rs"));

/// Why the pages cannot be loaded: a template that does not parse, or the text catalogues.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    #[error("page template {name}: {source}")]
    Template { name: &'static str, source: minijinja::Error },
    #[error(transparent)]
    Catalogue(#[from] super::i18n::CatalogueError),
}

pub struct Pages {
    env: Environment<'static>,
    catalogue: Arc<Catalogue>,
}

impl Pages {
    /// Parses every template and the text catalogues; an error stops the start.
    pub fn load() -> Result<Pages, PagesError> {
        let catalogue = Arc::new(Catalogue::shipped()?);
        let mut env = Environment::new();
        // Form values are sparse maps: a field not posted prints as empty. (Missing text keys
        // are still errors: `t()` refuses them, and a test renders every page.)
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in PAGE_TEMPLATES {
            env.add_template(name, source).map_err(|source| PagesError::Template { name, source })?;
        }
        // The assessment's chart macros, shared with the printable report.
        env.add_template("charts.html", crate::assessment::charts::MARKUP)
            .map_err(|source| PagesError::Template { name: "charts.html", source })?;
        let texts = catalogue.clone();
        env.add_function("t", move |state: &State, key: &str| -> Result<String, Error> {
            let lang = reader_language(state);
            texts
                .get(key, lang)
                .map(str::to_string)
                .ok_or_else(|| Error::new(ErrorKind::UndefinedError, format!("no page text `{key}`")))
        });
        // A complaint form label: from the page's `label_group` where it words the label its own
        // way (the operator's intake speaks of the caller), else the investor's wording.
        let labels = catalogue.clone();
        env.add_function("label", move |state: &State, key: &str| -> Result<String, Error> {
            let lang = reader_language(state);
            let group = state.lookup("label_group").and_then(|v| v.as_str().map(str::to_owned));
            group
                .and_then(|g| labels.get(&format!("{g}.{key}"), lang))
                .or_else(|| labels.get(&format!("common.complaint.{key}"), lang))
                .map(str::to_string)
                .ok_or_else(|| Error::new(ErrorKind::UndefinedError, format!("no complaint label `{key}`")))
        });
        env.add_filter("when", |state: &State, value: String| -> String {
            let lang = reader_language(state);
            labelled_instant(value, lang)
        });
        env.add_filter("status", |state: &State, value: String| -> Result<String, Error> {
            let lang = reader_language(state);
            Status::parse(&value)
                .map(|s| s.staff_label(lang).to_string())
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("`{value}` is not a complaint status")))
        });
        // A holiday named by the calendar data (zh, en) in the reader's language; the statutory
        // holidays have their traditional-Chinese names, anything else is shown as stored.
        env.add_function("holiday", |state: &State, name_zh: String, name_en: String| -> String {
            let lang = reader_language(state);
            match lang {
                Language::En => name_en,
                Language::Zh => name_zh,
                Language::ZhHant => crate::calendar::law::Holiday::from_name_zh(&name_zh)
                    .map(|h| h.name_zh_hant().to_string())
                    .unwrap_or(name_zh),
            }
        });
        env.add_filter("clock", format_instant);
        env.add_filter("day", format_day);
        Ok(Pages { env, catalogue })
    }

    pub fn render(&self, template: &str, ctx: Value) -> Result<String, ApiError> {
        let t = self.env.get_template(template).map_err(|e| ApiError::internal("page template", e))?;
        t.render(ctx).map_err(|e| {
            // Includes and macros nest their errors: name every level.
            let mut message = format!("{template}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                message.push_str(&format!(" ← {inner}"));
                source = inner.source();
            }
            ApiError::internal("page render", message)
        })
    }

    pub fn text(&self, key: &str, lang: Language) -> Option<&str> {
        self.catalogue.get(key, lang)
    }

    #[cfg(test)]
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }
}

/// `2026-11-25T14:03:00+08:00` → `2026-11-25 14:03` (Beijing time, as stored for views).
/// An RFC 3339 instant → `2026-11-25 14:30` in Beijing time; midnight is shown as 24:00 of the
/// day that ends there (a deadline or an automatic close at the end of a day), not 00:00 of the next.
fn format_instant(value: String) -> String {
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(t) => crate::complaints::notices::local_time_text(t.with_timezone(&chrono::Utc)),
        Err(_) => value,
    }
}

/// `format_instant` with the time zone named, as every time shown to a person is.
/// The language the page is rendered in (`lang`, which every page's context sets).
fn reader_language(state: &State) -> Language {
    state.lookup("lang").and_then(|v| v.as_str().and_then(Language::parse)).unwrap_or(Language::Zh)
}

fn labelled_instant(value: String, lang: Language) -> String {
    if chrono::DateTime::parse_from_rfc3339(&value).is_err() {
        return value;
    }
    match lang {
        Language::Zh => format!("{}（北京时间）", format_instant(value)),
        Language::ZhHant => format!("{}（北京時間）", format_instant(value)),
        Language::En => format!("{} (Beijing time)", format_instant(value)),
    }
}

/// An RFC 3339 instant or a date → `2026-11-25`.
fn format_day(value: String) -> String {
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(t) => t.with_timezone(&crate::calendar::shanghai()).format("%Y-%m-%d").to_string(),
        Err(_) => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_filter_speaks_the_staff_words_in_the_pages_language() {
        let mut env = Pages::load().unwrap().env;
        env.add_template("probe", "{{ s | status }}/{{ w | status }}").unwrap();
        let probe = env.get_template("probe").unwrap();
        let out = probe.render(minijinja::context! { lang => "en", s => Status::AwaitingInvestor, w => "closed" });
        assert_eq!(out.unwrap(), "Awaiting investor/Closed");
        let zh = probe.render(minijinja::context! { lang => "zh", s => Status::Assigned, w => "rejected" }).unwrap();
        assert_eq!(zh, "办理中/不予受理");
        assert!(probe.render(minijinja::context! { lang => "en", s => "lost", w => "closed" }).is_err());
    }
}
