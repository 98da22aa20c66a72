//! One behavioural contract every backend keeps. Each case is a plain async function over a
//! fresh `&dyn Store`; `store_contract_tests!(make_store())` expands them into `#[tokio::test]`
//! functions, so SQLite and PostgreSQL run the very same assertions.

mod accounts;
mod dedup;
mod keys;
mod limits;
mod media;
mod money_totals;
mod positions;
mod queue;
mod requests;
mod settlement;
mod stats;
mod webhooks;

pub use accounts::*;
pub use dedup::*;
pub use keys::*;
pub use limits::*;
pub use media::*;
pub use money_totals::*;
pub use positions::*;
pub use queue::*;
pub use requests::*;
pub use settlement::*;
pub use stats::*;
pub use webhooks::*;

use serde_json::json;
use vidgate_domain::Pool;
use vidgate_domain::{
    FileRef, Millis, OutputFile, ParseOptions, RequestId, StoredResult, Variant, VideoRequest,
    parse_create_request,
};

use crate::{InsertOutcome, NewTask, Store, TaskRecord};

/// The fixed "now" contract cases start from.
pub const T0: Millis = 1_790_000_000_000;
pub const HOUR: Millis = 3_600_000;

/// Expands every contract case into a `#[tokio::test]`; `$make` is an expression (usually an
/// async fn call) that yields `Option<S>` per test, where `S` derefs to a fresh `dyn Store`;
/// `None` skips the case (a backend whose server is not configured).
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::__store_contract_cases!($make;
            inserted_tasks_read_back_exactly_as_written,
            another_keys_task_does_not_exist,
            listing_pages_newest_first_and_filters_by_state,
            listing_pages_oldest_first_after_a_cursor,
            a_forgotten_task_is_gone_for_its_key_but_not_for_workers,
            logs_accumulate_in_order,
            a_first_log_line_stored_by_an_earlier_build_shows_once,
            cancelling_a_queued_task_ends_it_without_dispatch,
            a_cancel_after_dispatch_flags_the_request_and_it_runs_on,
            cancel_answers_already_completed_and_not_found,
            dispatch_order_is_rank_then_arrival,
            queue_position_counts_only_tasks_ahead_in_the_same_pool,
            a_grouped_insert_answers_positions_across_pools_and_ranks,
            claims_respect_each_accounts_slot_limit,
            concurrent_claims_never_double_claim_or_exceed_the_limit,
            a_stale_lease_cannot_overwrite_a_newer_attempt,
            a_requeued_task_waits_for_its_backoff,
            a_task_back_in_the_queue_goes_to_the_account_of_its_attempt,
            poll_claims_take_only_due_unleased_running_tasks,
            completion_is_fenced_and_final,
            heartbeats_extend_only_a_lease_still_held,
            queue_positions_stay_true_through_every_transition,
            events_make_a_running_task_due_by_request_or_upstream_id,
            an_event_during_a_poll_is_not_deferred_by_it,
            events_bring_a_poll_no_closer_than_the_gap_after_the_last,
            a_step_that_keeps_crashing_fails_after_the_limit,
            the_reaper_sweeps_in_bounded_batches,
            the_reaper_requeues_expired_submits_and_releases_polls,
            the_reaper_fails_tasks_past_their_deadline,
            session_ids_conflict_per_key_until_they_expire,
            idempotency_keys_replay_the_same_body_and_refuse_another,
            concurrent_inserts_with_one_idempotency_key_insert_once,
            a_forgotten_request_frees_its_idempotency_key,
            keys_are_created_listed_found_and_revoked,
            key_names_are_unique_among_active_keys_and_bootstrap_keys_retire,
            webhook_secrets_initialise_once_and_rotate_with_an_overlap,
            a_delivery_is_enqueued_once_whenever_a_task_with_a_webhook_ends,
            deliveries_are_claimed_fenced_retried_and_redelivered,
            queue_limits_refuse_inserts_past_them_and_free_up_as_tasks_leave,
            many_concurrent_creates_each_commit_once_in_order,
            key_limits_are_stored_per_key,
            replicas_are_counted_while_they_beat,
            queue_stats_count_states_and_find_the_oldest_queued,
            holds_settle_and_release_exactly_once_whoever_ends_the_task,
            budgets_refuse_what_they_cannot_cover_and_store_nothing,
            concurrent_creates_never_overspend_a_budget,
            a_balance_is_the_sum_of_its_ledger_after_a_random_run,
            the_balance_row_is_its_ledger_across_days_and_months,
            a_batch_across_midnight_counts_every_hold_once_in_the_day_it_was_checked,
            a_key_at_its_max_running_is_passed_over_not_blocking_the_queue,
            a_job_past_its_deadline_keeps_its_hold_until_its_end_is_known,
            a_charge_above_the_hold_is_capped_and_the_excess_recorded,
            a_detached_submit_is_given_its_job_when_it_turns_up,
            a_cancel_after_dispatch_is_charged_when_the_job_succeeds,
            a_cancel_after_dispatch_is_released_when_the_upstream_fails_it,
            an_adjustment_cannot_overdraw_a_prepaid_balance,
            media_rows_replace_on_recopy_expire_in_order_and_delete_once,
        );
    };
}

#[macro_export]
#[doc(hidden)]
macro_rules! __store_contract_cases {
    ($make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                // `None`: this backend is not configured here, which `$make` has already said
                // (and which fails the test under CI).
                let Some(store) = $make.await else { return };
                $crate::contract::$case(&*store).await;
                $crate::contract::Teardown::teardown(store).await;
            }
        )*
    };
}

/// What a contract store does after a case passed (drop its schema, close its pool).
pub trait Teardown {
    fn teardown(self) -> impl std::future::Future<Output = ()> + Send;
}

impl<T: ?Sized + Send + Sync> Teardown for std::sync::Arc<T> {
    async fn teardown(self) {}
}

pub fn request(prompt: &str) -> VideoRequest {
    let body = json!({"model_name": "Kling", "model_version": "2.1", "prompt": prompt});
    parse_create_request(&body, &ParseOptions::default()).expect("contract request is valid")
}

/// A success's result: one file vidgate keeps (with its cover) and one at the upstream.
pub fn result() -> StoredResult {
    let mut own = OutputFile::new(FileRef::own(Variant::VIDEO), "video/mp4", "a.mp4");
    own.cover = Some(FileRef::own(Variant::COVER));
    own.expires_at = Some(1_700_000_000_000);
    let upstream = OutputFile::new(FileRef::external("https://x/y.mp4"), "video/mp4", "y.mp4");
    let mut r = StoredResult::of("Kling", "2.1", vec![own, upstream]);
    r.upstream_task_id = Some("up-1".into());
    r
}

pub fn new_task(key: &str, rank: i64, at: Millis) -> NewTask {
    NewTask {
        id: RequestId::new(),
        key_id: key.into(),
        pool: Pool::Sandbox,
        rank,
        request: request("a red fox"),
        created_at: at,
        deadline_at: at + 24 * HOUR,
        session: None,
        idempotency: None,
        webhook_url: None,
        public_base: None,
        limits: Default::default(),
        quote: None,
    }
}

/// Inserts `task`; the record the insert answers must be the row as stored (inserts build it
/// instead of reading it back), and a position it read must be the one `queue_position`
/// reads.
pub async fn insert(store: &dyn Store, task: NewTask) -> TaskRecord {
    match store.insert_task(task).await.expect("insert") {
        InsertOutcome::Inserted { task: t, position } => {
            let stored = store.get_task_any(t.id).await.expect("read back").expect("stored");
            assert_eq!(t, stored, "an insert answers the task as stored");
            if let Some(position) = position {
                let read = store.queue_position(&t).await.expect("position");
                assert_eq!(position, read, "the insert's position of {}", t.id);
            }
            t
        }
        other => panic!("expected Inserted, got {other:?}"),
    }
}

/// A tiny join_all over borrowed futures (they cannot be `tokio::spawn`ed: they borrow).
pub(crate) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future finished")).collect()
}
