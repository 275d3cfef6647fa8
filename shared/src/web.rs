//! Answers of the function-URL handlers: JSON by default, or a small HTML page with the same
//! message when the caller asks for `text/html` (the guide's pop-up after a button, and the
//! picker windows). One error shape for every function: what went wrong and what to do.

use http::{HeaderMap, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// What the caller asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

impl Format {
    /// HTML only when `text/html` is accepted and JSON is not preferred before it.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let html = accept.find("text/html");
        let json = accept.find("application/json");
        match (html, json) {
            (Some(h), Some(j)) if h < j => Format::Html,
            (Some(_), None) => Format::Html,
            _ => Format::Json,
        }
    }
}

/// An error a user can act on: `message` says what is wrong, `fix` what to do about it.
/// `details` carries structured data (candidates, missing fields) for ChannelOnline to show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// A stable, machine-readable code such as `customer_not_mapped`.
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// True when the same call may succeed if repeated later (in progress, throttled).
    pub retryable: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            fix: None,
            details: Value::Null,
            retryable: false,
        }
    }

    /// 405 for `method` on an address that takes only `allow` (e.g. `"GET, POST"`); the answer
    /// carries the `Allow` header (from `details.allow`, so the error stays small). A write route says that its GET only shows what would change.
    pub fn method_not_allowed(method: &http::Method, allow: &'static str) -> Self {
        let fix = if allow.contains("POST") && allow.contains("GET") {
            "Open the link from ChannelOnline (GET shows what would change) and confirm there, or send a signed POST."
        } else {
            "Send the request again with one of the allowed methods."
        };
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not accepted at this address; it takes {allow}."),
        )
        .with_fix(fix)
        .with_details(json!({ "allow": allow }))
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            crate::signing::AuthError::PUBLIC_MESSAGE,
        )
    }

    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// For failures whose cause must not reach the caller: the text is generic on purpose.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Nothing was half-written; try again in a minute.",
        )
        .retryable()
    }

    pub fn into_response(self, format: Format) -> Response<Body> {
        let status = self.status;
        let allow = (status == StatusCode::METHOD_NOT_ALLOWED)
            .then(|| self.details.get("allow").and_then(Value::as_str))
            .flatten()
            .and_then(|a| http::HeaderValue::from_str(a).ok());
        let body = json!({ "ok": false, "error": self });
        let mut resp = respond(format, status, "Not done", &body);
        if let Some(value) = allow {
            resp.headers_mut().insert(header::ALLOW, value);
        }
        resp
    }
}

/// A success answer: `{"ok": true, ...body}` or an HTML page titled `title`.
pub fn ok(format: Format, title: &str, body: Value) -> Response<Body> {
    let mut body = body;
    if let Value::Object(map) = &mut body {
        map.insert("ok".into(), Value::Bool(true));
    }
    respond(format, StatusCode::OK, title, &body)
}

/// Renders `body` as JSON, or as a minimal HTML page that shows `message`, `fix` and the rest.
pub fn respond(format: Format, status: StatusCode, title: &str, body: &Value) -> Response<Body> {
    match format {
        Format::Json => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(Body::from(body.to_string()))
            .expect("static response parts are valid"),
        Format::Html => html(status, html_page(title, body)),
    }
}

/// The one way an HTML page is answered (this module's pages, the pickers, the confirmation
/// pages): with the browser headers of [`HTML_HEADERS`].
pub fn html(status: StatusCode, page: String) -> Response<Body> {
    let mut resp = Response::builder()
        .status(status)
        .body(Body::from(page))
        .expect("static response parts are valid");
    let headers = resp.headers_mut();
    for (name, value) in html_headers() {
        headers.insert(name, value);
    }
    resp
}

/// What every HTML answer carries, besides its content type: no caching, no sniffing, no
/// referrer (links carry signatures), and a policy that allows no script but the pickers'
/// filter box, no loads at all, forms to this function only, and framing by ChannelOnline only.
pub const HTML_HEADERS: [&str; 5] = [
    "content-type",
    "cache-control",
    "x-content-type-options",
    "referrer-policy",
    "content-security-policy",
];

fn html_headers() -> [(header::HeaderName, header::HeaderValue); 5] {
    let csp = header::HeaderValue::from_str(csp()).expect("the policy is built from checked origins");
    [
        (
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CACHE_CONTROL, header::HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        ),
        (header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer")),
        (header::CONTENT_SECURITY_POLICY, csp),
    ]
}

/// The policy of this instance, built once from `ALLOWED_ORIGINS` ([`crate::config::allowed_origins`]).
fn csp() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| content_security_policy(&crate::config::allowed_origins()))
}

/// The inline `oninput` handler of the pickers' filter box (`function_url::picker_page`), the
/// only script any page runs; the policy allows exactly this text by its hash.
pub const PICKER_FILTER_HANDLER: &str = "for(const r of document.querySelectorAll('tbody tr'))r.hidden=!r.textContent.toLowerCase().includes(this.value.toLowerCase())";

/// `Content-Security-Policy` for pages framed by `frame_origins` (none: `'none'`, no framing).
/// Styles are inline `<style>` blocks, hence `'unsafe-inline'` for styles only; scripts are
/// limited to the hash of [`PICKER_FILTER_HANDLER`] (`'unsafe-hashes'` lets a hash match an
/// event-handler attribute, and nothing else).
pub fn content_security_policy(frame_origins: &[String]) -> String {
    let ancestors = if frame_origins.is_empty() {
        "'none'".to_owned()
    } else {
        frame_origins.join(" ")
    };
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-hashes' '{}'; \
         form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}",
        script_hash(PICKER_FILTER_HANDLER)
    )
}

/// A CSP hash source: `sha256-` and the base64 of the SHA-256 of `script`.
pub fn script_hash(script: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256-{}", base64(&Sha256::digest(script.as_bytes())))
}

/// Standard base64 with padding (RFC 4648), for the one hash above.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn html_page(title: &str, body: &Value) -> String {
    let source = body.get("error").unwrap_or(body);
    let field = |name: &str| source.get(name).and_then(Value::as_str).map(escape_html);
    let message = field("message")
        .map(|m| format!("<p class=\"message\">{m}</p>"))
        .unwrap_or_default();
    let fix = field("fix")
        .map(|f| format!("<p class=\"fix\"><strong>What to do:</strong> {f}</p>"))
        .unwrap_or_default();
    let details = serde_json::to_string_pretty(body).unwrap_or_default();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;max-width:44em;margin:1.5em}}.fix{{background:#fff6d5;padding:.5em}}\
         pre{{background:#f4f4f4;padding:.5em;overflow:auto}}</style></head><body><h1>{t}</h1>{message}{fix}\
         <details><summary>Details</summary><pre>{d}</pre></details></body></html>",
        t = escape_html(title),
        d = escape_html(&details),
    )
}

/// A write's result page: the title, what happened, `extra` (links into Autotask, a retry; HTML
/// the caller escaped), and a table of the records, each row a class (its status) and cells
/// (HTML the caller escaped).
pub struct ResultPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub extra: String,
    pub head: &'a [&'a str],
    pub rows: Vec<(String, Vec<String>)>,
}

/// `text` (HTML the caller escaped) as a link that opens `url` (a page in Autotask) in a new
/// window, or plain when the address is unknown.
pub fn external_link(url: Option<&str>, text: String) -> String {
    match url {
        Some(url) => format!(
            "<a href=\"{}\" target=\"_blank\" rel=\"noopener\">{text}</a>",
            escape_html(url)
        ),
        None => text,
    }
}

pub fn result_page(page: &ResultPage<'_>) -> String {
    let head: String = page
        .head
        .iter()
        .map(|h| format!("<th>{}</th>", escape_html(h)))
        .collect();
    let rows: String = page
        .rows
        .iter()
        .map(|(class, cells)| {
            let cells: String = cells.iter().map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr class=\"{}\">{cells}</tr>", escape_html(class))
        })
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:1em;max-width:60em}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}}\
         tr.failed,tr.refused{{background:#fff6d5}}</style></head><body><h1>{t}</h1>\
         <p class=\"message\">{m}</p>{extra}\
         <table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>",
        t = escape_html(page.title),
        m = escape_html(page.message),
        extra = page.extra,
    )
}

/// A form's hidden `<input>`, name and value escaped.
pub fn hidden_input(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape_html(name),
        escape_html(value)
    )
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, accept.parse().unwrap());
        h
    }

    #[test]
    fn negotiates_html_only_when_asked() {
        assert_eq!(Format::from_headers(&HeaderMap::new()), Format::Json);
        assert_eq!(Format::from_headers(&headers("application/json")), Format::Json);
        assert_eq!(
            Format::from_headers(&headers("text/html,application/xhtml+xml,*/*")),
            Format::Html
        );
        assert_eq!(
            Format::from_headers(&headers("application/json, text/html")),
            Format::Json
        );
    }

    #[test]
    fn error_json_names_code_message_and_fix() {
        let resp = ApiError::conflict("several_matches", "3 companies match")
            .with_fix("Pick one in Map Customers")
            .into_response(Format::Json);
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let v: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["code"], "several_matches");
        assert_eq!(v["error"]["fix"], "Pick one in Map Customers");
    }

    #[test]
    fn a_405_names_the_allowed_methods_in_the_header_and_the_body() {
        let resp = ApiError::method_not_allowed(&http::Method::DELETE, "GET, POST").into_response(Format::Json);
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()[header::ALLOW], "GET, POST");
        let v: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(v["error"]["code"], "method_not_allowed");
        assert!(v["error"]["message"].as_str().unwrap().contains("DELETE"));
        assert!(v["error"]["fix"].as_str().unwrap().contains("confirm"));
    }

    #[test]
    fn html_escapes_user_text() {
        let resp = ApiError::bad_request("bad", "<script>x</script>").into_response(Format::Html);
        let text = std::str::from_utf8(resp.body().as_ref()).unwrap();
        assert!(text.contains("&lt;script&gt;"));
        assert!(!text.contains("<script>"));
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    }

    /// Asserts the browser headers of an HTML answer.
    pub(crate) fn assert_html_headers(resp: &Response<Body>) {
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(csp.contains("frame-ancestors "), "{csp}");
        assert!(
            !csp.contains("script-src 'unsafe-inline'") && !csp.contains('*'),
            "{csp}"
        );
        for name in HTML_HEADERS {
            assert!(h.contains_key(name), "{name}");
        }
    }

    #[test]
    fn every_html_answer_carries_the_browser_headers() {
        // GIVEN an HTML error, an HTML success, a 405 and a page answered directly
        let answers = [
            ApiError::bad_request("bad", "no").into_response(Format::Html),
            ApiError::method_not_allowed(&http::Method::PUT, "GET").into_response(Format::Html),
            ApiError::unauthorized().into_response(Format::Html),
            ok(Format::Html, "Done", json!({ "message": "fine" })),
            html(StatusCode::OK, "<p>x</p>".into()),
            crate::function_url::html_response("<p>picker</p>".into()),
        ];
        // THEN each carries them
        for resp in &answers {
            assert_html_headers(resp);
        }
        // AND a JSON answer does not carry a page policy
        let json = ok(Format::Json, "Done", json!({}));
        assert!(!json.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert_eq!(json.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn the_policy_frames_only_the_configured_origins_and_runs_no_inline_script() {
        let origins = crate::config::parse_origins("https://www.channelonline.com,https://acme.example:8443");
        let csp = content_security_policy(&origins);
        assert!(
            csp.ends_with("frame-ancestors https://www.channelonline.com https://acme.example:8443"),
            "{csp}"
        );
        assert!(content_security_policy(&[]).ends_with("frame-ancestors 'none'"));
        for directive in [
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        let script = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
        assert_eq!(
            script.trim(),
            format!("script-src 'unsafe-hashes' '{}'", script_hash(PICKER_FILTER_HANDLER))
        );
    }

    #[test]
    fn the_script_hash_is_the_base64_sha256_csp_expects() {
        // Known answers: RFC 4648 vectors, and sha256("") in base64.
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(script_hash(""), "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn the_hashed_handler_is_exactly_the_pickers_and_no_page_has_other_script() {
        // GIVEN a picker page
        let page = crate::function_url::picker_page("T", "I", "<th>a</th>", "<tr><td>b</td></tr>", "");
        // THEN its one inline handler is the hashed text, and it has no <script> element
        let handlers: Vec<&str> = page
            .split(" oninput=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert_eq!(handlers, [PICKER_FILTER_HANDLER]);
        assert!(!page.contains("<script"));
        for attr in ["onclick=", "onload=", "onchange=", "onsubmit=", "javascript:"] {
            assert!(!page.contains(attr), "{attr}");
        }
        // AND the error and success pages of this module have no script at all
        let err = ApiError::bad_request("bad", "no").into_response(Format::Html);
        let text = std::str::from_utf8(err.body().as_ref()).unwrap();
        assert!(!text.contains("<script"), "{text}");
        for attr in ["oninput=", "onclick=", "onload=", "javascript:"] {
            assert!(!text.contains(attr), "{attr}");
        }
    }
}
