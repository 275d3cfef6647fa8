//! A real browser for the screens' tests: Debian's headless Chromium, driven over WebDriver by
//! Debian's chromedriver (both installed through apt by `.ci/run` and `infra/scripts/dev-setup.sh`;
//! nothing is downloaded at run time), in a ChannelOnline pop-up's size (1000×800).
//!
//! Every page a test opens can be checked in one call ([`Browser::check`]): a screenshot under
//! `target/screens/`, no console error (a refused inline script or style, a failed load), and
//! every link signed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use shared::secret::SecretString;
use shared::signing;
use shared::tenant::TenantId;

/// Where Debian puts them; `CHROMIUM` and `CHROMEDRIVER` override.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    pub client: Client,
    /// The origin of the functions (the local stack's gateway): its links must be signed.
    own_origin: String,
    driver: Child,
    driver_url: String,
    _profile: tempfile::TempDir,
}

fn program(var: &str, default: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: install Debian's chromium and chromium-driver \
         (`apt-get install chromium chromium-driver`, as infra/scripts/dev-setup.sh does) or set {var}"
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a new empty profile, for pages
    /// served at `own_origin` (`http://127.0.0.1:9000`).
    pub async fn start(own_origin: &str) -> Browser {
        let chromium = program("CHROMIUM", CHROMIUM);
        let chromedriver = program("CHROMEDRIVER", CHROMEDRIVER);
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_ready(&driver_url).await;
        let profile = tempfile::tempdir().expect("a profile folder");
        // The flags keep Chromium off the (closed) network and fit a container (root, no GPU).
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,800",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let caps = caps.as_object().cloned().expect("an object");
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            own_origin: own_origin.trim_end_matches('/').to_owned(),
            driver,
            driver_url,
            _profile: profile,
        }
    }

    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("its text")
    }

    /// Sets the form field `set.<name>` (a screen's choice): a dropdown by value, a text box by typing.
    pub async fn set(&self, name: &str, value: &str) {
        self.fill(&format!("set.{name}"), value).await;
    }

    /// Sets the form field named `name` exactly: a dropdown by value, a text box by typing.
    pub async fn fill(&self, name: &str, value: &str) {
        let selector = format!("[name=\"{}\"]", name.replace('\\', "\\\\").replace('"', "\\\""));
        let field = self
            .client
            .find(Locator::Css(&selector))
            .await
            .unwrap_or_else(|e| panic!("no field {name}: {e}"));
        if field.tag_name().await.expect("a tag") == "select" {
            field
                .select_by_value(value)
                .await
                .unwrap_or_else(|e| panic!("{name} offers no {value:?}: {e}"));
        } else {
            field.clear().await.expect("clears");
            field.send_keys(value).await.expect("types");
        }
    }

    /// Presses the button labelled `label` and waits for the page it leads to.
    pub async fn press(&self, label: &str) {
        let xpath = format!("//button[normalize-space()='{label}']");
        self.click_through(Locator::XPath(&xpath), label).await;
    }

    /// Presses the first submit button of the page's forms and waits for the next page.
    pub async fn submit(&self) {
        self.click_through(Locator::Css("form button[type=submit]"), "the form's button")
            .await;
    }

    /// Follows the link whose text is `text` and waits for the page it leads to.
    pub async fn follow(&self, text: &str) {
        self.click_through(Locator::LinkText(text), text).await;
    }

    /// Clicks, then waits until the old page is gone and the new one has loaded.
    async fn click_through(&self, target: Locator<'_>, what: &str) {
        let old = self.client.find(Locator::Css("html")).await.expect("a page");
        self.client
            .find(target)
            .await
            .unwrap_or_else(|e| panic!("nothing to click for {what:?}: {e}"))
            .click()
            .await
            .expect("clicks");
        let started = Instant::now();
        while old.tag_name().await.is_ok() {
            assert!(started.elapsed() < Duration::from_secs(30), "{what:?} led nowhere");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("body"))
            .await
            .expect("the next page loads");
    }

    /// The options a dropdown `set.<name>` offers: (value, label).
    pub async fn options(&self, name: &str) -> Vec<(String, String)> {
        let selector = format!("[name=\"set.{name}\"] option");
        let mut out = Vec::new();
        for option in self.client.find_all(Locator::Css(&selector)).await.expect("options") {
            let value = option.attr("value").await.ok().flatten().unwrap_or_default();
            out.push((value, option.text().await.unwrap_or_default()));
        }
        out
    }

    /// Screenshot as `target/screens/<name>.png`, no console error, every link signed.
    pub async fn check(&self, name: &str) {
        self.check_answered(name, None).await;
    }

    /// [`Browser::check`] of a page answered with the refusal `status` (422, 409): Chromium logs
    /// that status of the page itself as a console error, and that one line is expected.
    pub async fn check_refused(&self, name: &str, status: u16) {
        self.check_answered(name, Some(status)).await;
    }

    async fn check_answered(&self, name: &str, status: Option<u16>) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screens_dir();
        std::fs::create_dir_all(&dir).expect("the screens folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
        let mut errors = self.console_errors().await;
        if let Some(status) = status {
            let expected = format!("Failed to load resource: the server responded with a status of {status}");
            let before = errors.len();
            errors.retain(|e| !e.contains(&expected));
            assert_eq!(before - errors.len(), 1, "{name}: the page answered {status} once");
        }
        assert!(errors.is_empty(), "{name}: console errors {errors:#?}");
        for link in self.client.find_all(Locator::Css("a[href]")).await.expect("links") {
            // Links to the functions (relative, or on their origin) must be signed; a link
            // into Autotask (the zone's web address) is Autotask's own.
            let href = link.attr("href").await.ok().flatten().unwrap_or_default();
            let ours = !href.contains("://") || href.starts_with(&self.own_origin);
            assert!(
                !ours || href.contains("sig="),
                "{name}: the link {href:?} is not signed"
            );
        }
    }

    /// What the page wrote to the console at level SEVERE since the last call (chromedriver's log).
    pub async fn console_errors(&self) -> Vec<String> {
        let session = self.client.session_id().await.ok().flatten().expect("a session");
        let url = format!("{}/session/{session}/se/log", self.driver_url);
        let resp: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .expect("the log is read")
            .json()
            .await
            .expect("the log is JSON");
        resp["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

async fn wait_ready(driver_url: &str) {
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        if let Ok(resp) = http.get(format!("{driver_url}/status")).send().await
            && let Ok(status) = resp.json::<Value>().await
            && status["value"]["ready"] == true
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `target/screens/` of the workspace (or of `CARGO_TARGET_DIR`).
pub fn screens_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screens")
}

/// A signed link to `route` of `function` on the local stack, as ChannelOnline's buttons open.
pub fn signed_link(
    stack: &local_stack::stack::LocalStack,
    tenant: &TenantId,
    key: &SecretString,
    function: &str,
    route: &str,
    params: &[(&str, &str)],
) -> String {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    signing::signed_url(key, tenant, function, &stack.url(function), route, &params, now)
}
