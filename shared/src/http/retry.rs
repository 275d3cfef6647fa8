//! The one retry policy for outbound calls (Autotask, ChannelOnline).
//!
//! Full-jitter capped exponential backoff (`uniform(0, min(cap, base * 2^n))`), at most
//! `max_attempts` tries, honours `Retry-After`, never sleeps past the Lambda deadline (minus a
//! safety margin: then it fails fast so the queue or the user retries later), and retries only
//! transient failures of calls that are safe to repeat. An *ambiguous* failure (the request may
//! have been applied: a create whose answer never came) is never repeated here; the only way to
//! send a create again is `TenantClient::create_once`, which looks the record up first.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How an error should be treated by the retry loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// The caller's fault or a final answer (400, 401 after refresh, 404, validation): never retry.
    Permanent,
    /// Transient (429, 5xx server failure, connection error, timeout) and known not to have been
    /// applied, or harmless to apply twice; optional server hint.
    Transient { retry_after: Option<Duration> },
    /// The request may have been applied (a write timed out or failed after it was sent):
    /// repeating it blindly could apply it twice. Never retried by the loop.
    Ambiguous,
}

/// Implemented by each client's error type, so the policy needs no knowledge of status codes.
pub trait Retryable {
    fn retry_class(&self) -> RetryClass;
}

/// Whether repeating the call after a transient failure can duplicate a side effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeatable {
    /// Reads, updates that set absolute values, and creates whose client reports every failure
    /// that may have reached the server as `Ambiguous` (so a transient one was not applied).
    Yes,
    /// A write whose client cannot tell applied from not applied: never repeated.
    No,
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// Time kept in reserve before the deadline for the caller to record the failure.
    pub safety_margin: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
            safety_margin: Duration::from_millis(500),
        }
    }
}

/// The outcome when the loop gives up: the last error and why it stopped.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E> {
    #[error("{0}")]
    Permanent(E),
    /// The request may have been applied; the caller must reconcile before sending it again.
    #[error("{0}")]
    Ambiguous(E),
    #[error("gave up after {attempts} attempt(s): {last}")]
    Exhausted { attempts: u32, last: E },
    /// The server asked to wait longer than the time left before the deadline.
    #[error("not retried: waiting {wait:?} would pass the deadline: {last}")]
    DeadlineTooClose { wait: Duration, last: E },
}

impl<E> RetryError<E> {
    pub fn into_inner(self) -> E {
        match self {
            RetryError::Permanent(e)
            | RetryError::Ambiguous(e)
            | RetryError::Exhausted { last: e, .. }
            | RetryError::DeadlineTooClose { last: e, .. } => e,
        }
    }

    pub fn inner(&self) -> &E {
        match self {
            RetryError::Permanent(e)
            | RetryError::Ambiguous(e)
            | RetryError::Exhausted { last: e, .. }
            | RetryError::DeadlineTooClose { last: e, .. } => e,
        }
    }
}

/// Where the jitter comes from: injectable so tests are deterministic.
pub trait Jitter: Send + Sync {
    /// A value in `[0, 1)`.
    fn unit(&self) -> f64;
}

#[derive(Debug, Default)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn unit(&self) -> f64 {
        fastrand::f64()
    }
}

/// A fixed sequence of jitter values, for tests.
#[derive(Debug)]
pub struct FixedJitter(Mutex<Vec<f64>>);

impl FixedJitter {
    pub fn new(values: Vec<f64>) -> Self {
        Self(Mutex::new(values))
    }
}

impl Jitter for FixedJitter {
    fn unit(&self) -> f64 {
        let mut v = self.0.lock().expect("jitter lock");
        if v.len() > 1 {
            v.remove(0)
        } else {
            v.first().copied().unwrap_or(0.0)
        }
    }
}

impl RetryPolicy {
    /// The full-jitter backoff before retry number `retry` (0 for the first retry).
    pub fn backoff(&self, retry: u32, jitter: &dyn Jitter) -> Duration {
        let exp = self.base.saturating_mul(2u32.saturating_pow(retry));
        exp.min(self.cap).mul_f64(jitter.unit().clamp(0.0, 1.0))
    }

    /// Runs `op` until it succeeds, fails permanently, runs out of attempts, or would pass
    /// `deadline`. `op` receives the attempt number (1-based).
    pub async fn run<T, E, F, Fut>(
        &self,
        repeatable: Repeatable,
        deadline: Option<Instant>,
        jitter: &dyn Jitter,
        mut op: F,
    ) -> Result<T, RetryError<E>>
    where
        E: Retryable,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            let err = match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let retry_after = match err.retry_class() {
                RetryClass::Permanent => return Err(RetryError::Permanent(err)),
                RetryClass::Ambiguous => return Err(RetryError::Ambiguous(err)),
                RetryClass::Transient { .. } if repeatable == Repeatable::No => {
                    return Err(RetryError::Permanent(err));
                }
                RetryClass::Transient { retry_after } => retry_after,
            };
            if attempt >= self.max_attempts {
                return Err(RetryError::Exhausted {
                    attempts: attempt,
                    last: err,
                });
            }
            let backoff = self.backoff(attempt - 1, jitter);
            let wait = retry_after.map_or(backoff, |ra| ra.max(backoff));
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if wait + self.safety_margin > left {
                    return Err(RetryError::DeadlineTooClose { wait, last: err });
                }
            }
            tracing::debug!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "transient failure, retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, PartialEq)]
    enum E {
        Busy(Option<Duration>),
        Bad,
        MaybeApplied,
    }

    impl Retryable for E {
        fn retry_class(&self) -> RetryClass {
            match self {
                E::Busy(retry_after) => RetryClass::Transient {
                    retry_after: *retry_after,
                },
                E::Bad => RetryClass::Permanent,
                E::MaybeApplied => RetryClass::Ambiguous,
            }
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
            ..RetryPolicy::default()
        }
    }

    async fn run_seq(
        policy: &RetryPolicy,
        repeatable: Repeatable,
        seq: Vec<Result<u8, E>>,
    ) -> (Result<u8, RetryError<E>>, u32) {
        let calls = AtomicU32::new(0);
        let seq = Mutex::new(seq);
        let r = policy
            .run(repeatable, None, &FixedJitter::new(vec![1.0]), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                let next = seq.lock().unwrap().remove(0);
                async move { next }
            })
            .await;
        (r, calls.load(Ordering::SeqCst))
    }

    #[test]
    fn backoff_is_capped_full_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0, &FixedJitter::new(vec![1.0])), Duration::from_millis(200));
        assert_eq!(p.backoff(2, &FixedJitter::new(vec![0.5])), Duration::from_millis(400));
        assert_eq!(p.backoff(10, &FixedJitter::new(vec![1.0])), Duration::from_secs(5));
        assert_eq!(p.backoff(3, &FixedJitter::new(vec![0.0])), Duration::ZERO);
    }

    #[tokio::test]
    async fn transient_then_success_is_retried() {
        let (r, calls) = run_seq(&fast(), Repeatable::Yes, vec![Err(E::Busy(None)), Ok(7)]).await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls, 2);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let (r, calls) = run_seq(&fast(), Repeatable::Yes, vec![Err(E::Bad), Ok(1)]).await;
        assert!(matches!(r, Err(RetryError::Permanent(E::Bad))));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts() {
        let seq = vec![Err(E::Busy(None)), Err(E::Busy(None)), Err(E::Busy(None)), Ok(1)];
        let (r, calls) = run_seq(&fast(), Repeatable::Yes, seq).await;
        assert!(matches!(r, Err(RetryError::Exhausted { attempts: 3, .. })));
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn unrepeatable_writes_are_never_retried() {
        let (r, calls) = run_seq(&fast(), Repeatable::No, vec![Err(E::Busy(None)), Ok(1)]).await;
        assert!(matches!(r, Err(RetryError::Permanent(_))));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn an_ambiguous_failure_is_never_sent_again() {
        let (r, calls) = run_seq(&fast(), Repeatable::Yes, vec![Err(E::MaybeApplied), Ok(1)]).await;
        assert!(matches!(r, Err(RetryError::Ambiguous(E::MaybeApplied))));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn retry_after_is_honoured() {
        let started = Instant::now();
        let (r, _) = run_seq(
            &fast(),
            Repeatable::Yes,
            vec![Err(E::Busy(Some(Duration::from_millis(60)))), Ok(3)],
        )
        .await;
        assert_eq!(r.unwrap(), 3);
        assert!(
            started.elapsed() >= Duration::from_millis(60),
            "waited {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn never_sleeps_past_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(300);
        let r: Result<u8, _> = fast()
            .run(Repeatable::Yes, Some(deadline), &RandomJitter, |_| async {
                Err(E::Busy(Some(Duration::from_secs(30))))
            })
            .await;
        assert!(matches!(r, Err(RetryError::DeadlineTooClose { .. })));
        assert!(Instant::now() < deadline);
    }
}
