//! Paging as a stream. A POST query's `nextPageUrl` (`…/query/next?paging=…`) must be POSTed with
//! the same body (a GET answers 405, and naive clients silently stop at 500 rows). Guards against
//! loops: a repeated next URL, a page whose ids do not advance, or too many pages.

use std::collections::HashSet;

use futures_util::stream::{self, Stream, StreamExt, TryStreamExt};

use super::client::TenantClient;
use super::entities::Entity;
use super::error::AutotaskError;
use super::query::Query;

struct State {
    client: TenantClient,
    parts: std::vec::IntoIter<Query>,
    current: Option<Query>,
    next: Option<String>,
    seen: HashSet<String>,
    last_id: Option<i64>,
    pages: usize,
}

impl TenantClient {
    /// Streams every record matching `query`, page by page (500 per page unless `maxRecords`
    /// is set), each long `in` list split into queries of at most 500 values.
    pub fn query_stream<E: Entity>(
        &self,
        query: Query,
    ) -> impl Stream<Item = Result<E, AutotaskError>> + Send + 'static {
        let parts = match query.split() {
            Ok(p) => p,
            Err(e) => return stream::once(async move { Err(e.into()) }).left_stream(),
        };
        let state = State {
            client: self.clone(),
            parts: parts.into_iter(),
            current: None,
            next: None,
            seen: HashSet::new(),
            last_id: None,
            pages: 0,
        };
        stream::try_unfold(state, next_page::<E>)
            .map_ok(|items: Vec<E>| stream::iter(items.into_iter().map(Ok)))
            .try_flatten()
            .right_stream()
    }
}

async fn next_page<E: Entity>(mut st: State) -> Result<Option<(Vec<E>, State)>, AutotaskError> {
    if st.next.is_none() {
        // Current part exhausted: start the next split part, if any.
        st.current = st.parts.next();
        st.seen.clear();
        st.last_id = None;
    }
    let Some(part) = st.current.clone() else {
        return Ok(None);
    };
    st.pages += 1;
    if st.pages > st.client.max_pages() {
        return Err(AutotaskError::InvalidResponse(format!(
            "{} query did not finish after {} pages",
            E::COLLECTION,
            st.client.max_pages()
        )));
    }
    let (items, next) = st.client.query_page::<E>(&part, st.next.as_deref()).await?;
    // Autotask returns ids ascending; a page that does not move forward means a loop.
    if let (Some(last), Some(first)) = (st.last_id, items.first().and_then(Entity::id))
        && first <= last
    {
        return Err(AutotaskError::InvalidResponse(format!(
            "{} paging went backwards (id {first} after {last})",
            E::COLLECTION
        )));
    }
    st.last_id = items.iter().filter_map(Entity::id).max().or(st.last_id);
    st.next = match next {
        Some(url) if items.is_empty() => {
            return Err(AutotaskError::InvalidResponse(format!(
                "{} empty page with next URL {url}",
                E::COLLECTION
            )));
        }
        Some(url) if !st.seen.insert(url.clone()) => {
            return Err(AutotaskError::InvalidResponse(format!(
                "{} nextPageUrl repeated: {url}",
                E::COLLECTION
            )));
        }
        other => other,
    };
    if st.next.is_none() {
        st.current = None;
    }
    Ok(Some((items, st)))
}
