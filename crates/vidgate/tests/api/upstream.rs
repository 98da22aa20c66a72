//! The Tencent VOD emulator in-process on port 0, sharing the test's manual clock, and a
//! vidgate configured to use it.

use std::sync::Arc;
use std::time::Duration;
use vidgate_domain::Pool;

use vidgate::config::{Config, Secret, TencentAccountSettings};
use vidgate_domain::ManualClock;
use vidgate_emulator::{Emulator, EmulatorAccount, EmulatorConfig, router};

use crate::helpers::TestApp;

pub const SECRET_ID: &str = "AKIDtestUpstream";
pub const SECRET_KEY: &str = "test-upstream-secret-key-0123456789";
pub const SUB_APP: u64 = 251007502;

pub struct Upstream {
    pub emulator: Arc<Emulator>,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Upstream {
    pub async fn start(
        clock: Arc<ManualClock>,
        tweak: impl FnOnce(&mut EmulatorConfig),
    ) -> Upstream {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let account = EmulatorAccount {
            secret_id: SECRET_ID.into(),
            secret_key: SECRET_KEY.into(),
            sub_app_id: SUB_APP,
            concurrency: 1,
        };
        let mut config = EmulatorConfig::new(vec![account], dir.path().to_path_buf(), url.clone());
        config.queue_time = Duration::from_millis(500);
        config.processing_time = Duration::from_secs(3);
        config.pull_wait = Duration::ZERO;
        config.fps = 4;
        tweak(&mut config);
        let emulator = Emulator::new(config, clock);
        tokio::spawn(axum::serve(listener, router(emulator.clone())).into_future());
        Upstream { emulator, url, _dir: dir }
    }
}

/// vidgate with the Tencent provider pointed at `upstream`.
pub fn use_upstream(c: &mut Config, upstream: &Upstream) {
    c.provider.kind = vidgate::config::ProviderKind::Tencent;
    c.tencent.secret_id = SECRET_ID.into();
    c.tencent.secret_key = Secret::new(SECRET_KEY);
    c.tencent.sub_app_id = SUB_APP;
    c.tencent.endpoint = upstream.url.clone();
    c.tencent.request_timeout = Duration::from_secs(1);
    c.tencent.poll_initial = Duration::from_secs(1);
    c.tencent.poll_max = Duration::from_secs(2);
    c.tencent.events = vidgate_providers::tencent::EventMode::Off;
}

pub fn account(name: &str, sub_app_id: u64, upstream: &Upstream) -> TencentAccountSettings {
    TencentAccountSettings {
        name: name.into(),
        secret_id: format!("{SECRET_ID}{name}"),
        secret_key: Secret::new(format!("{SECRET_KEY}{name}")),
        sub_app_id,
        endpoint: Some(upstream.url.clone()),
        region: None,
        concurrency: Some(1),
        create_rate: None,
    }
}

/// Moves the shared clock a second at a time, letting the upstream, the dispatcher, the
/// poller and the reaper each take their step, until nothing holds a slot or is queued.
pub async fn drive(app: &TestApp, upstream: &Upstream, max_seconds: usize) {
    for _ in 0..max_seconds {
        app.dispatch_until_idle().await;
        upstream.emulator.step().await;
        app.poll_until_idle().await;
        app.reap().await;
        let busy: i64 =
            app.store.slots_in_use(Pool::Tencent).await.unwrap().iter().map(|(_, n)| n).sum();
        let (_, queued) = app.get_json("/tencent-vod/v1/aigc-video/requests?status=IN_QUEUE").await;
        if busy == 0 && queued["requests"].as_array().is_some_and(Vec::is_empty) {
            return;
        }
        app.advance(1000);
    }
    panic!("requests did not finish in {max_seconds} simulated seconds");
}
