//! Import and Map as a background job, in steps no longer than a page: a confirmed form starts
//! the job ([`start_job`]); each step ([`run_step`], fed by the job queue) reads one page of
//! ChannelOnline customers and keeps it in the sync-state store, and the last step reads the
//! Autotask companies and stores the proposals exactly as [`super::propose_pairs`] does. The
//! job's progress is one checkpoint document, read by the screen ([`job_status`]) without
//! writing. Steps hold the proposal run's lease, so two never run at once (nor a step and a
//! whole run); a step message delivered twice is recognised by its number and does nothing.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::map::{RUN_LEASE, latest_run, match_and_store};
use crate::app::TenantContext;
use crate::channelonline::{Customer, PageRequest};
use crate::store::{StoreError, StoredRunRecord};
use crate::sync::error::{SyncError, SyncResult};
use crate::sync::{Busy, with_lease};
use crate::tenant::TenantId;

/// The environment variable naming the job queue (SQS); unset (locally), [`run_to_end`] runs
/// the steps one after the other in the calling process.
pub const JOB_QUEUE_URL_VAR: &str = "MAP_CUSTOMERS_QUEUE_URL";
/// The `kind` of a step message on the job queue.
pub const STEP_KIND: &str = "map-customers.step";
/// The checkpoint holding the tenant's latest job.
const JOB: &str = "map-customers.job";
/// ChannelOnline customers read per step (a page is kept as one document).
pub const CUSTOMERS_PER_STEP: u32 = 100;
/// A running job that has not moved for this long is taken as stopped: a new one may start.
const STALLED_AFTER: Duration = Duration::minutes(15);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum JobPhase {
    /// Reading ChannelOnline customers; `next_page` is the next page to read.
    Reading {
        next_page: u32,
    },
    /// Every customer is read: the next step reads Autotask and matches.
    Matching,
    Done {
        run_id: String,
        proposals: usize,
        col_unmatched: usize,
        at_unmatched: usize,
    },
    Failed {
        reason: String,
    },
}

/// One Import and Map job of a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapJob {
    pub job_id: String,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Steps done; the next step's message carries this number.
    pub steps_done: u32,
    /// Pages of customers kept so far (documents `1..=col_pages`).
    pub col_pages: u32,
    pub customers_read: usize,
    /// How many customers the previous run read, to size the progress bar (`None`: no run yet).
    pub expected_customers: Option<usize>,
    #[serde(flatten)]
    pub phase: JobPhase,
}

impl MapJob {
    pub fn running(&self) -> bool {
        matches!(self.phase, JobPhase::Reading { .. } | JobPhase::Matching)
    }

    /// Running and moved on lately: a job whose steps were lost (its queue message ended in
    /// the dead-letter queue) stops counting as running after [`STALLED_AFTER`].
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.running() && now - self.updated_at < STALLED_AFTER
    }

    /// `(steps done, steps expected)` for a progress bar: one step a page, and the matching.
    pub fn progress(&self) -> (u32, u32) {
        let pages = self
            .expected_customers
            .map_or(1, |n| (n as u32).div_ceil(CUSTOMERS_PER_STEP).max(1));
        let expected = (pages + 1).max(self.steps_done + u32::from(self.running()));
        if self.running() {
            (self.steps_done, expected)
        } else {
            (expected, expected)
        }
    }

    fn next_step(&self, tenant: &TenantId) -> StepMessage {
        StepMessage {
            kind: STEP_KIND.into(),
            tenant: tenant.clone(),
            job_id: self.job_id.clone(),
            step: self.steps_done,
        }
    }
}

/// The job queue's message: do step `step` of job `job_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMessage {
    pub kind: String,
    pub tenant: TenantId,
    pub job_id: String,
    pub step: u32,
}

/// What a step leaves to do.
#[derive(Clone, Debug, PartialEq)]
pub enum StepOutcome {
    /// Send this message for the next step.
    Next(StepMessage),
    /// The job is done (or failed): nothing more to send.
    Finished,
    /// The message is not for the current step of a running job (a repeat): ignore it.
    Stale,
}

fn corrupt(e: serde_json::Error) -> SyncError {
    StoreError::Corrupt(e.to_string()).into()
}

/// The tenant's latest job, if any. Reads only.
pub async fn job_status(ctx: &TenantContext) -> SyncResult<Option<MapJob>> {
    let Some(doc) = ctx.sync_state.get_checkpoint(&ctx.tenant, JOB).await? else {
        return Ok(None);
    };
    serde_json::from_value(doc.doc).map(Some).map_err(corrupt)
}

fn busy() -> Busy {
    Busy {
        code: "proposal_run_in_progress",
        message: "Import and Map is already reading both systems for this account.".into(),
        fix: "Wait for it to finish: the Map Customers screen shows its progress.".into(),
    }
}

/// Records a new job and returns its first step's message (to send). Refused while another
/// job of the tenant is running (unless it has stalled).
pub async fn start_job(ctx: &TenantContext) -> SyncResult<(MapJob, StepMessage)> {
    let now = ctx.clock.now();
    let current = ctx.sync_state.get_checkpoint(&ctx.tenant, JOB).await?;
    if let Some(c) = &current {
        let job: MapJob = serde_json::from_value(c.doc.clone()).map_err(corrupt)?;
        if job.active(now) {
            return Err(busy().into_error(None));
        }
    }
    let job = MapJob {
        job_id: StoredRunRecord::new_id(now),
        started_at: now,
        updated_at: now,
        steps_done: 0,
        col_pages: 0,
        customers_read: 0,
        expected_customers: latest_run(ctx).await?.map(|r| r.col_customers),
        phase: JobPhase::Reading { next_page: 1 },
    };
    let doc = serde_json::to_value(&job).map_err(corrupt)?;
    match ctx
        .sync_state
        .put_checkpoint(&ctx.tenant, JOB, &doc, current.map(|c| c.version), now)
        .await
    {
        Ok(_) => {}
        Err(StoreError::VersionConflict { .. }) => return Err(busy().into_error(None)),
        Err(e) => return Err(e.into()),
    }
    let first = job.next_step(&ctx.tenant);
    Ok((job, first))
}

/// Does the step `msg` names, holding the run lease (a held lease is a retryable conflict).
pub async fn run_step(ctx: &TenantContext, msg: &StepMessage) -> SyncResult<StepOutcome> {
    let held = Busy {
        code: "map_step_in_progress",
        message: "Another step of Import and Map is running for this account.".into(),
        fix: "The step is tried again by itself.".into(),
    };
    with_lease(ctx, RUN_LEASE, held, || step_under_lease(ctx, msg)).await
}

/// Runs the job's steps one after the other from `first` (no job queue: the local stack).
pub async fn run_to_end(ctx: &TenantContext, first: StepMessage) -> SyncResult<()> {
    let mut next = first;
    loop {
        match run_step(ctx, &next).await {
            Ok(StepOutcome::Next(m)) => next = m,
            Ok(StepOutcome::Finished | StepOutcome::Stale) => return Ok(()),
            Err(e) => {
                fail_job(ctx, &next, e.to_string()).await?;
                return Err(e);
            }
        }
    }
}

async fn step_under_lease(ctx: &TenantContext, msg: &StepMessage) -> SyncResult<StepOutcome> {
    let Some(stored) = ctx.sync_state.get_checkpoint(&ctx.tenant, JOB).await? else {
        return Ok(StepOutcome::Stale);
    };
    let mut job: MapJob = serde_json::from_value(stored.doc).map_err(corrupt)?;
    if job.job_id != msg.job_id || !job.running() {
        return Ok(StepOutcome::Stale);
    }
    if msg.step + 1 == job.steps_done {
        // The step was done but its successor may not have been sent: send it again.
        return Ok(StepOutcome::Next(job.next_step(&ctx.tenant)));
    }
    if msg.step != job.steps_done {
        return Ok(StepOutcome::Stale);
    }
    job.phase = match job.phase {
        JobPhase::Reading { next_page } => read_page(ctx, &mut job, next_page).await?,
        JobPhase::Matching => {
            let customers = kept_customers(ctx, job.col_pages).await?;
            let run = match_and_store(ctx, job.started_at, &customers).await?;
            JobPhase::Done {
                run_id: run.run_id,
                proposals: run.proposals.len(),
                col_unmatched: run.col_unmatched.len(),
                at_unmatched: run.at_unmatched.len(),
            }
        }
        done => done,
    };
    job.steps_done += 1;
    job.updated_at = ctx.clock.now();
    save(ctx, &job, Some(stored.version)).await?;
    Ok(if job.running() {
        StepOutcome::Next(job.next_step(&ctx.tenant))
    } else {
        StepOutcome::Finished
    })
}

async fn save(ctx: &TenantContext, job: &MapJob, version: Option<u64>) -> SyncResult<()> {
    let doc = serde_json::to_value(job).map_err(corrupt)?;
    ctx.sync_state
        .put_checkpoint(&ctx.tenant, JOB, &doc, version, ctx.clock.now())
        .await?;
    Ok(())
}

fn page_doc(page: u32) -> String {
    format!("{JOB}.customers.{page}")
}

/// Reads page `page` of the customers and keeps it; the phase after it.
async fn read_page(ctx: &TenantContext, job: &mut MapJob, page: u32) -> SyncResult<JobPhase> {
    let got = ctx
        .channelonline
        .list_customers_modified_since(
            DateTime::<Utc>::UNIX_EPOCH,
            PageRequest {
                number: page,
                size: CUSTOMERS_PER_STEP,
            },
        )
        .await?;
    let name = page_doc(page);
    let doc = serde_json::json!({ "job_id": job.job_id, "customers": got.customers });
    let current = ctx.sync_state.get_checkpoint(&ctx.tenant, &name).await?;
    ctx.sync_state
        .put_checkpoint(&ctx.tenant, &name, &doc, current.map(|c| c.version), ctx.clock.now())
        .await?;
    job.col_pages = page;
    job.customers_read += got.customers.len();
    Ok(match got.next {
        Some(next) => JobPhase::Reading { next_page: next.number },
        None => JobPhase::Matching,
    })
}

async fn kept_customers(ctx: &TenantContext, pages: u32) -> SyncResult<Vec<Customer>> {
    let mut out: Vec<Customer> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for page in 1..=pages {
        let Some(doc) = ctx.sync_state.get_checkpoint(&ctx.tenant, &page_doc(page)).await? else {
            return Err(StoreError::Corrupt(format!("page {page} of the customers read is missing")).into());
        };
        let customers: Vec<Customer> = serde_json::from_value(doc.doc["customers"].clone()).map_err(corrupt)?;
        // A customer changed while the job ran may have moved to a later page: keep it once.
        out.extend(customers.into_iter().filter(|c| seen.insert(c.number.clone())));
    }
    Ok(out)
}

/// Marks the job failed with `reason` (a step failed for good): the screen shows why, and a
/// new job may start at once.
pub async fn fail_job(ctx: &TenantContext, msg: &StepMessage, reason: String) -> SyncResult<()> {
    let Some(stored) = ctx.sync_state.get_checkpoint(&ctx.tenant, JOB).await? else {
        return Ok(());
    };
    let mut job: MapJob = serde_json::from_value(stored.doc).map_err(corrupt)?;
    if job.job_id != msg.job_id || !job.running() {
        return Ok(());
    }
    job.phase = JobPhase::Failed { reason };
    job.updated_at = ctx.clock.now();
    save(ctx, &job, Some(stored.version)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(phase: JobPhase, steps_done: u32, expected: Option<usize>) -> MapJob {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        MapJob {
            job_id: "j".into(),
            started_at: t,
            updated_at: t,
            steps_done,
            col_pages: steps_done,
            customers_read: 0,
            expected_customers: expected,
            phase,
        }
    }

    #[test]
    fn progress_counts_a_step_a_page_and_the_matching_and_is_full_when_done() {
        assert_eq!(job(JobPhase::Reading { next_page: 3 }, 2, Some(450)).progress(), (2, 6));
        // More pages than the last run had: the bar grows instead of overflowing.
        assert_eq!(job(JobPhase::Reading { next_page: 8 }, 7, Some(450)).progress(), (7, 8));
        assert_eq!(job(JobPhase::Reading { next_page: 1 }, 0, None).progress(), (0, 2));
        let done = JobPhase::Done {
            run_id: "r".into(),
            proposals: 1,
            col_unmatched: 0,
            at_unmatched: 0,
        };
        assert_eq!(job(done, 6, Some(450)).progress(), (6, 6));
    }

    #[test]
    fn the_job_document_keeps_its_phase_flat() {
        let j = job(JobPhase::Reading { next_page: 2 }, 1, None);
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(
            (v["phase"].as_str(), v["next_page"].as_u64()),
            (Some("reading"), Some(2))
        );
        assert_eq!(serde_json::from_value::<MapJob>(v).unwrap(), j);
    }
}
