//! Push mode: each completion event is POSTed to the configured URL, signed with
//! `Sign = md5(key + T)` where `T` is the signature's expiry (now + 10 min), sent as the
//! `Sign` and `T` headers. Up to three attempts, a second apart.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::Emulator;

const SIGN_VALIDITY_SECS: i64 = 600;

pub fn send(emulator: Arc<Emulator>, body: Value) {
    let Some(url) = emulator.config.push_url.clone() else { return };
    tokio::spawn(async move {
        for attempt in 1..=3 {
            let mut req = emulator.http.post(&url).json(&body);
            if let Some(key) = &emulator.config.push_sign_key {
                let t = (emulator.clock.now_ms() / 1000 + SIGN_VALIDITY_SECS).to_string();
                req = req
                    .header("Sign", vidgate_providers::tencent::callback_sign(key, &t))
                    .header("T", t);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    emulator.count(|s| s.pushes_sent += 1);
                    return;
                }
                Ok(r) => tracing::warn!(status = %r.status(), attempt, "push callback refused"),
                Err(e) => tracing::warn!(error = %e, attempt, "push callback failed"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
