//! Test and benchmark controls the real API does not have: call counters (per method and
//! endpoint, with the peak concurrency seen), injected latency and injected faults.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an injected fault does to a matching call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After: <secs>`.
    Throttle { retry_after_secs: u64 },
    /// 500 with a body that carries no message (a server failure, not a validation).
    ServerError,
    /// The thread-limit refusal (as if 3 calls were already in flight).
    ThreadLimit,
    /// Waits `delay_ms` before answering normally (use a delay longer than the client's timeout).
    Timeout { delay_ms: u64 },
    /// Performs the call (commits a write) and then waits `delay_ms`, so the client times out and
    /// never sees the id: the case that makes naive retries create duplicates.
    LoseResponse { delay_ms: u64 },
    /// Waits `delay_ms` and answers 503 without performing the call: a timeout before the commit.
    NoCommit { delay_ms: u64 },
    /// Performs the call, then breaks the connection in the middle of the answer (a reset after
    /// the request was sent): the client cannot tell whether the write happened.
    ConnectionReset,
    /// 500 with an `errors` text, as Autotask answers a value it refuses (nothing is written).
    ValidationError,
}

impl FaultKind {
    /// A short stable name, for the counters of injected faults.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Throttle { .. } => "throttle",
            FaultKind::ServerError => "server_error",
            FaultKind::ThreadLimit => "thread_limit",
            FaultKind::Timeout { .. } => "timeout",
            FaultKind::LoseResponse { .. } => "lose_response",
            FaultKind::NoCommit { .. } => "no_commit",
            FaultKind::ConnectionReset => "connection_reset",
            FaultKind::ValidationError => "validation_error",
        }
    }
}

/// Faults drawn at random for write calls (creates, updates, deletes; never reads or queries),
/// from a seeded generator so a run can be repeated: each write fails with probability `rate`
/// (at least `rate` of every route's calls, less one), with one of `kinds` chosen uniformly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chaos {
    pub seed: u64,
    pub rate: f64,
    pub kinds: Vec<FaultKind>,
}

/// Applies to the next `times` calls matching `endpoint` (collection, case-insensitive; `None` =
/// any) and `method` (`None` = any).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    pub endpoint: Option<String>,
    pub method: Option<String>,
    pub kind: FaultKind,
    pub times: u32,
}

#[derive(Debug, Default)]
struct Inner {
    calls: HashMap<(String, String), u64>,
    in_flight: HashMap<(String, String), usize>,
    peak: HashMap<String, usize>,
    thread_limit_refusals: u64,
    faults: Vec<FaultRule>,
    latency: Duration,
    chaos: Option<(Chaos, fastrand::Rng)>,
    /// `"POST Opportunities lose_response" -> n`, rules and chaos alike.
    injected: BTreeMap<String, u64>,
    /// Write calls seen by route (`"POST Opportunities"`), for the injected share.
    write_calls: BTreeMap<String, u64>,
}

/// Shared counters and controls; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Controls {
    inner: Arc<Mutex<Inner>>,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CounterSnapshot {
    /// `"POST Companies" -> n`.
    pub calls: HashMap<String, u64>,
    pub peak_in_flight: HashMap<String, usize>,
    pub thread_limit_refusals: u64,
    /// `"POST Opportunities lose_response" -> n`.
    pub injected: BTreeMap<String, u64>,
    /// Write calls by route (`"POST Opportunities" -> n`).
    pub write_calls: BTreeMap<String, u64>,
}

fn is_read(method: &str) -> bool {
    method.eq_ignore_ascii_case("GET")
}

impl Controls {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn record_call(&self, method: &str, endpoint: &str) {
        *self
            .lock()
            .calls
            .entry((method.to_ascii_uppercase(), endpoint.to_owned()))
            .or_default() += 1;
    }

    /// Counts a call entering `endpoint` for `integration_code`; `false` when `limit` were already
    /// in flight (the caller must refuse it). The peak counts attempted concurrency.
    pub(crate) fn enter(&self, integration_code: &str, endpoint: &str, limit: usize) -> bool {
        let mut g = self.lock();
        let key = (integration_code.to_owned(), endpoint.to_owned());
        let now = g.in_flight.get(&key).copied().unwrap_or(0) + 1;
        let peak = g.peak.entry(endpoint.to_owned()).or_default();
        *peak = (*peak).max(now);
        if now > limit {
            g.thread_limit_refusals += 1;
            return false;
        }
        g.in_flight.insert(key, now);
        true
    }

    pub(crate) fn leave(&self, integration_code: &str, endpoint: &str) {
        let mut g = self.lock();
        if let Some(n) = g.in_flight.get_mut(&(integration_code.to_owned(), endpoint.to_owned())) {
            *n = n.saturating_sub(1);
        }
    }

    /// The fault for this call: one use of the first matching rule, else (for a write) a draw
    /// of the chaos generator. Every injected fault is counted by route and kind.
    pub(crate) fn take_fault(&self, method: &str, endpoint: &str, write: bool) -> Option<FaultKind> {
        let mut g = self.lock();
        let route = format!("{} {endpoint}", method.to_ascii_uppercase());
        if write {
            *g.write_calls.entry(route.clone()).or_default() += 1;
        }
        let kind = match g.faults.iter().position(|r| {
            r.times > 0
                && r.endpoint.as_deref().is_none_or(|e| e.eq_ignore_ascii_case(endpoint))
                && r.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
        }) {
            Some(idx) => {
                g.faults[idx].times -= 1;
                let kind = g.faults[idx].kind.clone();
                if g.faults[idx].times == 0 {
                    g.faults.remove(idx);
                }
                kind
            }
            None if write => {
                let calls = g.write_calls.get(&route).copied().unwrap_or(0) as f64;
                let hit: u64 = g
                    .injected
                    .iter()
                    .filter(|(k, _)| k.starts_with(&route) && k.as_bytes().get(route.len()) == Some(&b' '))
                    .map(|(_, n)| n)
                    .sum();
                let (chaos, rng) = g.chaos.as_mut()?;
                // Drawn at random, but a route that fell behind `rate` is caught up, so every
                // write route gets its share however few calls it has.
                let behind = (hit as f64) < chaos.rate * calls - 1.0;
                if chaos.kinds.is_empty() || (rng.f64() >= chaos.rate && !behind) {
                    return None;
                }
                chaos.kinds[rng.usize(..chaos.kinds.len())].clone()
            }
            None => return None,
        };
        *g.injected.entry(format!("{route} {}", kind.name())).or_default() += 1;
        Some(kind)
    }

    /// Turns random faults on writes on (`Some`) or off (`None`).
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        self.lock().chaos = chaos.map(|c| {
            let rng = fastrand::Rng::with_seed(c.seed);
            (c, rng)
        });
    }

    pub fn latency(&self) -> Duration {
        self.lock().latency
    }

    /// Delay added to every API call (not zone discovery).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.lock().faults.push(rule);
    }

    /// Shorthand: the next `times` calls to `endpoint` fail with `kind`.
    pub fn fail_next(&self, endpoint: &str, times: u32, kind: FaultKind) {
        self.add_fault(FaultRule {
            endpoint: Some(endpoint.to_owned()),
            method: None,
            kind,
            times,
        });
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Calls with `method` on `endpoint` (collection name as Autotask spells it, e.g. `Companies`).
    pub fn calls(&self, method: &str, endpoint: &str) -> u64 {
        self.lock()
            .calls
            .get(&(method.to_ascii_uppercase(), endpoint.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// GET calls on `endpoint` (queries are POSTs: see `calls("POST", ..)`).
    pub fn reads(&self, endpoint: &str) -> u64 {
        self.lock()
            .calls
            .iter()
            .filter(|((m, e), _)| e == endpoint && is_read(m))
            .map(|(_, n)| n)
            .sum()
    }

    /// Non-GET calls on `endpoint` (POST creates and queries, PATCH, PUT, DELETE).
    pub fn writes(&self, endpoint: &str) -> u64 {
        self.lock()
            .calls
            .iter()
            .filter(|((m, e), _)| e == endpoint && !is_read(m))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.lock().calls.values().sum()
    }

    /// Highest number of concurrent calls seen on `endpoint` (including refused ones).
    pub fn peak_in_flight(&self, endpoint: &str) -> usize {
        self.lock().peak.get(endpoint).copied().unwrap_or(0)
    }

    pub fn thread_limit_refusals(&self) -> u64 {
        self.lock().thread_limit_refusals
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let g = self.lock();
        CounterSnapshot {
            calls: g.calls.iter().map(|((m, e), n)| (format!("{m} {e}"), *n)).collect(),
            peak_in_flight: g.peak.clone(),
            thread_limit_refusals: g.thread_limit_refusals,
            injected: g.injected.clone(),
            write_calls: g.write_calls.clone(),
        }
    }

    /// Zeroes counters and removes faults and latency.
    pub fn reset(&self) {
        let mut g = self.lock();
        let in_flight = std::mem::take(&mut g.in_flight);
        *g = Inner {
            in_flight,
            ..Inner::default()
        };
    }
}
