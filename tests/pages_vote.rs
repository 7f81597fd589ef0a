//! The ballot page in a real browser (headless Chromium): a voter pastes a lower-case code,
//! fills the ballot, reviews and changes it, submits and sees the receipt once; a spent code is
//! refused in the reader's language; the published results show suppressed groups as such and
//! the bulletin's receipts and digest. Screenshots of every page in both languages, 390 px
//! layouts without sideways scrolling; and over plain HTTP, that the code never reaches a URL,
//! posts from elsewhere are refused and the per-client limit applies to the page too.

mod common;

use common::browser::Browser;
use common::{spawn_app_with, TestApp};
use serde_json::json;
use sha2::{Digest, Sha256};

const QUESTIONS: usize = 4;

struct Ballot {
    id: String,
    commission: String,
    /// The round key's shares, as the trustees keep them.
    key_shares: serde_json::Value,
    /// Paper codes by voter, in the roll's name order: voters 1 and 2 rate both departments,
    /// voters 3–5 only the first (so the second has too few ballots to show).
    codes: Vec<String>,
    /// (code, id) of the two departments: `vta` rated by five voters, `vtb` by two.
    departments: Vec<(String, String)>,
}

/// An open round over two departments with five paper voters and their codes, through the API.
fn open_round(app: &TestApp) -> Ballot {
    let admin = app.admin_token();
    let commission = app.staff_token(&admin, "commission", None);
    let departments: Vec<(String, String)> =
        ["vta", "vtb"].iter().map(|c| (c.to_string(), app.create_department(&admin, c))).collect();
    let id = app.create_ballot_round(&commission, &departments.iter().map(|d| d.1.clone()).collect::<Vec<_>>(), 3);
    let roll = "name,category,contact,departments\n\
        Voter 1,enterprise_served,paper,vta;vtb\n\
        Voter 2,enterprise_served,paper,vta;vtb\n\
        Voter 3,enterprise_served,paper,vta\n\
        Voter 4,enterprise_served,paper,vta\n\
        Voter 5,enterprise_served,paper,vta\n";
    let r = app.request(
        "POST",
        &format!("/api/v1/ballots/rounds/{id}/voters"),
        Some(&commission),
        &[],
        Some(("text/csv", roll.as_bytes().to_vec())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let issued = app.post(&format!("/api/v1/ballots/rounds/{id}/issue-codes"), Some(&commission), &json!({}));
    assert_eq!(issued.status, 200, "{}", issued.body);
    let codes: Vec<String> =
        issued.json()["letters"].as_array().unwrap().iter().map(|l| l["code"].as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 5);
    let r = app.post(&format!("/api/v1/ballots/rounds/{id}/open"), Some(&commission), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let key_shares = r.json()["key_shares"].clone();
    Ballot { id, commission, key_shares, codes, departments }
}

fn no_sideways_scroll(b: &Browser, what: &str) {
    b.set_width(common::browser::PHONE_WIDTH);
    assert!(!b.overflows_horizontally(), "{what} scrolls sideways at 390 px");
    b.reset_width();
}

/// Answers every question of `departments` departments with `answer`.
fn answer_all(b: &Browser, departments: usize, answer: &str) {
    for d in 0..departments {
        for q in 0..QUESTIONS {
            b.click(&format!("#q-{d}-{q}-{answer}"));
        }
    }
}

fn checked(b: &Browser, id: &str) -> bool {
    b.script(&format!("return document.getElementById('{id}').checked;")).as_bool().unwrap_or(false)
}

fn href(b: &Browser) -> String {
    b.script("return location.href;").as_str().unwrap_or_default().to_string()
}

#[test]
fn a_voter_pastes_a_lower_case_code_reviews_changes_and_keeps_the_receipt_and_anyone_reads_the_results() {
    let app = spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let round = open_round(&app);
    let b = Browser::start();

    // The start page in English: the open round, its English title, the code field.
    b.goto(&app.url("/vote?lang=en"));
    assert_eq!(b.text("h1"), "Conduct ballot");
    assert!(b.text("#open-rounds").contains("2026 conduct evaluation"), "{}", b.text("#open-rounds"));
    assert!(!b.text("#open-rounds").contains("年度"), "the English page shows the English half of the title");
    b.screenshots("vote-code-en");
    no_sideways_scroll(&b, "the start page");

    // A typing mistake is named as such, in English, before the database is asked.
    let code = round.codes[0].clone();
    let mut typo: Vec<char> = code.chars().collect();
    typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
    b.type_into("#f-code", &typo.into_iter().collect::<String>());
    b.click("form[action='/vote/ballot'] button[type=submit]");
    assert!(b.text("#error-summary").contains("not well formed"), "{}", b.text("#error-summary"));
    assert_eq!(b.text("#e-code"), "This code is not well formed; check it.");
    b.screenshots("vote-code-error-en");

    // Typed in lower case without dashes, the page groups it as it is printed.
    b.type_into("#f-code", &code.to_lowercase().replace('-', ""));
    assert_eq!(b.value("#f-code"), code);
    // Pasted in lower case with spaces, and without the script's help: the server reads it.
    let pasted = code.to_lowercase().replace('-', " ");
    b.script(&format!("document.getElementById('f-code').value = '{pasted}';"));
    b.click("form[action='/vote/ballot'] button[type=submit]");
    b.wait_for_text("h1", "Your ballot");
    assert_eq!(b.path(), "/vote/ballot");
    assert_eq!(b.count("fieldset.department"), 2);
    assert_eq!(b.count("fieldset.question"), 2 * QUESTIONS);
    assert!(b.body_text().contains("Not enough contact"));
    assert!(!href(&b).to_lowercase().contains(&code.to_lowercase()[..4]), "the code is in the URL: {}", href(&b));
    b.screenshots("vote-ballot-en");
    no_sideways_scroll(&b, "the ballot");

    // One question left out (the browser's own check switched off): the server marks it and
    // keeps the other choices.
    b.script("document.querySelector('form.ballot').noValidate = true;");
    answer_all(&b, 2, "dissatisfied");
    b.script("document.getElementById('q-1-3-dissatisfied').checked = false;");
    b.click("form.ballot button[type=submit]");
    b.find("#error-summary");
    assert!(b.text("#error-summary").contains("not answered yet"), "{}", b.text("#error-summary"));
    assert!(b.text("#e-q-1-3").contains("not answered"));
    assert!(checked(&b, "q-0-0-dissatisfied"), "earlier choices are kept");
    b.screenshots("vote-ballot-error-en");
    // The ballot was shown in answer to a post: its language switch posts it again, the choices
    // kept, nothing cast.
    b.click("button.lang[data-lang='zh']");
    b.wait_for_text("h1", "填写评议");
    assert!(checked(&b, "q-0-0-dissatisfied") && b.body_text().contains("廉洁自律"), "the choices are kept");
    assert!(!href(&b).to_lowercase().contains(&code.to_lowercase()[..4]), "the code stays out of the URL");
    b.click("button.lang[data-lang='en']");
    b.wait_for_text("h1", "Your ballot");
    assert!(checked(&b, "q-0-0-dissatisfied"));

    // The review, "change" back to the ballot with the choices kept, and the review again.
    b.click("#q-1-3-not_enough_contact");
    b.click("form.ballot button[type=submit]");
    b.wait_for_text("h1", "Review your ballot");
    assert!(b.body_text().contains("Dissatisfied") && b.body_text().contains("Not enough contact"));
    b.screenshots("vote-review-en");
    no_sideways_scroll(&b, "the review");
    // The review in the other language and back: still to be submitted.
    b.click("button.lang[data-lang='zh']");
    b.wait_for_text("h1", "核对您的评议");
    assert!(b.body_text().contains("不了解"), "{}", b.body_text());
    b.click("button.lang[data-lang='en']");
    b.wait_for_text("h1", "Review your ballot");
    b.click("#change-ballot");
    b.wait_for_text("h1", "Your ballot");
    assert!(checked(&b, "q-0-0-dissatisfied") && checked(&b, "q-1-3-not_enough_contact"), "the choices came back");
    b.click("#q-0-0-satisfied");
    b.click("form.ballot button[type=submit]");
    b.wait_for_text("h1", "Review your ballot");
    assert_eq!(b.count(".answer-satisfied"), 1);

    // Submitted: the receipt, once, with what it does and does not prove.
    b.click("#submit-ballot");
    b.wait_for_text("h1", "Your ballot is in");
    let receipt_en = b.text("#receipt");
    assert_eq!(receipt_en.len(), 23, "{receipt_en}");
    let body = b.body_text();
    assert!(body.contains("proves nothing about how you voted"), "{body}");
    assert!(body.contains("listed on the public bulletin"), "{body}");
    assert!(!href(&b).contains('?'), "{}", href(&b));
    b.screenshots("vote-receipt-en");
    no_sideways_scroll(&b, "the receipt");
    // The receipt in Chinese and back: the receipt again, the choices neither sent nor shown.
    b.switch_language("zh");
    assert_eq!(b.text("h1"), "评议已提交");
    assert_eq!(b.text("#receipt"), receipt_en);
    assert!(b.text("#choices-not-again").contains("不会再次发送"), "{}", b.body_text());
    assert_eq!(b.count(".review dd"), 0);
    b.switch_language("en");
    assert_eq!(b.text("#receipt"), receipt_en);
    // A receipt that is not the round's is not shown.
    let forged = common::form_body(&[("round", round.id.as_str()), ("receipt", "R-0000-0000-0000-0000-00")]);
    let r =
        app.request("POST", "/vote/receipt?lang=en", None, &[], Some(("application/x-www-form-urlencoded", forged)));
    assert_eq!(r.status, 404, "{}", r.body);

    // The same code again is refused, in the reader's language.
    b.goto(&app.url("/vote?lang=zh"));
    assert_eq!(b.text("h1"), "行风评议投票");
    assert!(b.text("#open-rounds").contains("2026 年度招商引资行风评议"));
    b.screenshots("vote-code-zh");
    b.type_into("#f-code", &code);
    b.click("form[action='/vote/ballot'] button[type=submit]");
    b.find("#error-summary");
    assert!(b.text("#error-summary").contains("此评议码不能在本轮使用"), "{}", b.text("#error-summary"));
    b.screenshots("vote-refused-zh");
    // The refusal in English: the switch asks again and is told the same, in English.
    b.switch_language("en");
    assert_eq!(b.text("h1"), "Conduct ballot");
    assert!(b.text("#error-summary").contains("This code cannot vote in this round"), "{}", b.text("#error-summary"));
    b.goto(&app.url("/vote?lang=zh"));
    no_sideways_scroll(&b, "the refusal");

    // A second voter, in Chinese, through every step.
    b.type_into("#f-code", &round.codes[1].to_lowercase());
    b.click("form[action='/vote/ballot'] button[type=submit]");
    b.wait_for_text("h1", "填写评议");
    assert!(b.body_text().contains("部门vta") && b.body_text().contains("廉洁自律"));
    b.screenshots("vote-ballot-zh");
    answer_all(&b, 2, "basically_satisfied");
    b.click("form.ballot button[type=submit]");
    b.wait_for_text("h1", "核对您的评议");
    b.screenshots("vote-review-zh");
    b.click("#submit-ballot");
    b.wait_for_text("h1", "评议已提交");
    assert!(b.body_text().contains("不能证明您是怎样投票的"));
    b.screenshots("vote-receipt-zh");

    // Three more ballots through the API, then close and publish.
    let (dept_a, dept_b) = (&round.departments[0].1, &round.departments[1].1);
    for code in &round.codes[2..] {
        let answers = json!({"overall": "satisfied", "efficiency": "satisfied", "attitude": "dissatisfied", "integrity": "satisfied"});
        let r = app.post(
            &format!("/api/v1/ballots/{}/cast", round.id),
            None,
            &json!({"code": code, "ratings": [{"department_id": dept_a, "answers": answers}]}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Not published yet: no results page.
    b.goto(&app.url(&format!("/vote/{}/results", round.id)));
    assert_eq!(b.text("h1"), "未找到。");
    for (step, body) in
        [("close", json!({})), ("unseal", json!({"key_shares": round.key_shares})), ("publish", json!({}))]
    {
        let r = app.post(&format!("/api/v1/ballots/rounds/{}/{step}", round.id), Some(&round.commission), &body);
        assert_eq!(r.status, 200, "{}", r.body);
    }

    // The results: reached from the ballot page; the small department shows no figures.
    b.goto(&app.url("/vote?lang=en"));
    assert!(b.body_text().contains("No ballot is open"));
    b.screenshots("vote-closed-en");
    b.click("#published-rounds a");
    b.wait_for_path(&format!("/vote/{}/results", round.id));
    assert_eq!(b.text("h1"), "Ballot results");
    assert_eq!(b.text("#codes-issued"), "5");
    assert_eq!(b.text("#codes-used"), "5");
    assert_eq!(b.text("#receipt-count"), "5");
    let results = b.text("#tally");
    assert!(results.contains("Department vta") && results.contains("Department vtb"), "{results}");
    assert_eq!(b.count("li.suppressed"), 1);
    assert!(
        b.text("li.suppressed").contains("Department vtb")
            && b.text("li.suppressed").contains("Not enough valid votes"),
        "{}",
        b.text("li.suppressed")
    );
    let shown = b.text("li.department-result:not(.suppressed)");
    assert!(shown.contains("Department vta") && shown.contains("Enterprises served"), "{shown}");
    assert!(shown.contains("Satisfaction") && shown.contains('%'), "{shown}");
    // The digest is that of the bulletin the API serves.
    let bulletin = app.get(&format!("/api/v1/ballots/{}/bulletin", round.id), None);
    assert_eq!(bulletin.status, 200);
    assert_eq!(b.text("#digest"), hex::encode(Sha256::digest(bulletin.body.as_bytes())));
    assert!(
        bulletin.json()["counts"].as_array().unwrap().iter().all(|r| r["department_id"] != json!(dept_b)),
        "the small group's counts are left out"
    );
    b.screenshots("vote-results-en");
    no_sideways_scroll(&b, "the results");

    // A voter finds their receipt, typed in lower case.
    b.type_into("#f-receipt", &receipt_en.to_lowercase());
    b.click("form[role=search] button");
    b.find("#receipt-found");
    assert!(b.text("#receipt-found").contains("your ballot was counted"), "{}", b.text("#receipt-found"));
    b.type_into("#f-receipt", "AAAAA-AAAAA-AAAAA-AAAAA");
    b.click("form[role=search] button");
    b.wait_for_text("#receipt-found", "This receipt is not on the bulletin. Check it for a typing mistake.");

    b.click("a.lang");
    b.wait_for_text("h1", "评议结果");
    assert!(b.text("li.suppressed").contains("有效票数不足"));
    b.screenshots("vote-results-zh");
    // On a phone a Chinese column heading stays on one line or two, never one character a line.
    b.set_width(390);
    let lines = b.script(
        "return [...document.querySelectorAll('#tally thead th')].map(th => { const r = document.createRange(); \
         r.selectNodeContents(th); return [th.textContent, new Set([...r.getClientRects()].map(x => Math.round(x.top))).size]; });",
    );
    let headings = lines.as_array().unwrap();
    assert!(!headings.is_empty());
    assert!(headings.iter().all(|h| h[1].as_u64().unwrap() <= 2), "headings wrapped at 390 px: {lines}");
    b.reset_width();
    // The verification commands are there for whoever wants them, folded away for the others.
    assert_eq!(b.script("return document.getElementById('verify').open;"), json!(false));
    assert!(b
        .script("return document.querySelector('#verify pre').textContent;")
        .as_str()
        .unwrap()
        .contains("anshang ballots verify"));
    // The results in traditional Chinese (and so checked by axe-core in it too).
    let results = b.path();
    b.goto(&app.url(&format!("{results}?lang=zh-Hant")));
    b.wait_for_text("h1", "評議結果");
    b.screenshots("vote-results-zh-Hant");
    b.goto(&app.url("/vote?lang=zh"));
    b.screenshots("vote-closed-zh");
}

#[test]
fn the_code_stays_out_of_urls_and_the_page_obeys_the_origin_check_and_the_limit() {
    let app = spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 3);
    let round = open_round(&app);
    let code = &round.codes[0];

    let page = app.get(&format!("/vote?round={}", round.id), None);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains("method=\"post\" action=\"/vote/ballot\""), "{}", page.body);
    assert!(!page.body.contains("<script>"), "no inline script");

    // Each step carries the code in the body; the forms post; no link or action holds it.
    let form = |body: String| Some(("application/x-www-form-urlencoded", body.into_bytes()));
    let step2 = app.request(
        "POST",
        "/vote/ballot",
        None,
        &[("Accept-Language", "en")],
        form(format!("round={}&code={}", round.id, code.to_lowercase())),
    );
    assert_eq!(step2.status, 200, "{}", step2.body);
    assert!(step2.body.contains("method=\"post\" action=\"/vote/review\""));
    for attr in ["href=\"", "action=\""] {
        for part in step2.body.split(attr).skip(1) {
            let value = part.split('"').next().unwrap_or_default();
            assert!(
                !value.contains(&code[..4]) && !value.to_lowercase().contains(&code.to_lowercase()[..4]),
                "{attr}{value}"
            );
        }
    }

    // A post from another site is refused before anything is looked at.
    let r = app.request(
        "POST",
        "/vote/ballot",
        None,
        &[("Origin", "https://evil.example")],
        form(format!("round={}&code={code}", round.id)),
    );
    assert_eq!(r.status, 403);

    // The page shares the API's per-client limit on code attempts.
    let mut last = 0;
    for _ in 0..4 {
        last = app
            .request(
                "POST",
                "/vote/ballot",
                None,
                &[("Accept-Language", "zh-CN")],
                form(format!("round={}&code=AAAA", round.id)),
            )
            .status;
    }
    assert_eq!(last, 429);
    let r = app.request(
        "POST",
        "/vote/ballot",
        None,
        &[("Accept-Language", "zh-CN")],
        form(format!("round={}&code=AAAA", round.id)),
    );
    assert!(r.body.contains("操作过于频繁"), "{}", r.body);

    // With several rounds open the page asks which one (a code email's link preselects its
    // round); a round whose voting has not started is listed with its start, not offered.
    let now = chrono::Utc::now();
    let mut second = String::new();
    for (title, from) in [("第二轮 / Second round", -1), ("第三轮 / Third round", 30)] {
        let r = app.post(
            "/api/v1/ballots/rounds",
            Some(&round.commission),
            &json!({"title": title, "year": 2026, "department_ids": [round.departments[0].1],
                    "opens_at": (now + chrono::Duration::minutes(from)).to_rfc3339(), "closes_at": (now + chrono::Duration::hours(2)).to_rfc3339()}),
        );
        let id = r.json()["id"].as_str().unwrap().to_string();
        assert_eq!(
            app.post(&format!("/api/v1/ballots/rounds/{id}/open"), Some(&round.commission), &json!({})).status,
            200
        );
        if second.is_empty() {
            second = id;
        }
    }
    let page = app.request("GET", &format!("/vote?round={second}"), None, &[("Accept-Language", "en")], None);
    assert!(page.body.contains("<select id=\"f-round\" name=\"round\""), "{}", page.body);
    assert!(page.body.contains(&format!("<option value=\"{second}\" selected>Second round</option>")), "{}", page.body);
    assert!(
        page.body.contains(&format!("<option value=\"{}\">2026 conduct evaluation</option>", round.id)),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(">Third round</option>")
            && page.body.contains("Third round")
            && page.body.contains("Voting opens"),
        "{}",
        page.body
    );

    // Unknown rounds and unpublished ones have no results page.
    assert_eq!(app.get("/vote/no-such-round/results", None).status, 404);
    assert_eq!(app.get(&format!("/vote/{}/results", round.id), None).status, 404);
}

/// A voter from Hong Kong who uses only the keyboard, in traditional Chinese: Tab to the code
/// field, type it, Enter; Tab into each question, Space to choose, an arrow to change the choice;
/// Enter on the review and on submit. Each page is screenshot (and so checked by axe-core).
#[test]
fn a_voter_casts_a_ballot_with_the_keyboard_only() {
    use common::browser::keys::{DOWN, ENTER, SPACE, UP};
    let app = spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let round = open_round(&app);
    // Voter 3 rates the first department only.
    let code = round.codes[2].clone();
    let b = Browser::start();
    b.goto(&app.url("/vote?lang=zh-Hant"));
    assert_eq!(b.text("h1"), "行風評議投票");
    b.screenshots("vote-code-zh-Hant");
    b.tab_to("#f-code");
    b.type_keys(&code);
    b.press(&[ENTER]);
    b.wait_for_text("h1", "填寫評議");
    assert_eq!(b.count("fieldset.question"), QUESTIONS);
    b.screenshots("vote-ballot-zh-Hant");
    for q in 0..QUESTIONS {
        // Tab enters the question's group on its first choice; Space chooses it.
        b.tab_to(&format!("input[name][id^='q-0-{q}-']"));
        b.press(&[SPACE]);
        let chosen = |b: &Browser| {
            b.script(&format!("const c = document.querySelector(\"input[id^='q-0-{q}-']:checked\"); return c && c.id;"))
        };
        assert_eq!(chosen(&b), json!(format!("q-0-{q}-satisfied")), "Space chose the first answer");
        // The arrows move the choice within the group: down to the next answer, and back up.
        b.press(&[DOWN]);
        assert_eq!(chosen(&b), json!(format!("q-0-{q}-basically_satisfied")), "focus on {}", b.focused());
        b.press(&[UP]);
        assert_eq!(chosen(&b), json!(format!("q-0-{q}-satisfied")));
    }
    b.tab_to("form.ballot button[type=submit]");
    b.press(&[ENTER]);
    b.wait_for_text("h1", "核對您的評議");
    b.screenshots("vote-review-zh-Hant");
    b.tab_to("#submit-ballot");
    b.press(&[ENTER]);
    b.wait_for_text("h1", "評議已送出");
    assert_eq!(b.text("#receipt").len(), 23);
    b.screenshots("vote-receipt-zh-Hant");
}
