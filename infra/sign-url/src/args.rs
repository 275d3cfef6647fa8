//! Command-line arguments (hand-parsed: a handful of flags does not need a parser crate).

use std::path::PathBuf;

use shared::tenant::TenantId;

use crate::SignUrlError;
use crate::key::KeySource;

pub const USAGE: &str = "\
usage: sign-url --tenant ID --function NAME --url BASE_URL [--path /PATH] [--param NAME=VALUE]...
                [--body JSON | --body-file FILE] [--secrets-file FILE | --key-env NAME] [--at UNIX_SECONDS]

  --function is the name of the function the call is for (e.g. export-document): a signature is
  valid for that function only.
  Without --body/--body-file: prints a signed GET link (query form: tenant, ts, sig).
  With a body: prints `POST <url>` and the three x-col-* headers (header form) for that exact body.
  The key is the tenant's current signing key from --secrets-file (default: $SECRETS_FILE, else
  .local/secrets.json; format {\"tenants\":{\"<id>\":{\"signing\":{\"current\":\"...\"}}}}) or from the
  environment variable named by --key-env. The key itself is never printed.";

/// Query form (a link opened with GET) or header form (a POST with a body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Form {
    Query,
    Header { body: Vec<u8> },
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    pub tenant: TenantId,
    /// The function the call is for: the signature's audience.
    pub function: String,
    pub base_url: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub form: Form,
    pub key: KeySource,
    /// Signing time in Unix seconds; `None` = now.
    pub at: Option<i64>,
}

/// Parses the arguments after the program name. `env` looks up `SECRETS_FILE` (injected for tests).
pub fn parse_args<I, S>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<SignRequest, SignUrlError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let usage = |msg: String| SignUrlError::Usage(msg);
    let mut it = args.into_iter().map(Into::into);
    let (mut tenant, mut function, mut base_url, mut path, mut at) = (None, None, None, None, None);
    let (mut params, mut body, mut key) = (Vec::new(), None, None);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| usage(format!("{flag} needs a value")));
        match flag.as_str() {
            "--tenant" => tenant = Some(TenantId::parse(&value()?).map_err(|e| usage(e.to_string()))?),
            "--function" => function = Some(value()?),
            "--url" => base_url = Some(value()?),
            "--path" => path = Some(value()?),
            "--param" => {
                let pair = value()?;
                let (name, val) = pair
                    .split_once('=')
                    .ok_or_else(|| usage(format!("--param {pair:?} must be NAME=VALUE")))?;
                params.push((name.to_owned(), val.to_owned()));
            }
            "--body" => set_once(&mut body, value()?.into_bytes(), "--body/--body-file")?,
            "--body-file" => {
                let file = value()?;
                let bytes = std::fs::read(&file).map_err(|e| usage(format!("cannot read --body-file {file}: {e}")))?;
                set_once(&mut body, bytes, "--body/--body-file")?;
            }
            "--key-env" => set_once(&mut key, KeySource::EnvVar(value()?), "--key-env/--secrets-file")?,
            "--secrets-file" => set_once(&mut key, KeySource::File(value()?.into()), "--key-env/--secrets-file")?,
            "--at" => {
                let raw = value()?;
                at = Some(
                    raw.parse()
                        .map_err(|_| usage(format!("--at {raw:?} is not Unix seconds")))?,
                );
            }
            "-h" | "--help" => return Err(usage("help".into())),
            other => return Err(usage(format!("unknown argument {other:?}"))),
        }
    }
    let base_url = base_url.ok_or_else(|| usage("--url is required".into()))?;
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(usage(format!("--url {base_url:?} must start with https:// or http://")));
    }
    let path = path.unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        return Err(usage(format!("--path {path:?} must start with /")));
    }
    Ok(SignRequest {
        tenant: tenant.ok_or_else(|| usage("--tenant is required".into()))?,
        function: function
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| usage("--function is required".into()))?,
        base_url,
        path,
        params,
        form: body.map_or(Form::Query, |body| Form::Header { body }),
        key: key.unwrap_or_else(|| {
            KeySource::File(env("SECRETS_FILE").map_or_else(|| PathBuf::from(".local/secrets.json"), PathBuf::from))
        }),
        at,
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, flags: &str) -> Result<(), SignUrlError> {
    if slot.replace(value).is_some() {
        return Err(SignUrlError::Usage(format!("give {flags} only once")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SignRequest, SignUrlError> {
        parse_args(args.iter().copied(), |_| None)
    }

    #[test]
    fn minimal_query_form_uses_defaults() {
        let r = parse(&[
            "--tenant",
            "demo",
            "--function",
            "settings",
            "--url",
            "https://x.lambda-url.us-east-1.on.aws",
        ])
        .unwrap();
        assert_eq!(r.tenant.as_str(), "demo");
        assert_eq!(r.path, "/");
        assert_eq!(r.form, Form::Query);
        assert_eq!(r.key, KeySource::File(".local/secrets.json".into()));
        assert_eq!(r.at, None);
    }

    #[test]
    fn every_flag_is_read() {
        let r = parse(&[
            "--tenant",
            "acme",
            "--function",
            "export-document",
            "--url",
            "http://127.0.0.1:9000",
            "--path",
            "/export",
            "--param",
            "doc=Q 1",
            "--param",
            "mode=a=b",
            "--body",
            "{}",
            "--key-env",
            "ACME_KEY",
            "--at",
            "1700000000",
        ])
        .unwrap();
        assert_eq!(
            r.params,
            vec![("doc".into(), "Q 1".into()), ("mode".into(), "a=b".into())]
        );
        assert_eq!(r.form, Form::Header { body: b"{}".to_vec() });
        assert_eq!(r.key, KeySource::EnvVar("ACME_KEY".into()));
        assert_eq!(r.at, Some(1_700_000_000));
    }

    #[test]
    fn secrets_file_defaults_to_the_env_var() {
        let r = parse_args(
            ["--tenant", "demo", "--function", "settings", "--url", "https://h"],
            |name| (name == "SECRETS_FILE").then(|| "/tmp/s.json".to_owned()),
        )
        .unwrap();
        assert_eq!(r.key, KeySource::File("/tmp/s.json".into()));
    }

    #[test]
    fn mistakes_are_named() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--url", "https://h", "--function", "settings"],
                "--tenant is required",
            ),
            (&["--tenant", "demo", "--function", "settings"], "--url is required"),
            (&["--tenant", "demo", "--url", "https://h"], "--function is required"),
            (
                &["--tenant", "a b", "--function", "settings", "--url", "https://h"],
                "invalid tenant id",
            ),
            (
                &["--tenant", "demo", "--function", "settings", "--url", "ftp://h"],
                "must start with https://",
            ),
            (
                &[
                    "--tenant",
                    "demo",
                    "--function",
                    "settings",
                    "--url",
                    "https://h",
                    "--path",
                    "x",
                ],
                "must start with /",
            ),
            (
                &[
                    "--tenant",
                    "demo",
                    "--function",
                    "settings",
                    "--url",
                    "https://h",
                    "--param",
                    "novalue",
                ],
                "NAME=VALUE",
            ),
            (
                &[
                    "--tenant",
                    "demo",
                    "--function",
                    "settings",
                    "--url",
                    "https://h",
                    "--at",
                    "soon",
                ],
                "not Unix seconds",
            ),
            (
                &[
                    "--tenant",
                    "demo",
                    "--function",
                    "settings",
                    "--url",
                    "https://h",
                    "--body",
                    "1",
                    "--body",
                    "2",
                ],
                "only once",
            ),
            (
                &[
                    "--tenant",
                    "demo",
                    "--function",
                    "settings",
                    "--url",
                    "https://h",
                    "--key-env",
                    "A",
                    "--secrets-file",
                    "f",
                ],
                "only once",
            ),
            (
                &[
                    "--tenant",
                    "demo",
                    "--function",
                    "settings",
                    "--url",
                    "https://h",
                    "--bogus",
                ],
                "unknown argument \"--bogus\"",
            ),
            (&["--tenant"], "--tenant needs a value"),
        ];
        for (args, expected) in cases {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err:?} should contain {expected:?}");
            assert!(err.contains("usage: sign-url"), "usage is shown");
        }
    }
}
