//! Cross-cutting HTTP concerns of the outbound clients (Autotask, ChannelOnline).

pub mod retry;

use std::time::{Duration, Instant};

/// Time kept back from the Lambda deadline for answering and recording a failed call.
pub const DEADLINE_RESERVE: Duration = Duration::from_millis(500);

/// How long one outbound request may take: its own `timeout`, but never past the deadline minus
/// `DEADLINE_RESERVE`, so a hung server is answered as a timeout before Lambda kills the function.
/// `None` when no time is left at all (the caller answers "try again" without sending).
pub fn request_timeout(timeout: Duration, deadline: Option<Instant>) -> Option<Duration> {
    let Some(deadline) = deadline else {
        return Some(timeout);
    };
    let left = deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(DEADLINE_RESERVE);
    (!left.is_zero()).then(|| timeout.min(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_never_outlives_the_deadline() {
        let timeout = Duration::from_secs(60);
        assert_eq!(request_timeout(timeout, None), Some(timeout));
        let soon = Instant::now() + Duration::from_secs(5);
        let capped = request_timeout(timeout, Some(soon)).unwrap();
        assert!(capped <= Duration::from_secs(5) - DEADLINE_RESERVE, "{capped:?}");
        assert!(capped > Duration::from_secs(3), "{capped:?}");
        assert_eq!(
            request_timeout(Duration::from_secs(1), Some(soon)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            request_timeout(timeout, Some(Instant::now() + Duration::from_millis(100))),
            None
        );
    }
}
