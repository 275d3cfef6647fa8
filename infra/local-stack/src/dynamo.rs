//! Embedded DynamoDB (dynoxide) on a file database, with the TTL sweep AWS does in the
//! background run on a timer instead.

use std::path::Path;
use std::time::Duration;

use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    #[error("cannot open the DynamoDB file {path}: {why}")]
    Open { path: String, why: String },
    #[error("cannot listen for DynamoDB: {0}")]
    Bind(#[from] std::io::Error),
}

/// The running server; stops (and checkpoints the file) when dropped.
pub struct LocalDynamo {
    pub endpoint: String,
    pub database: dynoxide::Database,
    shutdown: Option<oneshot::Sender<()>>,
}

impl LocalDynamo {
    /// Opens (or creates) `file` and serves it on a free local port; sweeps expired items
    /// every `sweep_every`.
    pub async fn start(file: &Path, sweep_every: Duration) -> Result<Self, DynamoError> {
        let path = file.display().to_string();
        let database = dynoxide::Database::new(&path).map_err(|e| DynamoError::Open {
            path: path.clone(),
            why: e.to_string(),
        })?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(dynoxide::server::serve_with_shutdown(
            listener,
            database.clone(),
            async {
                let _ = rx.await;
            },
        ));
        let sweeper = database.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            loop {
                tick.tick().await;
                match sweeper.sweep_ttl() {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "TTL sweep removed expired items"),
                    Err(e) => tracing::warn!(error = %e, "TTL sweep failed"),
                }
            }
        });
        Ok(Self {
            endpoint,
            database,
            shutdown: Some(tx),
        })
    }
}

impl Drop for LocalDynamo {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
