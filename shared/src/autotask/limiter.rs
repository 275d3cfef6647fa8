//! Autotask allows 3 concurrent calls per integration code and object endpoint; a 4th fails.
//! One semaphore per (tenant, endpoint) keeps this process under that limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::tenant::TenantId;

#[derive(Debug)]
pub struct Limiter {
    per_endpoint: usize,
    semaphores: Mutex<HashMap<(TenantId, String), Arc<Semaphore>>>,
}

impl Limiter {
    pub fn new(per_endpoint: usize) -> Self {
        Self {
            per_endpoint: per_endpoint.max(1),
            semaphores: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot on `endpoint` (the collection name, case-insensitive).
    pub async fn acquire(&self, tenant: &TenantId, endpoint: &str) -> OwnedSemaphorePermit {
        let sem = {
            let mut map = self.semaphores.lock().unwrap_or_else(|p| p.into_inner());
            map.entry((tenant.clone(), endpoint.to_ascii_lowercase()))
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_endpoint)))
                .clone()
        };
        sem.acquire_owned().await.expect("limiter semaphores are never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fourth_caller_waits_but_other_endpoints_and_tenants_do_not() {
        let l = Limiter::new(3);
        let t = TenantId::parse("t1").unwrap();
        let _held: Vec<_> = futures_util::future::join_all((0..3).map(|_| l.acquire(&t, "Companies"))).await;
        let fourth = tokio::time::timeout(std::time::Duration::from_millis(20), l.acquire(&t, "companies")).await;
        assert!(fourth.is_err(), "a 4th permit on the same endpoint must wait");
        let other = tokio::time::timeout(std::time::Duration::from_millis(20), l.acquire(&t, "Contacts")).await;
        assert!(other.is_ok());
        let t2 = TenantId::parse("t2").unwrap();
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), l.acquire(&t2, "Companies"))
                .await
                .is_ok()
        );
    }
}
