//! The paper letters as one print-ready HTML document: one A4 page per letter. Pure — the
//! commission console sends it straight to the officer's browser (nothing is written to the
//! server's disk) and `anshang ballots issue-codes --out DIR` writes it where the operator says.

use super::service::Letter;

/// Text escaped for HTML (element content and quoted attributes).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A print-ready A4 document: `sections` (already escaped HTML, one printed page per
/// `<section>`) under an optional screen-only note (`(id, html)`: shown in a box, never
/// printed). The letters, the trustees' key shares and the revocation key all use it.
pub fn printable_page(lang: &str, title: &str, style: &str, note: Option<(&str, &str)>, sections: &str) -> String {
    let note =
        note.map(|(id, html)| format!("<div class=\"screen-only\" id=\"{id}\">{html}</div>")).unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
<style>@page{{size:A4;margin:25mm}}body{{font-family:sans-serif}}section{{page-break-after:always}}{style}\
.screen-only{{border:2px solid #b03a2e;padding:4mm;margin-bottom:8mm}}@media print{{.screen-only{{display:none}}}}</style></head><body>\
{note}{sections}</body></html>",
        title = esc(title),
    )
}

/// The letters of a round titled `title`, with the console's screen-only note ("print now,
/// shown once" and its way back).
pub fn html(title: &str, letters: &[Letter], screen_note: Option<&str>) -> String {
    let mut sections = String::new();
    for l in letters {
        let names: Vec<String> = l.departments.iter().map(|d| format!("{} ({})", d.name_zh, d.name_en)).collect();
        sections.push_str(&format!(
            "<section class=\"letter\"><h1>无记名行风评议投票 / Anonymous conduct evaluation</h1><p>{}</p><p>致 To: <strong class=\"name\">{}</strong></p>\
             <p>您的一次性投票码 Your one-time code:</p><p class=\"code\">{}</p><p>请评议 Please rate: {}</p>\
             <p>投票码只能使用一次。系统不保存投票码与姓名的对应关系；投票截止后，系统保存的数据不能把选票与您联系起来。请妥善保管本函。The code works once. anshang keeps no record of which code went to whom; once voting has closed, nothing it keeps links your ballot to you. Keep this letter to yourself.</p></section>",
            esc(title),
            esc(&l.name),
            esc(&l.code),
            esc(&names.join("、"))
        ));
    }
    printable_page(
        "zh-CN",
        "投票码 Ballot codes",
        ".code{font:bold 20pt monospace;letter-spacing:.15em;border:1px solid #000;padding:6mm;display:inline-block}",
        screen_note.map(|note| ("letters-note", note)),
        &sections,
    )
}
