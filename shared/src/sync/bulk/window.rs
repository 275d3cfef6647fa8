//! Half-open time windows `[from, to)` over modification times. The planner walks a stream's
//! backlog in windows of bounded length so the checkpoint can advance window by window, and
//! halves a window whenever ChannelOnline refuses it for matching more than 500 documents.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// `None` when the window would be empty.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Self> {
        (from < to).then_some(Self { from, to })
    }

    pub fn span(&self) -> Duration {
        self.to - self.from
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }

    /// Consecutive windows of at most `max_span` covering this one, oldest first.
    pub fn chunks(&self, max_span: Duration) -> Vec<Window> {
        let step = max_span.max(Duration::seconds(1));
        let mut out = Vec::new();
        let mut from = self.from;
        while from < self.to {
            let to = (from + step).min(self.to);
            out.push(Window { from, to });
            from = to;
        }
        out
    }

    /// The two halves, or `None` when a half would be shorter than `min_span`.
    pub fn halves(&self, min_span: Duration) -> Option<(Window, Window)> {
        let half = self.span() / 2;
        if half < min_span.max(Duration::milliseconds(1)) {
            return None;
        }
        let mid = self.from + half;
        Some((
            Window {
                from: self.from,
                to: mid,
            },
            Window { from: mid, to: self.to },
        ))
    }
}

/// Why a capped listing could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum SplitError<E> {
    #[error("more than the cap changed within {window:?}, which cannot be split further")]
    Unsplittable { window: Window, cause: E },
    #[error(transparent)]
    Source(E),
}

/// Lists `window` with `fetch`; whenever `is_cap` says the source refused a window for being
/// too large, lists its two halves instead. Returns `(window, items)` oldest first, so a
/// caller can enqueue and checkpoint window by window.
pub async fn collect_split_on_cap<T, E, F, Fut>(
    window: Window,
    min_span: Duration,
    is_cap: impl Fn(&E) -> bool,
    mut fetch: F,
) -> Result<Vec<(Window, Vec<T>)>, SplitError<E>>
where
    F: FnMut(Window) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let mut out = Vec::new();
    // A stack with the oldest pending window on top keeps the output in time order.
    let mut pending = vec![window];
    while let Some(w) = pending.pop() {
        match fetch(w).await {
            Ok(items) => out.push((w, items)),
            Err(e) if is_cap(&e) => match w.halves(min_span) {
                Some((older, newer)) => {
                    pending.push(newer);
                    pending.push(older);
                }
                None => return Err(SplitError::Unsplittable { window: w, cause: e }),
            },
            Err(e) => return Err(SplitError::Source(e)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn chunks_cover_the_window_without_gaps() {
        let w = Window::new(t("2026-11-01T00:00:00Z"), t("2026-11-03T12:00:00Z")).unwrap();
        let chunks = w.chunks(Duration::days(1));
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].from, w.from);
        assert_eq!(chunks[2].to, w.to);
        assert!(chunks.windows(2).all(|p| p[0].to == p[1].from));
        assert_eq!(chunks[2].span(), Duration::hours(12));
        assert!(Window::new(w.to, w.from).is_none());
    }

    #[tokio::test]
    async fn splits_only_the_windows_over_the_cap_and_keeps_time_order() {
        // GIVEN 1,200 documents, 1,000 of them modified on one day of a 4-day window, cap 500
        let w = Window::new(t("2026-11-01T00:00:00Z"), t("2026-11-05T00:00:00Z")).unwrap();
        let mut docs: Vec<DateTime<Utc>> = (0..1000)
            .map(|i| t("2026-11-02T00:00:00Z") + Duration::seconds(i * 60))
            .collect();
        docs.extend((0..200).map(|i| t("2026-11-04T00:00:00Z") + Duration::seconds(i * 60)));
        let mut calls = 0;
        // WHEN the planner lists it
        let parts = collect_split_on_cap(
            w,
            Duration::seconds(1),
            |e: &&str| *e == "507",
            |win: Window| {
                calls += 1;
                let found: Vec<DateTime<Utc>> = docs.iter().copied().filter(|d| win.contains(*d)).collect();
                async move { if found.len() > 500 { Err("507") } else { Ok(found) } }
            },
        )
        .await
        .unwrap();
        // THEN every document comes back once, in window order, each window under the cap
        let all: Vec<DateTime<Utc>> = parts.iter().flat_map(|(_, d)| d.iter().copied()).collect();
        assert_eq!(all.len(), 1200);
        assert!(all.windows(2).all(|p| p[0] <= p[1]));
        assert!(parts.iter().all(|(_, d)| d.len() <= 500));
        assert!(parts.windows(2).all(|p| p[0].0.to == p[1].0.from));
        assert!(calls > 3, "the oversized window was split, {calls} calls");
    }

    #[tokio::test]
    async fn reports_a_window_that_cannot_be_split() {
        let w = Window::new(t("2026-11-01T00:00:00Z"), t("2026-11-01T00:00:01Z")).unwrap();
        let err = collect_split_on_cap(
            w,
            Duration::seconds(1),
            |_: &&str| true,
            |_| async { Err::<Vec<u8>, _>("507") },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, SplitError::Unsplittable { .. }));
        let err = collect_split_on_cap(
            w,
            Duration::seconds(1),
            |_: &&str| false,
            |_| async { Err::<Vec<u8>, _>("down") },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, SplitError::Source("down")));
    }
}
