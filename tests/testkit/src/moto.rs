//! `moto_server` (requirements-dev.txt) started by the test itself on a free port: DynamoDB for
//! the second-opinion store run, SQS for the bulk-sync engine tests. Killed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("could not bind a local port: {0}")]
    Bind(#[from] std::io::Error),
    #[error("moto_server did not start (is it on PATH? pip install 'moto[server]'): {0}")]
    Start(String),
}

pub struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    /// Starts moto and waits until its port accepts connections (it needs about a second to
    /// import; the port is polled rather than a sleep guessed).
    pub async fn start() -> Result<Self, MotoError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| MotoError::Start(e.to_string()))?;
        let mut server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(MotoError::Start(format!("exited with {status}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(MotoError::Start("port not open after 15 s".into()))
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
