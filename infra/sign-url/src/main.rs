//! Prints a signed function-URL link or the signature headers of a POST; see `sign-url --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let result = sign_url::parse_args(std::env::args().skip(1), env).and_then(|req| {
        let key = sign_url::load_key(&req.key, &req.tenant, env)?;
        let at = req.at.unwrap_or_else(|| chrono::Utc::now().timestamp());
        Ok(sign_url::render(&req, &key, at))
    });
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sign-url: {e}");
            ExitCode::from(2)
        }
    }
}
