//! The one-time print-ready pages of a ballot round — the voters' paper letters, the trustees'
//! key shares, the revocation key — as minijinja templates under `templates/` (escaped by the
//! engine, one A4 page per `<section>`). Pure: the commission console sends them straight to
//! the officer's browser (nothing is written to the server's disk) and `anshang ballots
//! issue-codes --out DIR` writes the letters where the operator says.

use std::sync::LazyLock;

use minijinja::{context, AutoEscape, Environment, Value};
use serde::Serialize;

use super::error::BallotResult;
use super::service::Letter;

static PRINTABLE: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    for (name, source) in [
        ("printable.html", include_str!("templates/printable.html")),
        ("letters.html", include_str!("templates/letters.html")),
        ("key_shares.html", include_str!("templates/key_shares.html")),
        ("revocation_key.html", include_str!("templates/revocation_key.html")),
        ("key_style.css", include_str!("templates/key_style.css")),
    ] {
        // Shipped templates: the unit tests render each, so a broken one fails the tests.
        env.add_template(name, source).expect("a shipped printable template parses");
    }
    env
});

/// What the screen shows above a one-time page and never prints: lines of text (each with an
/// optional element id) and the way back to the round.
#[derive(Serialize, Debug)]
pub struct ScreenNote {
    pub id: &'static str,
    pub lines: Vec<NoteLine>,
    pub back_href: String,
    pub back_text: String,
}

#[derive(Serialize, Debug)]
pub struct NoteLine {
    pub id: Option<&'static str>,
    pub text: String,
}

fn render(template: &str, ctx: Value) -> BallotResult<String> {
    PRINTABLE
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|e| super::error::BallotError::internal("printable page", format!("{template}: {e}")))
}

/// The letters of a round titled `round_title`, with the console's screen-only note ("print
/// now, shown once" and its way back); the command line's file has none.
pub fn letters(round_title: &str, letters: &[Letter], note: Option<&ScreenNote>) -> BallotResult<String> {
    let letters: Vec<Value> = letters
        .iter()
        .map(|l| {
            let names: Vec<String> = l.departments.iter().map(|d| format!("{} ({})", d.name_zh, d.name_en)).collect();
            context! { name => &l.name, code => &l.code, departments => names.join("、") }
        })
        .collect();
    render(
        "letters.html",
        context! { lang => "zh-CN", title => "投票码 Ballot codes", note => note, round_title => round_title, letters => letters },
    )
}

/// The round key's shares, one printed page per trustee, each with how to keep it (`care`).
pub fn key_shares(round_title: &str, shares: &[String], care: &str, note: &ScreenNote) -> BallotResult<String> {
    render(
        "key_shares.html",
        context! { lang => "zh-CN", title => "密钥份额 Key shares", note => note, round_title => round_title, shares => shares, care => care },
    )
}

/// The round's revocation key on one printed page, in the officer's language (`lang`: an HTML
/// language tag).
pub fn revocation_key(
    lang: &str,
    title: &str,
    round_title: &str,
    key: &str,
    care: &str,
    note: &ScreenNote,
) -> BallotResult<String> {
    render(
        "revocation_key.html",
        context! { lang => lang, title => title, note => note, round_title => round_title, key => key, care => care },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> ScreenNote {
        ScreenNote {
            id: "letters-note",
            lines: vec![NoteLine { id: Some("letters-notice"), text: "Print <now>".into() }],
            back_href: "/staff/rounds/r1".into(),
            back_text: "Back".into(),
        }
    }

    #[test]
    fn each_one_time_page_prints_its_parts_escaped_and_the_note_only_on_screen() {
        let letter = Letter { name: "Ann <b>".into(), code: "ABCD-EFGH-JKLM".into(), departments: vec![] };
        let html = letters("Round & co", &[letter], Some(&note())).unwrap();
        assert!(html.contains("<p class=\"code\">ABCD-EFGH-JKLM</p>"), "{html}");
        assert!(html.contains("<strong class=\"name\">Ann &lt;b&gt;</strong>") && html.contains("Round &amp; co"));
        assert!(html
            .contains("<div class=\"screen-only\" id=\"letters-note\"><p id=\"letters-notice\">Print &lt;now&gt;</p>"));
        assert!(html.contains("@media print{.screen-only{display:none}}"));
        assert!(!letters("R", &[], None).unwrap().contains("screen-only\" id"), "no note, no box");

        let shares =
            key_shares("R", &["ANSHANG-KEY-SHARE-1".into(), "ANSHANG-KEY-SHARE-2".into()], "Keep it", &note()).unwrap();
        assert_eq!(shares.matches("<section class=\"key-share\">").count(), 2);
        assert!(shares.contains("Ballot key share 2 of 2") && shares.contains(".key{font:bold 11pt monospace"));
        let key = revocation_key("en", "Revocation key", "R", "AGE-SECRET-KEY-1XYZ", "Keep", &note()).unwrap();
        assert!(key.contains("<html lang=\"en\">") && key.contains("id=\"revocation-key\">AGE-SECRET-KEY-1XYZ</p>"));
    }
}
