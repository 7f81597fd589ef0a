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
use crate::complaints::model::Language;

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
/// optional element id and its language) and the way back to the round.
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
    /// The line's HTML language tag.
    pub lang: &'static str,
    pub text: String,
}

fn render(template: &str, ctx: Value) -> BallotResult<String> {
    PRINTABLE
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|e| super::error::BallotError::internal("printable page", format!("{template}: {e}")))
}

/// What a paper letter says around the voter's name, code and departments, in the voter's
/// language. `closes` holds `{closes}`, the Beijing-time deadline.
#[derive(Serialize)]
struct LetterText {
    heading: &'static str,
    to: &'static str,
    your_code: &'static str,
    rate: &'static str,
    vote_at: &'static str,
    closes: &'static str,
    care: &'static str,
    /// Between department names.
    separator: &'static str,
}

fn letter_text(language: Language) -> LetterText {
    match language {
        Language::Zh => LetterText {
            heading: "无记名行风评议投票",
            to: "致：",
            your_code: "您的一次性投票码：",
            rate: "请评议以下部门：",
            vote_at: "投票地址：",
            closes: "投票截止时间：北京时间 {closes}",
            care: "投票码只能使用一次。系统不保存投票码与姓名的对应关系；投票截止后，系统保存的数据不能把选票与您联系起来。请妥善保管本函，不要交给他人。",
            separator: "、",
        },
        Language::ZhHant => LetterText {
            heading: "無記名行風評議投票",
            to: "致：",
            your_code: "您的一次性投票碼：",
            rate: "請評議以下部門：",
            vote_at: "投票網址：",
            closes: "投票截止時間：北京時間 {closes}",
            care: "投票碼只能使用一次。系統不儲存投票碼與姓名的對應關係；投票截止後，系統儲存的資料不能把選票與您聯繫起來。請妥善保管本函，不要交給他人。",
            separator: "、",
        },
        Language::En => LetterText {
            heading: "Anonymous conduct evaluation",
            to: "To:",
            your_code: "Your one-time voting code:",
            rate: "Please rate these departments:",
            vote_at: "Vote at:",
            closes: "Voting closes: {closes} Beijing time (UTC+8)",
            care: "The code works once. anshang keeps no record of which code went to whom; once voting has closed, nothing it keeps links your ballot to you. Keep this letter to yourself.",
            separator: "; ",
        },
    }
}

/// The letters of a round titled `round_title`, each in its voter's language, with the console's
/// screen-only note ("print now, shown once" and its way back) in the officer's language
/// (`lang`: an HTML language tag); the command line's file has no note.
pub fn letters(lang: &str, round_title: &str, letters: &[Letter], note: Option<&ScreenNote>) -> BallotResult<String> {
    let letters: Vec<Value> = letters
        .iter()
        .map(|l| {
            let text = letter_text(l.language);
            let names: Vec<&str> = l.departments.iter().map(|d| d.name_in(l.language)).collect();
            context! {
                lang => l.language.html_tag(),
                round_title => super::model::title_in(round_title, l.language),
                t => &text,
                closes => text.closes.replace("{closes}", &l.closes_at),
                name => &l.name,
                code => &l.code,
                departments => names.join(text.separator),
                vote_link => &l.vote_link,
            }
        })
        .collect();
    render(
        "letters.html",
        context! { lang => lang, title => "投票码 Ballot codes", note => note, round_title => round_title, letters => letters },
    )
}

/// The round key's shares, one printed page per trustee, each with how to keep it (`care`, in
/// the officer's language: `lang`, an HTML language tag).
pub fn key_shares(
    lang: &str,
    round_title: &str,
    shares: &[String],
    care: &str,
    note: &ScreenNote,
) -> BallotResult<String> {
    render(
        "key_shares.html",
        context! { lang => lang, title => "密钥份额 Key shares", note => note, round_title => round_title, shares => shares, care => care },
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
            lines: vec![NoteLine { id: Some("letters-notice"), lang: "en", text: "Print <now>".into() }],
            back_href: "/staff/rounds/r1".into(),
            back_text: "Back".into(),
        }
    }

    fn letter(name: &str, language: Language) -> Letter {
        Letter {
            name: name.into(),
            code: "ABCD-EFGH-JKLM".into(),
            departments: vec![crate::ballots::service::RoundDepartment {
                id: "d1".into(),
                name_zh: "市商务局".into(),
                name_en: "Commerce Bureau".into(),
            }],
            language,
            vote_link: "https://anshang.example.cn/vote?round=r1".into(),
            closes_at: "2026-12-20 18:00".into(),
        }
    }

    #[test]
    fn each_letter_speaks_its_voters_language_and_says_where_and_until_when_to_vote() {
        let html = letters(
            "zh-Hans",
            "年度评议 / Annual evaluation",
            &[letter("Anna", Language::En), letter("张三", Language::Zh), letter("陳大文", Language::ZhHant)],
            None,
        )
        .unwrap();
        let sections: Vec<&str> = html.split("<section class=\"letter\"").skip(1).collect();
        assert_eq!(sections.len(), 3);
        let en = sections[0];
        assert!(en.starts_with(" lang=\"en\">") && en.contains("Anonymous conduct evaluation"), "{en}");
        assert!(en.contains("<p>Annual evaluation</p>"), "the title's English half: {en}");
        assert!(en.contains("Please rate these departments: Commerce Bureau") && !en.contains("市商务局"), "{en}");
        // (minijinja escapes '/' too: the browser reads the address as written.)
        assert!(
            en.contains(
                "Vote at: <span class=\"address\">https:&#x2f;&#x2f;anshang.example.cn&#x2f;vote?round=r1</span>"
            ),
            "{en}"
        );
        assert!(en.contains("Voting closes: 2026-12-20 18:00 Beijing time (UTC+8)"), "{en}");
        assert!(!en.contains("投票"), "an English letter has no Chinese text: {en}");
        let zh = sections[1];
        assert!(zh.starts_with(" lang=\"zh-Hans\">") && zh.contains("请评议以下部门： 市商务局"), "{zh}");
        assert!(zh.contains("<p>年度评议</p>"), "the title's Chinese half: {zh}");
        assert!(
            zh.contains("投票截止时间：北京时间 2026-12-20 18:00")
                && zh.contains("anshang.example.cn&#x2f;vote?round=r1")
        );
        assert!(!zh.contains("Commerce Bureau") && !zh.contains("Vote at"), "{zh}");
        let hant = sections[2];
        assert!(
            hant.starts_with(" lang=\"zh-Hant\">")
                && hant.contains("投票網址：")
                && hant.contains("北京時間 2026-12-20 18:00")
        );
    }

    #[test]
    fn each_one_time_page_prints_its_parts_escaped_and_the_note_only_on_screen() {
        let letter = letter("Ann <b>", Language::Zh);
        let html = letters("en", "Round & co", &[letter], Some(&note())).unwrap();
        assert!(html.contains("<p class=\"code\">ABCD-EFGH-JKLM</p>"), "{html}");
        assert!(html.contains("<strong class=\"name\">Ann &lt;b&gt;</strong>") && html.contains("Round &amp; co"));
        assert!(html.contains(
            "<div class=\"screen-only\" id=\"letters-note\"><p id=\"letters-notice\" lang=\"en\">Print &lt;now&gt;</p>"
        ));
        assert!(html.contains("<html lang=\"en\">"), "the page (and its note) in the officer's language");
        assert!(html.contains("@media print{.screen-only{display:none}}"));
        assert!(!letters("zh-Hans", "R", &[], None).unwrap().contains("screen-only\" id"), "no note, no box");

        let shares =
            key_shares("en", "R", &["ANSHANG-KEY-SHARE-1".into(), "ANSHANG-KEY-SHARE-2".into()], "Keep it", &note())
                .unwrap();
        assert_eq!(shares.matches("<section class=\"key-share\">").count(), 2);
        assert!(shares.contains("Ballot key share 2 of 2") && shares.contains(".key{font:bold 11pt monospace"));
        let key = revocation_key("en", "Revocation key", "R", "AGE-SECRET-KEY-1XYZ", "Keep", &note()).unwrap();
        assert!(key.contains("<html lang=\"en\">") && key.contains("id=\"revocation-key\">AGE-SECRET-KEY-1XYZ</p>"));
    }
}
