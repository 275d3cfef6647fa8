//! What sign-url prints is accepted by the verifier the functions use, and the event fixtures in
//! `events/` are validly signed (so handler tests can use them with a fixed clock).

use chrono::DateTime;
use http::{HeaderMap, HeaderName, HeaderValue};
use shared::secret::SecretString;
use shared::signing::{self, AuthError, CallToVerify, DEFAULT_WINDOW_SECS, SigningKeys};
use sign_url::{parse_args, render};

const AT: i64 = 1_764_230_400;

fn keys(k: &str) -> SigningKeys {
    SigningKeys {
        current: k.into(),
        previous: None,
    }
}

fn verify(call: &CallToVerify<'_>, k: &str, now: i64) -> Result<String, AuthError> {
    let claim = signing::read_claim(call)?;
    signing::verify(
        call,
        &claim,
        &keys(k),
        DateTime::from_timestamp(now, 0).unwrap(),
        DEFAULT_WINDOW_SECS,
    )?;
    Ok(claim.tenant.to_string())
}

fn run(args: &[&str]) -> String {
    let req = parse_args(args.iter().copied(), |_| None).unwrap();
    render(&req, &SecretString::from("k-demo"), req.at.unwrap())
}

#[test]
fn printed_link_verifies_and_tampering_fails() {
    // GIVEN a link for tenant demo with two parameters
    let out = run(&[
        "--tenant",
        "demo",
        "--function",
        "export-document",
        "--url",
        "https://abc.lambda-url.us-east-1.on.aws/",
        "--path",
        "/document",
        "--param",
        "number=Q 100",
        "--param",
        "action=export",
        "--at",
        "1764230400",
    ]);
    let url = out.trim_end();
    assert!(
        url.starts_with("https://abc.lambda-url.us-east-1.on.aws/document?"),
        "{url}"
    );
    assert!(!out.contains("k-demo"), "the key is never printed");
    let (path_part, query) = url.split_once('?').unwrap();
    let path = &path_part["https://abc.lambda-url.us-east-1.on.aws".len()..];
    let h = HeaderMap::new();
    let call = CallToVerify {
        audience: "export-document",
        method: "GET",
        path,
        raw_query: query,
        headers: &h,
        body: b"",
    };
    // WHEN the function verifies it within the window THEN the tenant is authenticated
    assert_eq!(verify(&call, "k-demo", AT + 60), Ok("demo".into()));
    // and a changed parameter, another key or a late click is refused
    let tampered = query.replace("Q+100", "Q+101");
    assert_eq!(
        verify(
            &CallToVerify {
                raw_query: &tampered,
                ..call
            },
            "k-demo",
            AT
        ),
        Err(AuthError::Mismatch)
    );
    assert_eq!(verify(&call, "k-other", AT), Err(AuthError::Mismatch));
    assert_eq!(
        verify(&call, "k-demo", AT + DEFAULT_WINDOW_SECS + 1),
        Err(AuthError::Expired)
    );
    // and so is the same link presented to another function
    assert_eq!(
        verify(
            &CallToVerify {
                audience: "query-opportunities",
                ..call
            },
            "k-demo",
            AT
        ),
        Err(AuthError::Mismatch)
    );
}

#[test]
fn printed_headers_verify_for_that_exact_body() {
    let body = r#"{"customer":"C-1001"}"#;
    let out = run(&[
        "--tenant",
        "demo",
        "--function",
        "export-customer",
        "--url",
        "http://127.0.0.1:9000/lambda-url/export-customer",
        "--param",
        "dry_run=true",
        "--body",
        body,
        "--at",
        "1764230400",
    ]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("POST http://127.0.0.1:9000/lambda-url/export-customer/?dry_run=true")
    );
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(": ").unwrap();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    assert_eq!(headers.len(), 3);
    let call = CallToVerify {
        audience: "export-customer",
        method: "POST",
        path: "/",
        raw_query: "dry_run=true",
        headers: &headers,
        body: body.as_bytes(),
    };
    assert_eq!(verify(&call, "k-demo", AT), Ok("demo".into()));
    let other_body = CallToVerify {
        body: br#"{"customer":"C-1002"}"#,
        ..call
    };
    assert_eq!(verify(&other_body, "k-demo", AT), Err(AuthError::Mismatch));
}

#[test]
fn button_event_fixtures_are_signed_for_the_demo_tenant() {
    // The fixtures are signed with key "demo-signing-key-0123456789abcdef" at AT for the function each file is
    // named after (see events/README.md).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_default();
        if event["version"] != "2.0" {
            continue;
        }
        let mut headers = HeaderMap::new();
        for (name, value) in event["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        let audience = path.file_stem().unwrap().to_str().unwrap();
        let call = CallToVerify {
            audience,
            method: event["requestContext"]["http"]["method"].as_str().unwrap(),
            path: event["rawPath"].as_str().unwrap(),
            raw_query: event["rawQueryString"].as_str().unwrap(),
            headers: &headers,
            body: event["body"].as_str().unwrap_or("").as_bytes(),
        };
        assert_eq!(
            verify(&call, "demo-signing-key-0123456789abcdef", AT),
            Ok("demo".into()),
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert_eq!(checked, 7, "one function-URL fixture per button function");
}
