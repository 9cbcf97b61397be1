//! A headless Chromium driven over WebDriver, for the UI tests.
//!
//! Plain W3C WebDriver HTTP calls with the blocking reqwest client the
//! tests already use: the handful of commands the UI tests need do not
//! justify a WebDriver crate and its async runtime in every test build.
//!
//! ```ignore
//! let Some(b) = Browser::start() else { return };  // skips when missing
//! b.goto(&server.url("/targets"));
//! b.wait_text("#targets", "up");
//! b.click("button.expand");
//! b.screenshot("targets");
//! b.assert_console_clean();   // also done on every `goto` and on drop
//! ```
//!
//! Every call waits up to [`WAIT`] for its element. Console entries of
//! level SEVERE (uncaught exceptions, failed loads, `console.error`) fail
//! the test: [`Browser::goto`] checks before leaving a page, and dropping
//! the browser checks the last page.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long element look-ups and `wait_*` calls wait.
pub const WAIT: Duration = Duration::from_secs(30);

/// The W3C key for "this object is an element reference".
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The binaries Debian's `chromium` and `chromium-driver` install.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

/// A chromedriver process with one headless Chromium session. Killed on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::blocking::Client,
    /// Removed on drop; Chromium keeps its profile here.
    _profile: tempfile::TempDir,
}

/// A found element (a WebDriver element reference).
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session, or
    /// prints why not and returns `None` when Chromium or chromedriver is
    /// not installed (CI installs both; see `.ci/run`).
    pub fn start() -> Option<Browser> {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        if !std::path::Path::new(&chromium).exists() {
            eprintln!("skipping: {chromium} not found (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = match Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skipping: cannot run {CHROMEDRIVER}: {e}");
                return None;
            }
        };
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut b = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            client,
            _profile: profile,
        };
        b.wait_driver();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", b._profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = b.raw("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Some(b)
    }

    fn wait_driver(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = self
                .client
                .get(format!("{}/status", self.base))
                .send()
                .ok()
                .and_then(|r| r.text().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ok {
                return;
            }
            if let Ok(Some(s)) = self.driver.try_wait() {
                panic!("chromedriver exited with {s}");
            }
            assert!(Instant::now() < deadline, "chromedriver not ready in 20s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One WebDriver command; panics on a WebDriver error. Returns `value`.
    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => post_json(&self.client, url, body),
        };
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        let v: Value = serde_json::from_str(&resp.text().unwrap()).expect("webdriver JSON");
        if v["value"]["error"].is_string() {
            panic!(
                "webdriver {method} {path}: {} {}",
                v["value"]["error"], v["value"]["message"]
            );
        }
        v["value"].clone()
    }

    /// A command on the session; `Err(error code)` instead of a panic.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = match method {
            "GET" => self.client.get(url),
            _ => post_json(&self.client, url, body),
        };
        let text = req
            .send()
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        let v: Value = serde_json::from_str(&text).expect("webdriver JSON");
        match v["value"]["error"].as_str() {
            Some(e) => Err(format!("{e}: {}", v["value"]["message"])),
            None => Ok(v["value"].clone()),
        }
    }

    /// Loads `url` and waits for the document to load. The page left
    /// behind must have logged no SEVERE console entry.
    pub fn goto(&self, url: &str) {
        self.assert_console_clean();
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .unwrap()
            .as_str()
            .unwrap()
            .into()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and
    /// returns what it returns.
    pub fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Makes pages see `prefers-color-scheme: dark` (or light again), through
    /// chromedriver's DevTools passthrough.
    pub fn prefer_dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        let params = json!({"features": [{"name": "prefers-color-scheme", "value": value}]});
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": params})),
        )
        .unwrap_or_else(|e| panic!("emulating the colour scheme: {e}"));
    }

    /// The first element matching the CSS selector, waiting for it.
    pub fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + WAIT;
        loop {
            let r = self.cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            match r {
                Ok(v) => {
                    return Element {
                        browser: self,
                        id: v[ELEMENT_KEY].as_str().unwrap().to_string(),
                    }
                }
                Err(e) if Instant::now() > deadline => {
                    self.screenshot("failed-find");
                    panic!("no element {css:?} within {WAIT:?}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// How many elements match `css` now (no waiting).
    pub fn count(&self, css: &str) -> usize {
        self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .map(|v| v.as_array().map_or(0, Vec::len))
        .unwrap_or(0)
    }

    /// Waits until some element matching `css` has visible text containing
    /// `text`; returns that element's text.
    pub fn wait_text(&self, css: &str, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let script = "return Array.from(document.querySelectorAll(arguments[0]))\
                      .map(e => e.innerText).find(t => t.includes(arguments[1])) ?? null";
        loop {
            let v = self.eval(script, vec![json!(css), json!(text)]);
            if let Some(t) = v.as_str() {
                return t.to_string();
            }
            if Instant::now() > deadline {
                let name = format!("failed-wait-{}", sanitize(text));
                self.screenshot(&name);
                let all = self.eval(
                    "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText)",
                    vec![json!(css)],
                );
                panic!("no {css:?} containing {text:?} within {WAIT:?}; have {all}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        self.find(css).click();
    }

    /// Types `text` into the first element matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        self.find(css).send_keys(text);
    }

    /// Saves a PNG of the viewport to `target/ui-screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        if let Ok(v) = self.cmd("GET", "/screenshot", None) {
            let png = decode_base64(v.as_str().unwrap_or_default());
            std::fs::write(&path, png).unwrap();
        }
        path
    }

    /// The SEVERE browser console entries logged since the last call
    /// (chromedriver's log endpoint drains the log).
    fn severe(&self) -> Result<Vec<String>, String> {
        let v = self.cmd("POST", "/se/log", Some(json!({"type": "browser"})))?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect())
    }

    /// Panics if the console got a SEVERE entry (an uncaught exception, a
    /// failed request, `console.error`) since the last check.
    pub fn assert_console_clean(&self) {
        let severe = self
            .severe()
            .unwrap_or_else(|e| panic!("reading the browser log: {e}"));
        assert!(severe.is_empty(), "browser console errors: {severe:#?}");
    }

    /// Takes the SEVERE console entries of a step that provokes them on
    /// purpose (Chromium logs every API answer of 400 as a failed load):
    /// there must be at least one, and each must contain `expected`.
    pub fn expect_console_errors(&self, expected: &str) -> Vec<String> {
        let severe = self
            .severe()
            .unwrap_or_else(|e| panic!("reading the browser log: {e}"));
        assert!(
            !severe.is_empty(),
            "expected a console error with {expected:?}"
        );
        for e in &severe {
            assert!(e.contains(expected), "unexpected console error: {e}");
        }
        severe
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The last page is checked too, unless the test already failed.
        let severe = if self.session.is_empty() || std::thread::panicking() {
            Ok(Vec::new())
        } else {
            self.severe()
        };
        if !self.session.is_empty() {
            let _ = self
                .client
                .delete(format!("{}/session/{}", self.base, self.session))
                .send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        match severe {
            Ok(s) if s.is_empty() => {}
            Ok(s) => panic!("browser console errors: {s:#?}"),
            Err(e) => panic!("reading the browser log: {e}"),
        }
    }
}

impl Element<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    /// Clicks the element (scrolled into view first, as WebDriver does).
    pub fn click(&self) {
        self.browser
            .cmd("POST", &self.path("/click"), None)
            .unwrap_or_else(|e| panic!("click: {e}"));
    }

    /// Types `text` (WebDriver key codes such as `\u{E007}` for Enter work).
    pub fn send_keys(&self, text: &str) {
        self.browser
            .cmd("POST", &self.path("/value"), Some(json!({ "text": text })))
            .unwrap_or_else(|e| panic!("type: {e}"));
    }

    /// Empties an input or textarea.
    pub fn clear(&self) {
        self.browser
            .cmd("POST", &self.path("/clear"), None)
            .unwrap_or_else(|e| panic!("clear: {e}"));
    }

    /// The rendered text.
    pub fn text(&self) -> String {
        let v = self.browser.cmd("GET", &self.path("/text"), None).unwrap();
        v.as_str().unwrap_or_default().to_string()
    }

    /// A DOM property (`value`, `checked`, `href`...).
    pub fn property(&self, name: &str) -> Value {
        self.browser
            .cmd("GET", &self.path(&format!("/property/{name}")), None)
            .unwrap()
    }
}

fn post_json(
    client: &reqwest::blocking::Client,
    url: String,
    body: Option<Value>,
) -> reqwest::blocking::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body.unwrap_or(json!({})).to_string())
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect()
}

/// Standard base64 (what WebDriver screenshots come in).
fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
