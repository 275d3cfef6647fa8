//! Listing documents in a time window despite the 500-document cap: on 507 the window is
//! halved and both halves are listed; results are de-duplicated by document id, keeping the
//! highest revision (halves share their midpoint, and COL may return several revisions).

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};

use super::error::ChannelOnlineError;
use super::types::{Document, TimeWindow};

/// Windows shorter than this are not split again: 507 there is a hard error.
pub const MIN_SPAN: Duration = Duration::seconds(1);

/// Halves a window; the halves share the midpoint (rounded to whole seconds, the wire precision).
pub fn halve(w: TimeWindow) -> Option<(TimeWindow, TimeWindow)> {
    let span = w.before - w.after;
    if span <= MIN_SPAN {
        return None;
    }
    let mid = w.after + Duration::seconds((span.num_seconds() / 2).max(1));
    let mid: DateTime<Utc> = mid.min(w.before);
    Some((
        TimeWindow {
            after: w.after,
            before: mid,
        },
        TimeWindow {
            after: mid,
            before: w.before,
        },
    ))
}

/// Keeps the highest revision per document id.
pub fn latest_revisions(docs: impl IntoIterator<Item = Document>) -> Vec<Document> {
    let mut by_id: BTreeMap<String, Document> = BTreeMap::new();
    for d in docs {
        match by_id.get(&d.document_id) {
            Some(existing) if existing.revision >= d.revision => {}
            _ => {
                by_id.insert(d.document_id.clone(), d);
            }
        }
    }
    by_id.into_values().collect()
}

/// Lists `window` with `fetch`, splitting on `TooManyDocuments` until every piece fits.
pub async fn list_split<F, Fut>(window: TimeWindow, mut fetch: F) -> Result<Vec<Document>, ChannelOnlineError>
where
    F: FnMut(TimeWindow) -> Fut,
    Fut: Future<Output = Result<Vec<Document>, ChannelOnlineError>>,
{
    let mut pending = vec![window];
    let mut found = Vec::new();
    while let Some(w) = pending.pop() {
        match fetch(w).await {
            Ok(docs) => found.extend(docs),
            Err(ChannelOnlineError::TooManyDocuments { message }) => match halve(w) {
                Some((first, second)) => {
                    pending.push(second);
                    pending.push(first);
                }
                None => return Err(ChannelOnlineError::TooManyDocuments { message }),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(latest_revisions(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn halves_cover_the_window_and_stop_at_one_second() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let w = TimeWindow {
            after: a,
            before: a + Duration::seconds(11),
        };
        let (x, y) = halve(w).unwrap();
        assert_eq!(x.after, w.after);
        assert_eq!(x.before, y.after);
        assert_eq!(y.before, w.before);
        assert_eq!(x.before, a + Duration::seconds(5));
        let tiny = TimeWindow {
            after: a,
            before: a + MIN_SPAN,
        };
        assert!(halve(tiny).is_none());
    }
}
