//! A timed Lambda Runtime API emulator. Unlike the pass/fail emulator of `testkit`, it stamps
//! the instant the answer arrives (for cold start) and reads the process's peak RSS while the
//! process is still alive, blocked on its next poll (for memory).

use std::fs::File;
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};
use testkit::lambda_runtime_api::{next_invocation_headers, read_request, respond};

/// A process to start as Lambda would start a function.
#[derive(Clone, Debug)]
pub struct Launch {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Where the process's stdout and stderr go (kept for diagnosis).
    pub log: PathBuf,
}

/// What the function posted back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Response(String),
    InvocationError(String),
}

/// One start: the time from spawn to the answer, the answer, and the peak RSS so far.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub first_answer: Duration,
    pub answer: Answer,
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("emulator socket: {0}")]
    Socket(std::io::Error),
    #[error("{name} failed to initialise: {body}")]
    InitError { name: String, body: String },
    #[error("{name} exited without answering ({status}); see {log}")]
    Exited { name: String, status: String, log: String },
    #[error("{name} did not answer within {0:?}; see {log}", timeout)]
    TimedOut {
        name: String,
        timeout: Duration,
        log: String,
    },
}

enum Posted {
    Answer(Answer, Instant),
    InitError(String),
}

/// Starts `launch` against a fresh emulator, hands it `event`, waits for its answer and kills it.
pub fn invoke_once(launch: &Launch, event: &str, timeout: Duration) -> Result<Invocation, EmulatorError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(EmulatorError::Socket)?;
    let addr = listener.local_addr().map_err(EmulatorError::Socket)?;
    let (tx, rx) = mpsc::channel();
    let event = event.to_owned();
    thread::spawn(move || serve(listener, event, tx));

    let log = File::create(&launch.log).map_err(EmulatorError::Socket)?;
    let log_err = log.try_clone().map_err(EmulatorError::Socket)?;
    let started = Instant::now();
    let mut child = Command::new(&launch.program)
        .args(&launch.args)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &launch.name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|source| EmulatorError::Spawn {
            program: launch.program.display().to_string(),
            source,
        })?;
    let outcome = wait(launch, &rx, &mut child, timeout);
    let peak_rss_kib = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let (answer, at) = outcome?;
    Ok(Invocation {
        first_answer: at.duration_since(started),
        answer,
        peak_rss_kib,
    })
}

fn wait(
    launch: &Launch,
    rx: &mpsc::Receiver<Posted>,
    child: &mut Child,
    timeout: Duration,
) -> Result<(Answer, Instant), EmulatorError> {
    let deadline = Instant::now() + timeout;
    let log = launch.log.display().to_string();
    let name = launch.name.clone();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(Posted::Answer(answer, at)) => return Ok((answer, at)),
            Ok(Posted::InitError(body)) => return Err(EmulatorError::InitError { name, body }),
            Err(_) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            if let Ok(Posted::Answer(answer, at)) = rx.recv_timeout(Duration::from_millis(50)) {
                return Ok((answer, at));
            }
            return Err(EmulatorError::Exited {
                name,
                status: status.to_string(),
                log,
            });
        }
    }
    Err(EmulatorError::TimedOut { name, timeout, log })
}

/// `VmHWM` (peak resident set) of a live process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn serve(listener: TcpListener, event: String, tx: mpsc::Sender<Posted>) {
    let delivered = Arc::new(AtomicBool::new(false));
    let event = Arc::new(event);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (delivered, event, tx) = (delivered.clone(), event.clone(), tx.clone());
        // One thread per connection, serving requests until the client closes it (keep-alive,
        // as the real Runtime API does; lambda_runtime reuses its connection).
        thread::spawn(move || serve_connection(stream, &delivered, &event, &tx));
    }
}

fn serve_connection(mut stream: TcpStream, delivered: &AtomicBool, event: &str, tx: &mpsc::Sender<Posted>) {
    // One reader for the whole connection: it may already hold the start of the next request.
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    while let Some((method, path, body)) = read_request(&mut reader) {
        let at = Instant::now();
        if method == "GET" && path.ends_with("/invocation/next") {
            if delivered.swap(true, Ordering::SeqCst) {
                // Keep the second poll open: the process stays alive (and measurable) until killed.
                thread::sleep(Duration::from_secs(600));
                return;
            }
            respond(&mut stream, 200, &next_invocation_headers("bench"), event.as_bytes());
            continue;
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        let posted = if path.ends_with("/init/error") {
            Some(Posted::InitError(text))
        } else if path.ends_with("/response") {
            Some(Posted::Answer(Answer::Response(text), at))
        } else if path.ends_with("/error") {
            Some(Posted::Answer(Answer::InvocationError(text), at))
        } else {
            None
        };
        match posted {
            Some(posted) => {
                respond(&mut stream, 202, &[], b"{\"status\":\"OK\"}");
                let _ = tx.send(posted);
            }
            None => respond(&mut stream, 404, &[], b"{}"),
        }
    }
}

/// A log file path for one launch under `dir`.
pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_hwm_in_kib() {
        let status = "Name:\tbootstrap\nVmPeak:\t  20000 kB\nVmHWM:\t    8123 kB\nVmRSS:\t 7000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(8123));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
    }

    #[test]
    fn times_a_shell_runtime_loop_and_captures_its_answer() {
        // GIVEN a tiny runtime written in the shell: poll next, post the event back as the response
        let dir = std::env::temp_dir();
        let script = r#"
            body=$(curl -s "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next")
            curl -s -X POST -d "echo:$body" "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/bench-0001/response" >/dev/null
            exec sleep 30
        "#;
        if Command::new("curl").arg("--version").output().is_err() {
            return; // no curl on this machine: the real binaries exercise the emulator instead
        }
        let launch = Launch {
            name: "shell".into(),
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![],
            log: log_path(&dir, "bench-emulator-test"),
        };
        // WHEN it is invoked once
        let inv = invoke_once(&launch, "{\"ping\":1}", Duration::from_secs(20)).unwrap();
        // THEN the emulator got the echoed event, a positive time and the shell's peak RSS
        assert_eq!(inv.answer, Answer::Response("echo:{\"ping\":1}".into()));
        assert!(inv.first_answer > Duration::ZERO);
        assert!(inv.peak_rss_kib.is_some_and(|kib| kib > 0));
    }
}
