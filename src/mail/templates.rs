//! Email templates: subject, text and HTML per notice and language, in files the city can
//! edit (`config/mail/<notice>/<lang>.{subject.txt,txt,html}`). The shipped ones are compiled in;
//! files in `mail.template_dir` replace them. HTML is rendered with escaping; variables a
//! template names but is not given are an error, never a blank.

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::complaints::model::Language;

// `NOTICES` and `SHIPPED`, made by build.rs from the folders of config/mail/.
include!(concat!(env!("OUT_DIR"), "/shipped_mail.rs"));

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("email template {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot read email template {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

impl Templates {
    /// The shipped templates, each replaced by `<dir>/<notice>/<lang>.<part>` where that exists.
    /// Every template is parsed here, so a broken edit stops the start instead of a send.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        env.set_keep_trailing_newline(false);
        for (name, shipped) in SHIPPED {
            let path = dir.join(name);
            let source = if path.is_file() {
                std::fs::read_to_string(&path)
                    .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?
            } else {
                (*shipped).to_string()
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| TemplateError::Invalid { name: name.to_string(), message: e.to_string() })?;
        }
        Ok(Templates { env })
    }

    pub fn render<V: Serialize>(&self, notice: &str, lang: Language, vars: &V) -> Result<Rendered, TemplateError> {
        let part = |ext: &str| -> Result<String, TemplateError> {
            let name = format!("{notice}/{}.{ext}", lang.as_str());
            let t = self
                .env
                .get_template(&name)
                .map_err(|e| TemplateError::Invalid { name: name.clone(), message: e.to_string() })?;
            t.render(vars).map_err(|e| TemplateError::Invalid { name, message: format!("{e:#}") })
        };
        let subject =
            part("subject.txt")?.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        Ok(Rendered { subject, text: part("txt")?, html: part("html")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> serde_json::Value {
        serde_json::json!({
            "tracking_number": "CZ-2026-000042",
            "subject": "Permit <script>alert(1)</script> & delay",
            "company": "Müller & Söhne <GmbH>",
            "department_name": "市国土资源局",
            "held_by": "市国土资源局",
            "received_date": "2026-11-25",
            "due_date": "2026-12-04",
            "due_at": "2026-12-04 24:00",
            "working_days": 7,
            "working_days_left": 2,
            "working_days_overdue": 3,
            "link": "http://127.0.0.1:8080/staff/complaints/x",
            "tracking_link": "http://127.0.0.1:8080/track?number=CZ-2026-000042",
            "question": "Please send <b>the notice</b>",
            "contest_window_working_days": 15,
            "name": "Hunan <Parts> Co.",
            "round_title": "2026 conduct evaluation CZ-2026-000042",
            "code": "ABCD-EFGH-JKMN-PQRS-T",
            "departments": ["市国土资源局 (Land)", "<script>"],
            "closes_at": "2026-12-20 17:00",
            "vote_link": "http://127.0.0.1:8080/vote?round=r",
            "investor_name": "Anna <Müller>",
            "extension_working_days": 3,
            "investor_note": "We need <b>a site visit</b>",
            "contest_until": "2026-12-18 24:00",
            "reason": "Not ours <script>",
            "from_department": "市水利局",
            "to_department": "市国土资源局",
            "previous_due_at": "2027-01-05 24:00",
            "calendar_year": "2027",
            "reset_link": "http://127.0.0.1:8080/track/reset?token=ab&lang=en",
            "link_hours": 24,
        })
    }

    #[test]
    fn every_notice_renders_in_both_languages_with_escaping() {
        let t = Templates::load(Path::new("/nonexistent")).unwrap();
        for notice in NOTICES {
            for lang in [Language::Zh, Language::En] {
                let r = t.render(notice, lang, &vars()).unwrap_or_else(|e| panic!("{notice} {lang:?}: {e}"));
                assert!(r.subject.contains("CZ-2026-000042"), "{notice} {lang:?} subject: {}", r.subject);
                assert!(!r.subject.contains('\n'));
                assert!(r.text.contains("CZ-2026-000042") && r.html.contains("CZ-2026-000042"));
                assert!(
                    !r.html.contains("<script>") && !r.html.contains("<b>the notice") && !r.html.contains("<b>a site"),
                    "{notice} {lang:?}: HTML must escape user text"
                );
                assert!(r.html.contains(if lang == Language::Zh { "lang=\"zh" } else { "lang=\"en" }));
            }
        }
    }

    /// Characters only simplified Chinese writes: none may be left in a traditional template.
    const SIMPLIFIED_ONLY: &str = "这们个时间问题务门关开发号码询进单认证请详与为义从东长书写车论应处选将来说语过还对会网页电话邮让则条区级传办报审纪";

    #[test]
    fn every_investor_and_voter_notice_renders_in_traditional_chinese() {
        let t = Templates::load(Path::new("/nonexistent")).unwrap();
        let readers: Vec<&str> =
            crate::complaints::notices::INVESTOR_NOTICES.iter().copied().chain(["ballot_code"]).collect();
        for notice in readers {
            let r = t
                .render(notice, Language::ZhHant, &vars())
                .unwrap_or_else(|e| panic!("{notice} has no traditional-Chinese template: {e}"));
            assert!(r.html.contains("lang=\"zh-Hant\"") && r.html.contains("PingFang TC"), "{notice}");
            assert!(!r.html.contains("<script>") && !r.html.contains("<b>a site"), "{notice}: HTML must escape");
            for part in [&r.subject, &r.text, &r.html] {
                let left: String = part.chars().filter(|c| SIMPLIFIED_ONLY.contains(*c)).collect();
                assert!(left.is_empty(), "{notice}: simplified characters {left:?} in {part}");
            }
            let zh = t.render(notice, Language::Zh, &vars()).unwrap();
            assert_ne!(r.text, zh.text, "{notice}: the zh-Hant text is its own");
            assert_eq!(r.subject.contains("CZ-2026-000042"), zh.subject.contains("CZ-2026-000042"), "{notice}");
        }
        // Department notices stay zh/en: asking for zh-Hant is an error that names the template.
        let err = t.render("overdue", Language::ZhHant, &vars()).unwrap_err().to_string();
        assert!(err.contains("overdue/zh-Hant"), "{err}");
    }

    #[test]
    fn every_html_part_extends_the_one_layout_and_an_edited_layout_or_whole_page_replaces_it() {
        for (name, source) in SHIPPED.iter().filter(|(n, _)| n.ends_with(".html") && *n != "layout.html") {
            assert!(source.starts_with("{% extends \"layout.html\" %}"), "{name} extends the layout");
            assert!(!source.contains("<html") && !source.contains("<body"), "{name} holds only its content");
        }
        let dir = tempfile::tempdir().unwrap();
        let shipped = SHIPPED.iter().find(|(n, _)| *n == "layout.html").unwrap().1;
        let edited = shipped.replace("background-color:#f3f4f6;", "background-color:#fafafa;");
        std::fs::write(dir.path().join("layout.html"), edited).unwrap();
        let t = Templates::load(dir.path()).unwrap();
        for notice in NOTICES {
            let html = t.render(notice, Language::Zh, &vars()).unwrap().html;
            assert!(html.contains("background-color:#fafafa;") && html.contains("lang=\"zh-Hans\""), "{notice}");
        }
        // A notice written as a whole page, as before the layout, still replaces the shipped one.
        std::fs::create_dir_all(dir.path().join("closed")).unwrap();
        let page = "<!DOCTYPE html>\n<html lang=\"en\"><body><p>Closed: {{ tracking_number }}</p></body></html>";
        std::fs::write(dir.path().join("closed/en.html"), page).unwrap();
        let html = Templates::load(dir.path()).unwrap().render("closed", Language::En, &vars()).unwrap().html;
        assert_eq!(html, page.replace("{{ tracking_number }}", "CZ-2026-000042"));
    }

    #[test]
    fn an_edited_template_replaces_the_shipped_one_and_a_broken_one_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("closed")).unwrap();
        std::fs::write(dir.path().join("closed/en.subject.txt"), "Closed: {{ tracking_number }} (edited)").unwrap();
        let t = Templates::load(dir.path()).unwrap();
        assert_eq!(t.render("closed", Language::En, &vars()).unwrap().subject, "Closed: CZ-2026-000042 (edited)");
        std::fs::write(dir.path().join("closed/en.subject.txt"), "{{ tracking_number ").unwrap();
        assert!(Templates::load(dir.path()).err().unwrap().to_string().contains("closed/en.subject.txt"));
        // A variable the code does not provide is an error, never a blank.
        std::fs::write(dir.path().join("closed/en.subject.txt"), "{{ no_such_variable }}").unwrap();
        assert!(Templates::load(dir.path()).unwrap().render("closed", Language::En, &vars()).is_err());
    }
}
