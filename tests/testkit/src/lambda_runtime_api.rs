//! A std-only Lambda Runtime API emulator: runs a real `bootstrap` binary as AWS would and
//! captures its answer (toolchain-notes §4.3).
//!
//! `GET /2018-06-01/runtime/invocation/next` answers once with the event and the request-id,
//! deadline and function-ARN headers; later polls wait (the test then kills the process).
//! Connections are kept alive, one thread each. `read_request`, `respond` and
//! `next_invocation_headers` are shared with the benchmark's timing emulator.
//! `POST …/invocation/<id>/response`, `…/<id>/error` and `…/init/error` are captured.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the function did with the one event it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The body posted to `/invocation/<id>/response` (for lambda_http: the v2 response envelope).
    Response(String),
    /// The body posted to `/invocation/<id>/error`.
    InvocationError(String),
    /// The body posted to `/init/error` (the binary failed before taking the event).
    InitError(String),
    /// The process exited without answering; its stderr is attached.
    Exited(String),
    /// No answer within the timeout.
    TimedOut,
}

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// Starts `binary` against a fresh emulator with `env`, hands it `event` and waits up to
/// `timeout` for its answer. The process is killed before returning.
pub fn invoke_binary(binary: &Path, event: &str, env: &[(&str, &str)], timeout: Duration) -> Outcome {
    invoke_binary_until(binary, event, env, timeout, DEFAULT_DEADLINE)
}

/// The Lambda deadline `invoke_binary` announces.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// Like `invoke_binary`, announcing `deadline` from now as the invocation's deadline (the
/// function's timeout). With `timeout` equal to it, a function still busy at its deadline is
/// killed, as Lambda kills a function that times out (`Outcome::TimedOut`).
pub fn invoke_binary_until(
    binary: &Path,
    event: &str,
    env: &[(&str, &str)],
    timeout: Duration,
    deadline: Duration,
) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind emulator port");
    let addr = listener.local_addr().expect("emulator address");
    let (tx, rx) = mpsc::channel::<Outcome>();
    let event = event.to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        thread::spawn(move || serve(listener, event, deadline, tx, &stop))
    };

    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "under-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));

    let outcome = wait(&rx, &mut child, timeout);
    let _ = child.kill();
    let _ = child.wait();
    // Stop the emulator so its socket and threads do not outlive the invocation (a long run of
    // invocations would otherwise run out of file descriptors): wake the accept loop and let
    // held connections see the flag.
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(addr);
    let _ = server.join();
    outcome
}

fn wait(rx: &mpsc::Receiver<Outcome>, child: &mut Child, timeout: Duration) -> Outcome {
    let step = Duration::from_millis(20);
    let mut waited = Duration::ZERO;
    while waited < timeout {
        if let Ok(outcome) = rx.recv_timeout(step) {
            return outcome;
        }
        if let Ok(Some(status)) = child.try_wait() {
            // The answer may have arrived just before the exit.
            if let Ok(outcome) = rx.recv_timeout(step) {
                return outcome;
            }
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return Outcome::Exited(format!("{status}: {stderr}"));
        }
        waited += step;
    }
    Outcome::TimedOut
}

fn serve(listener: TcpListener, event: String, deadline: Duration, tx: mpsc::Sender<Outcome>, stop: &Arc<AtomicBool>) {
    let delivered = Arc::new(AtomicBool::new(false));
    let event = Arc::new(event);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (delivered, event, tx, stop) = (delivered.clone(), event.clone(), tx.clone(), stop.clone());
        // One thread per connection, serving requests until the client closes it: keep-alive,
        // as the real Runtime API does (lambda_runtime reuses its pooled connection).
        thread::spawn(move || serve_connection(stream, &delivered, &event, deadline, &tx, &stop));
    }
}

fn serve_connection(
    mut stream: TcpStream,
    delivered: &AtomicBool,
    event: &str,
    deadline: Duration,
    tx: &mpsc::Sender<Outcome>,
    stop: &AtomicBool,
) {
    // One reader for the whole connection: it may already hold the start of the next request.
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    while let Some((method, path, body)) = read_request(&mut reader) {
        if method == "GET" && path.ends_with("/invocation/next") {
            if delivered.swap(true, Ordering::SeqCst) {
                // Hold the second poll open until the invocation is over.
                while !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            respond(
                &mut stream,
                200,
                &next_invocation_headers_until("under-test", deadline),
                event.as_bytes(),
            );
            continue;
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        let outcome = if path.ends_with("/init/error") {
            Some(Outcome::InitError(text))
        } else if path.ends_with("/response") {
            Some(Outcome::Response(text))
        } else if path.ends_with("/error") {
            Some(Outcome::InvocationError(text))
        } else {
            None
        };
        match outcome {
            Some(outcome) => {
                respond(&mut stream, 202, &[], b"{\"status\":\"OK\"}");
                let _ = tx.send(outcome);
            }
            None => respond(&mut stream, 404, &[], b"{}"),
        }
    }
}

/// The headers of a `GET …/invocation/next` answer: request id, a deadline 60 s ahead, the ARN.
pub fn next_invocation_headers(function_name: &str) -> [(&'static str, String); 4] {
    next_invocation_headers_until(function_name, DEFAULT_DEADLINE)
}

/// The same headers with a deadline `deadline` from now.
pub fn next_invocation_headers_until(function_name: &str, deadline: Duration) -> [(&'static str, String); 4] {
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + deadline;
    [
        ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID.to_owned()),
        ("Lambda-Runtime-Deadline-Ms", deadline.as_millis().to_string()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        ),
        ("Content-Type", "application/json".to_owned()),
    ]
}

/// Reads one HTTP/1.1 request from a connection: method, path and body (content-length or
/// chunked). `None` when the client closed the connection or sent something unreadable.
pub fn read_request(reader: &mut impl BufRead) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2]; // data + CRLF
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, body))
}

/// Writes one HTTP/1.1 answer; the connection stays open for the next request.
pub fn respond(stream: &mut impl Write, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} OK\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked_bodies() {
        // GIVEN a listener and a client that sends one chunked and one sized request
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = thread::spawn(move || {
            for raw in [
                "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                "POST /b HTTP/1.1\r\nContent-Length: 4\r\n\r\nwxyz",
            ] {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(raw.as_bytes()).unwrap();
                thread::sleep(Duration::from_millis(10));
            }
        });
        // WHEN the emulator reads them THEN both bodies come out whole
        let mut got = Vec::new();
        for stream in listener.incoming().take(2) {
            let (m, p, b) = read_request(&mut BufReader::new(stream.unwrap())).unwrap();
            got.push((m, p, String::from_utf8(b).unwrap()));
        }
        client.join().unwrap();
        assert_eq!(got[0], ("POST".into(), "/a".into(), "abcde".into()));
        assert_eq!(got[1], ("POST".into(), "/b".into(), "wxyz".into()));
    }
}
