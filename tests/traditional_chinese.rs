//! Investors from Hong Kong, Macao and Taiwan read traditional Chinese (zh-Hant): an investor who
//! files in it gets the receipt, the reply notice and the tracking page in it; the browser's
//! `Accept-Language` chooses it on the public pages; the staff pages stay zh/en.

mod common;

use anshang::complaints::model::ReplyOutcome;
use anshang::complaints::service;
use common::smtp::ReceivedMail;
use common::world::World;

/// Characters only simplified Chinese writes: none may reach a traditional-Chinese reader.
const SIMPLIFIED_ONLY: &str = "这们个时间问题务门关开发号码询进单认证请详与为义从东长书写车论应处选将来说语过还对会网页电话邮让则条区级传办报审纪";

fn simplified_in(text: &str) -> String {
    text.chars().filter(|c| SIMPLIFIED_ONLY.contains(*c)).collect()
}

fn only_mail_to<'a>(got: &'a [ReceivedMail], address: &str, what: &str) -> &'a ReceivedMail {
    let to: Vec<&ReceivedMail> = got.iter().filter(|m| m.to.iter().any(|t| t == address)).collect();
    assert_eq!(to.len(), 1, "{what}: one email to the investor, got {got:?}");
    to[0]
}

fn assert_traditional(mail: &ReceivedMail, words: &[&str], what: &str) {
    let subject = mail.subject().unwrap_or_default();
    let text = mail.text_body().unwrap_or_default();
    let html = mail.html_body().unwrap_or_default();
    for part in [&subject, &text, &html] {
        assert!(simplified_in(part).is_empty(), "{what}: simplified {:?} in {part}", simplified_in(part));
    }
    for word in words {
        assert!(text.contains(word) && html.contains(word), "{what}: {word:?} missing in\n{text}");
    }
    assert!(html.contains("<html lang=\"zh-Hant\">"), "{what}: {html}");
}

#[test]
fn an_investor_who_files_in_traditional_chinese_reads_the_receipt_the_reply_notice_and_the_tracking_page_in_it() {
    let w = World::new();
    let investor = "anna.mueller@example.de";
    let (id, number, code) = w.file_with_code("2026-09-30T10:00:00+08:00", "zh-Hant");
    assert_eq!(w.complaint(&id)["language"], "zh-Hant");

    let (_, got) = w.step("2026-09-30T10:05:00+08:00");
    let receipt = only_mail_to(&got, investor, "receipt");
    assert!(receipt.subject().unwrap().contains(&number));
    assert_traditional(receipt, &["查詢碼", "工作日"], "receipt");

    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    let page = w.tracking_page(&number, &code, "zh-Hant");
    assert!(page.contains("<html lang=\"zh-Hant\">"), "{page}");
    assert!(page.contains("承辦部門辦理中"), "the status in traditional Chinese: {page}");
    assert!(page.contains("目前狀態") && page.contains("北京時間"), "{page}");

    w.act("2026-10-09T10:00:00+08:00", |c, x| {
        service::reply(c, x, &id, &World::department(&w.land), "已核准。", ReplyOutcome::Resolved)
    });
    let (_, got) = w.step("2026-10-09T10:05:00+08:00");
    let reply = only_mail_to(&got, investor, "reply notice");
    assert_traditional(reply, &["答覆"], "reply notice");

    let page = w.tracking_page(&number, &code, "zh-Hant");
    assert!(page.contains("已答覆") && page.contains("已核准。"), "{page}");
    // The page's own words hold no simplified character. What people wrote is shown as written:
    // the reply, and the department's name as the office recorded it.
    let department = w.complaint(&id)["department"]["name_zh"].as_str().unwrap().to_string();
    let body = page.split("<main").nth(1).unwrap_or(&page);
    let lines: Vec<&str> = body.lines().filter(|l| !l.contains(&department) && !simplified_in(l).is_empty()).collect();
    assert!(lines.is_empty(), "simplified characters on the tracking page: {lines:#?}");
}

#[test]
fn the_browser_language_chooses_traditional_chinese_on_public_pages_and_staff_pages_stay_zh() {
    let app = common::spawn_app();
    for tag in ["zh-TW", "zh-HK,zh;q=0.9,en;q=0.5", "zh-MO", "zh-Hant"] {
        let form = app.request("GET", "/", None, &[("Accept-Language", tag)], None);
        assert_eq!(form.status, 200);
        assert!(form.body.contains("<html lang=\"zh-Hant\">"), "{tag}");
        assert!(form.body.contains("外商投資企業投訴"), "{tag}: {}", form.body);
        assert!(form.body.contains("<option value=\"zh-Hant\" selected>"), "{tag}: the notice language follows");
    }
    let simplified = app.request("GET", "/", None, &[("Accept-Language", "zh-CN")], None);
    assert!(simplified.body.contains("<html lang=\"zh-Hans\">") && simplified.body.contains("外商投资企业投诉"));
    // Each public page links the other two languages, each named in itself.
    assert!(simplified.body.contains("hreflang=\"zh-Hant\">繁體中文</a>"), "{}", simplified.body);
    assert!(simplified.body.contains("hreflang=\"en\">English</a>"));
    let vote = app.request("GET", "/vote?lang=zh-Hant", None, &[], None);
    assert!(vote.body.contains("<html lang=\"zh-Hant\">"), "{}", vote.body);

    // The staff pages are zh/en: a traditional-Chinese reader gets zh, and no zh-Hant link.
    let signin = app.request("GET", "/staff/login", None, &[("Accept-Language", "zh-TW")], None);
    assert_eq!(signin.status, 200, "{}", signin.body);
    assert!(signin.body.contains("<html lang=\"zh-Hans\">"), "{}", signin.body);
    assert!(!signin.body.contains("繁體中文"), "{}", signin.body);
}

#[test]
fn the_api_takes_zh_hant_as_the_notice_language_and_nothing_like_it() {
    let app = common::spawn_app();
    for (language, status) in [("zh-Hant", 201), ("zh-hant", 422), ("zh-TW", 422)] {
        let r = app.post("/api/v1/complaints", None, &common::complaint_json(language));
        assert_eq!(r.status, status, "{language}: {}", r.body);
    }
}
