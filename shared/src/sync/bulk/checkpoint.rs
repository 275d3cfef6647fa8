//! Where each stream's next run starts. The rule: a checkpoint only moves past changes that
//! were enqueued. Autotask returns query results in id order, not time order, so a window is
//! either enqueued whole or not at all, and the checkpoint moves to the end of the last window
//! in an unbroken run of fully enqueued windows. A budget stop or a failure leaves the rest
//! (and the checkpoint) for the next run; re-planned items keep their idempotency key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::stream::Stream;
use super::window::Window;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub stream: Stream,
    /// Every change before this instant has been enqueued.
    pub watermark: DateTime<Utc>,
}

/// One planning window and whether every change in it was enqueued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowResult {
    pub window: Window,
    pub fully_enqueued: bool,
}

/// The new watermark after a run, given its windows oldest first. Returns `current` when
/// nothing can advance: a gap, an unfinished window, or a window starting after `current`.
pub fn advance_checkpoint(current: Option<DateTime<Utc>>, windows: &[WindowResult]) -> Option<DateTime<Utc>> {
    let mut mark = current;
    for w in windows {
        let contiguous = mark.is_none_or(|m| w.window.from <= m);
        if !w.fully_enqueued || !contiguous {
            break;
        }
        mark = Some(mark.map_or(w.window.to, |m| m.max(w.window.to)));
    }
    mark
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z").unwrap().to_utc() + Duration::hours(h)
    }

    fn w(from: i64, to: i64, done: bool) -> WindowResult {
        WindowResult {
            window: Window::new(t(from), t(to)).unwrap(),
            fully_enqueued: done,
        }
    }

    #[test]
    fn advances_through_fully_enqueued_windows() {
        assert_eq!(
            advance_checkpoint(Some(t(0)), &[w(0, 1, true), w(1, 2, true)]),
            Some(t(2))
        );
        assert_eq!(advance_checkpoint(None, &[w(0, 1, true)]), Some(t(1)));
    }

    #[test]
    fn stops_at_the_first_window_not_fully_enqueued() {
        // GIVEN a budget stop in the second of three windows
        let windows = [w(0, 1, true), w(1, 2, false), w(2, 3, true)];
        // THEN the checkpoint stops after the first and the next run re-reads from hour 1
        assert_eq!(advance_checkpoint(Some(t(0)), &windows), Some(t(1)));
        assert_eq!(advance_checkpoint(Some(t(0)), &[w(0, 1, false)]), Some(t(0)));
        assert_eq!(advance_checkpoint(None, &[w(0, 1, false)]), None);
    }

    #[test]
    fn never_skips_a_gap_or_moves_backwards() {
        // overlapping re-read of the last minutes is fine; a gap is not
        assert_eq!(advance_checkpoint(Some(t(2)), &[w(1, 3, true)]), Some(t(3)));
        assert_eq!(advance_checkpoint(Some(t(2)), &[w(3, 4, true)]), Some(t(2)));
        assert_eq!(advance_checkpoint(Some(t(5)), &[w(1, 3, true)]), Some(t(5)));
    }
}
