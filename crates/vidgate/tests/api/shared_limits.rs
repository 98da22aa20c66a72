//! Per-key rate limits across replicas sharing one PostgreSQL: each replica counts the live
//! replicas from the store's heartbeat table and enforces its share of a key's rate and
//! burst, so a key spreading its calls over two replicas is refused as one replica would
//! refuse it. (How many replicas are counted, and when one stops counting, is the store's
//! contract case `replicas_are_counted_while_they_beat`.)

use std::sync::Arc;

use reqwest::StatusCode;
use vidgate::config::{Config, Secret};
use vidgate_domain::ManualClock;

use crate::helpers::{TestApp, small_request};

/// Creates and listings by `key`, round-robin over `apps`: 8 creates and 16 listings at
/// once, then, a second later, 4 and 8 more. What was admitted of each, in that order.
async fn admitted(apps: &[&TestApp], key: &str) -> [usize; 4] {
    let mut out = [0; 4];
    for (round, (creates, reads)) in [(8, 16), (4, 8)].into_iter().enumerate() {
        for i in 0..creates {
            let (code, _, body) =
                apps[i % apps.len()].post_create_as(key, &small_request("r")).await;
            match code {
                StatusCode::OK => out[2 * round] += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("a create answered {other}: {body}"),
            }
        }
        for i in 0..reads {
            let app = apps[i % apps.len()];
            let url = app.queue_url("/requests?limit=1");
            let r = app.http.get(url).bearer_auth(key).send().await.unwrap();
            match r.status() {
                StatusCode::OK => out[2 * round + 1] += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("a listing answered {other}"),
            }
        }
        apps[0].advance(1000);
    }
    out
}

#[tokio::test]
async fn on_postgres_two_replicas_refuse_a_key_at_twice_its_rate_as_one_would() {
    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, db_name) = crate::replicas::fresh_database(&admin).await;
    let clock = Arc::new(ManualClock::starting_now());
    let limits = |c: &mut Config| {
        c.store.database_url = Secret::new(db_url.clone());
        c.limits.create_rate = 2.0;
        c.limits.create_burst = 4;
        c.limits.read_rate = 4.0;
        c.limits.read_burst = 8;
    };
    let one = TestApp::spawn_with_clock(clock.clone(), limits).await;
    assert_eq!(one.beat().await, 1);
    let key = one.new_key("alone").await;
    // One replica: a burst of 4 creates and 8 reads, then 2 and 4 a second later. Each round
    // sends twice that, so half is refused.
    let alone = admitted(&[&one], &key).await;
    assert_eq!(alone, [4, 8, 2, 4]);

    let two = TestApp::spawn_with_clock(clock.clone(), limits).await;
    assert_eq!((one.beat().await, two.beat().await), (2, 2), "both count both");
    assert_eq!((one.rates.replicas(), two.rates.replicas()), (2, 2));
    let key = one.new_key("split").await;
    let split = admitted(&[&one, &two], &key).await;
    assert_eq!(split, alone, "two replicas admit what one does");

    // The control: were each to enforce the whole limit, the same calls would pass twice over.
    one.rates.set_replicas(1);
    two.rates.set_replicas(1);
    let key = one.new_key("unshared").await;
    assert_eq!(admitted(&[&one, &two], &key).await, [8, 16, 4, 8]);

    drop((one, two));
    crate::replicas::drop_database(&admin, &db_name).await;
}
