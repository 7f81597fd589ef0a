//! Headless Chromium for the page tests, driven over W3C WebDriver (chromedriver) with the
//! same blocking HTTP client the other tests use. Debian's `chromium` and `chromium-driver`
//! must be installed (`.ci/run` installs them). Screenshots go to `target/screenshots/`.
//!
//! Every screenshot is also an accessibility check: axe-core (the npm package pinned in
//! `tests/axe/package.json`, installed by the test command) is injected into the page and run
//! with the WCAG 2.0/2.1 A and AA rules at that width; any violation fails the test, naming the
//! rule, the elements and what to fix.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The rules a page must pass: WCAG 2.0 and 2.1, levels A and AA.
const WCAG_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// axe-core's script, read once per test process.
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; the page tests need axe-core (`npm ci --prefix tests/axe`, which .ci/run runs)",
                path.display()
            )
        })
    })
}
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
    /// The emulated screen width set by `set_width` (none: the window's 1280 px); screenshots
    /// at other widths put it back.
    width: std::cell::Cell<Option<u32>>,
}

/// The phone the journeys are walked on, and the narrow screenshots: 390 px wide.
pub const PHONE_WIDTH: u32 = 390;

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[derive(Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium session (1280 px wide to begin with).
    pub fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: the page tests need Debian's {package} (`.ci/run` installs it; or `apt-get install chromium chromium-driver`)"
            );
        }
        // chromedriver cannot pick its own port: take a free one, and try again if another
        // process takes it first.
        let (driver, port) = (0..5)
            .find_map(|_| {
                let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
                let mut driver = Command::new(CHROMEDRIVER)
                    .arg(format!("--port={port}"))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start chromedriver");
                let stdout = driver.stdout.take().expect("chromedriver stdout");
                let mut lines = BufReader::new(stdout).lines();
                let ready = lines.by_ref().map_while(Result::ok).any(|line| line.contains("started successfully"));
                if ready {
                    std::thread::spawn(move || for _ in lines {});
                    Some((driver, port))
                } else {
                    let _ = driver.kill();
                    let _ = driver.wait();
                    None
                }
            })
            .expect("chromedriver did not start");
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                         "--hide-scrollbars", format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let started = Instant::now();
        let session = loop {
            match agent.post(format!("{base}/session")).send_json(&capabilities) {
                Ok(mut r) if r.status() == 200 => {
                    let v: Value = r.body_mut().read_json().expect("session JSON");
                    break v["value"]["sessionId"].as_str().expect("session id").to_string();
                }
                other if started.elapsed() > Duration::from_secs(30) => {
                    panic!("no WebDriver session: {:?}", other.map(|r| r.status()))
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        Browser { driver, base, session, agent, _profile: profile, width: std::cell::Cell::new(None) }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, Some(b)) => self.agent.post(&url).send_json(&b),
            (_, None) => self.agent.post(&url).send_json(json!({})),
        };
        let mut response = result.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status().as_u16();
        let v: Value = response.body_mut().with_config().limit(64 * 1024 * 1024).read_json().unwrap_or(Value::Null);
        if status != 200 {
            panic!("WebDriver {method} {path} → {status}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    fn try_command(&self, path: &str, body: Value) -> Option<Value> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut response = self.agent.post(&url).send_json(&body).ok()?;
        let ok = response.status() == 200;
        let v: Value = response.body_mut().read_json().ok()?;
        ok.then(|| v["value"].clone())
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})));
    }

    pub fn path(&self) -> String {
        let url = self.command("GET", "/url", None).as_str().unwrap_or_default().to_string();
        let after_host = url.splitn(4, '/').nth(3).unwrap_or_default();
        let path = after_host.split(['?', '#']).next().unwrap_or_default();
        format!("/{path}")
    }

    /// The first element matching `css`, waiting up to 10 s for it to appear.
    pub fn find(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Some(v) = self.try_command("/element", json!({"using": "css selector", "value": css})) {
                return Element(element_id(&v));
            }
            if started.elapsed() > Duration::from_secs(10) {
                panic!(
                    "no element matches `{css}` on {} — page text: {}",
                    self.path(),
                    self.body_text().chars().take(1500).collect::<String>()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn count(&self, css: &str) -> usize {
        self.command("POST", "/elements", Some(json!({"using": "css selector", "value": css})))
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.command("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
        self.command("POST", &format!("/element/{}/value", e.0), Some(json!({"text": text})));
    }

    /// Chooses a file in an `<input type=file>`.
    pub fn type_into_file(&self, css: &str, path: &std::path::Path) {
        let e = self.find(css);
        self.command("POST", &format!("/element/{}/value", e.0), Some(json!({"text": path.display().to_string()})));
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.command("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Chooses `value` in the `<select>` matching `css`.
    pub fn choose(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.command("GET", &format!("/element/{}/text", e.0), None).as_str().unwrap_or_default().to_string()
    }

    pub fn value(&self, css: &str) -> String {
        let e = self.find(css);
        self.command("GET", &format!("/element/{}/property/value", e.0), None).as_str().unwrap_or_default().to_string()
    }

    pub fn body_text(&self) -> String {
        let body = self.try_command("/element", json!({"using": "css selector", "value": "body"}));
        match body {
            Some(v) => {
                let id = element_id(&v);
                self.command("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or_default().to_string()
            }
            None => String::new(),
        }
    }

    pub fn script(&self, source: &str) -> Value {
        self.command("POST", "/execute/sync", Some(json!({"script": source, "args": []})))
    }

    /// Accepts a `confirm()` dialog.
    pub fn accept_dialog(&self) {
        self.command("POST", "/alert/accept", Some(json!({})));
    }

    /// Waits until the page's path is `path` (after a form post and redirect).
    pub fn wait_for_path(&self, path: &str) {
        let started = Instant::now();
        while self.path() != path {
            if started.elapsed() > Duration::from_secs(10) {
                panic!(
                    "still on {} (wanted {path}): {}",
                    self.path(),
                    self.body_text().chars().take(1500).collect::<String>()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element matching `css` shows `expected` (a page after a form post).
    /// Clicks `css` (a submit button, a link) and waits for the next page to have loaded, also
    /// when it has the same address as this one.
    pub fn click_to_next_page(&self, css: &str) {
        self.script("document.documentElement.dataset.leaving = '1';");
        self.click(css);
        let started = Instant::now();
        while self.script("return document.readyState == 'complete' && !document.documentElement.dataset.leaving")
            != Value::Bool(true)
        {
            if started.elapsed() > Duration::from_secs(10) {
                panic!("no new page after clicking {css} on {}", self.path());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Presses the language switch of a page shown after a post (`to`: `zh`, `zh-Hant`, `en`)
    /// and waits for the page in that language.
    pub fn switch_language(&self, to: &str) {
        self.click(&format!("button.lang[data-lang='{to}']"));
        let tag = super::html_lang(to);
        let started = Instant::now();
        while self.script("return document.readyState == 'complete' && document.documentElement.lang") != tag {
            if started.elapsed() > Duration::from_secs(10) {
                panic!("the page did not switch to {to} on {}", self.path());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_for_text(&self, css: &str, expected: &str) {
        let started = Instant::now();
        loop {
            let now = self.try_command("/element", json!({"using": "css selector", "value": css})).map(|v| {
                let id = element_id(&v);
                self.try_get(&format!("/element/{id}/text"))
                    .and_then(|t| t.as_str().map(str::to_string))
                    .unwrap_or_default()
            });
            if now.as_deref() == Some(expected) {
                return;
            }
            if started.elapsed() > Duration::from_secs(10) {
                panic!(
                    "`{css}` shows {now:?}, not {expected:?}, on {}: {}",
                    self.path(),
                    self.body_text().chars().take(1500).collect::<String>()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_get(&self, path: &str) -> Option<Value> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut response = self.agent.get(&url).call().ok()?;
        let ok = response.status() == 200;
        let v: Value = response.body_mut().read_json().ok()?;
        ok.then(|| v["value"].clone())
    }

    /// Full-page screenshots at 390 px and 1280 px: `target/screenshots/<name>-390.png`, …
    pub fn screenshots(&self, name: &str) {
        for width in [PHONE_WIDTH, 1280] {
            self.screenshot(name, width);
        }
    }

    pub fn screenshot(&self, name: &str, width: u32) {
        let cdp = |cmd: &str, params: Value| {
            self.command("POST", "/goog/cdp/execute", Some(json!({"cmd": cmd, "params": params})))
        };
        let metrics =
            |height: u64| json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600});
        cdp("Emulation.setDeviceMetricsOverride", metrics(800));
        self.assert_accessible(&format!("{name} at {width} px"));
        let height = self
            .script("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);")
            .as_u64()
            .unwrap_or(800)
            .clamp(300, 12_000);
        cdp("Emulation.setDeviceMetricsOverride", metrics(height));
        let shot = cdp("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
        cdp("Emulation.clearDeviceMetricsOverride", json!({}));
        if let Some(walked_at) = self.width.get() {
            self.set_width(walked_at);
        }
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}-{width}.png")), png).expect("write screenshot");
    }

    // -----------------------------------------------------------------------------------------
    // The keyboard, as someone who uses no mouse: Tab, Shift+Tab, Space, Enter, the arrows, and
    // typing into whatever has the focus.

    fn key_actions(&self, actions: Vec<Value>) {
        self.command(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Presses each key in turn (see [`keys`]).
    pub fn press(&self, sequence: &[&str]) {
        let actions = sequence
            .iter()
            .flat_map(|k| [json!({"type": "keyDown", "value": k}), json!({"type": "keyUp", "value": k})])
            .collect();
        self.key_actions(actions);
    }

    /// Shift+Tab: the focus goes back one stop.
    pub fn shift_tab(&self) {
        self.key_actions(vec![
            json!({"type": "keyDown", "value": keys::SHIFT}),
            json!({"type": "keyDown", "value": keys::TAB}),
            json!({"type": "keyUp", "value": keys::TAB}),
            json!({"type": "keyUp", "value": keys::SHIFT}),
        ]);
    }

    /// Types `text` key by key into the element that has the focus.
    pub fn type_keys(&self, text: &str) {
        let chars: Vec<String> = text.chars().map(String::from).collect();
        self.press(&chars.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// Whether the focused element matches `css`.
    pub fn focused_is(&self, css: &str) -> bool {
        let css = serde_json::to_string(css).expect("css");
        self.script(&format!("const a = document.activeElement; return !!a && a.matches({css});")).as_bool()
            == Some(true)
    }

    /// What has the focus, for messages: tag, id and name.
    pub fn focused(&self) -> String {
        self.script(
            "const a = document.activeElement; return a ? `${a.tagName.toLowerCase()}#${a.id} name=${a.name || ''} ${a.textContent.trim().slice(0, 40)}` : 'nothing';",
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Presses Tab until the element matching `css` has the focus — it must be reachable, with a
    /// visible focus ring, within `MAX_TABS` stops — and returns how many stops it took.
    pub fn tab_to(&self, css: &str) -> usize {
        const MAX_TABS: usize = 120;
        for stops in 1..=MAX_TABS {
            self.press(&[keys::TAB]);
            if self.focused_is(css) {
                let outline = self.script("return getComputedStyle(document.activeElement).outlineStyle;");
                assert_ne!(outline.as_str(), Some("none"), "`{css}` has the focus but shows no focus ring");
                return stops;
            }
        }
        panic!("`{css}` not reached with Tab from {} (focus on {})", self.path(), self.focused());
    }

    /// Runs axe-core on the page as it is now (WCAG 2.0/2.1 A and AA) and fails on any violation.
    pub fn assert_accessible(&self, what: &str) {
        if self.script("return typeof window.axe === 'object';").as_bool() != Some(true) {
            self.script(&format!("{};\nreturn true;", axe_source()));
        }
        let tags = serde_json::to_string(&WCAG_TAGS).expect("tags");
        let found = self.command(
            "POST",
            "/execute/async",
            Some(json!({"args": [], "script": format!(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {{ runOnly: {{ type: 'tag', values: {tags} }}, resultTypes: ['violations'] }})\
                   .then(r => done(r.violations.map(v => ({{ rule: v.id, impact: v.impact, help: v.help,\
                      nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary) }}))))\
                   .catch(e => done([{{ rule: 'axe-error', help: String(e), nodes: [] }}]));"
            )})),
        );
        let violations = found.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "{what} ({}): WCAG 2.1 A/AA violations:\n{}",
            self.path(),
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
    }

    /// Horizontal overflow at the current width (a page that needs sideways scrolling).
    pub fn overflows_horizontally(&self) -> bool {
        self.script("return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;")
            .as_bool()
            .unwrap_or(true)
    }

    /// Emulates a `width`-pixel-wide screen until `reset_width`.
    pub fn set_width(&self, width: u32) {
        self.width.set(Some(width));
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setDeviceMetricsOverride",
            "params": {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}})),
        );
    }

    pub fn reset_width(&self) {
        self.width.set(None);
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}})),
        );
    }

    /// Lays the page out for `media` (`"print"`), or for the screen again with `""`.
    pub fn emulate_media(&self, media: &str) {
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": media}})),
        );
    }

    /// Whether the first element matching `css` is laid out (it, or an ancestor, is not
    /// `display: none`).
    pub fn is_rendered(&self, css: &str) -> bool {
        let source = format!("return document.querySelector({}).getClientRects().length > 0;", json!(css));
        self.script(&source).as_bool().unwrap_or(false)
    }
}

/// WebDriver's key codes for the keys a keyboard user presses.
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ENTER: &str = "\u{E007}";
    pub const SPACE: &str = "\u{E00D}";
    pub const LEFT: &str = "\u{E012}";
    pub const UP: &str = "\u{E013}";
    pub const RIGHT: &str = "\u{E014}";
    pub const DOWN: &str = "\u{E015}";
}

/// An element reference's id (the object has one key, whose name varies between drivers).
fn element_id(v: &Value) -> String {
    v.as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("not an element reference: {v}"))
        .to_string()
}

pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots")
}
