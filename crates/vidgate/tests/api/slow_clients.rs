//! Slow and greedy clients: unfinished request heads and trickling bodies are cut at their
//! timeouts, and the connection cap holds, while other clients keep being served.

use std::time::{Duration, Instant};
use vidgate_domain::Pool;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// Waits until the server closes `s` (EOF or reset); returns how long that took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + limit).into(), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {} // an error answer (408) before the close
        }
    }
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn half_open_request_heads_are_closed_at_the_timeout_while_others_are_served() {
    let app = TestApp::spawn_with(|c| c.server.header_read_timeout = Duration::from_secs(1)).await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    // Another client is served at once meanwhile.
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for (i, s) in slow.iter_mut().enumerate() {
        let took = closed_within(s, Duration::from_secs(5)).await;
        assert!(took.is_some(), "half-open connection {i} was still open after 5 s");
    }
    // An idle keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let took = closed_within(&mut idle, Duration::from_secs(5)).await;
    assert!(took.is_some(), "an idle keep-alive connection stayed open");
}

#[tokio::test]
async fn a_trickling_body_is_cut_at_the_body_timeout() {
    let app = TestApp::spawn_with(|c| c.server.body_read_timeout = Duration::from_secs(1)).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let head = format!(
        "POST /tencent-vod/v1/aigc-video HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"prompt\":",
        app.key
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let took = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(took.is_some(), "a body that never finishes kept its connection");
    assert_eq!(app.store.queue_stats(Pool::Sandbox).await.unwrap().queued, 0, "nothing was stored");
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let app = TestApp::spawn_with(|c| {
        c.server.max_connections = 4;
        c.server.header_read_timeout = Duration::from_secs(2);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_millis(1200),
        "the fifth connection was served after {waited:?}, before any of the four was cut"
    );
    drop(held);
}

#[tokio::test]
async fn sockets_that_never_speak_are_closed_and_do_not_starve_the_cap() {
    let app = TestApp::spawn_with(|c| {
        c.server.max_connections = 8;
        c.server.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut silent = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        // Some say nothing at all; some stop inside the HTTP/2 preface, where the protocol
        // is still undecided (HTTP/1's own header timeout has not started there either).
        if i % 2 == 1 {
            s.write_all(b"PRI * HTTP/2").await.unwrap();
        }
        silent.push(s);
    }
    // Every slot is held by a silent socket; the next client is served once they are cut.
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), app.http.get(app.url("/healthz")).send())
        .await
        .expect("healthz answered while silent sockets held every connection slot")
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5), "served after {:?}", started.elapsed());
    for (i, s) in silent.iter_mut().enumerate() {
        let took = closed_within(s, Duration::from_secs(5)).await;
        assert!(took.is_some(), "silent connection {i} was still open after 5 s");
    }
}

/// A connection with a 2 KB receive buffer that asks for `path` and then reads nothing.
async fn non_reader(app: &TestApp, path: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let mut s = socket.connect(addr(app).parse().unwrap()).await.unwrap();
    let head =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", app.key);
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

#[tokio::test]
async fn clients_that_never_read_a_video_are_dropped_at_the_write_stall_timeout() {
    // Five connections: the test client's own (kept alive after its first calls) and four
    // clients that never read.
    let app = TestApp::spawn_with(|c| {
        c.server.max_connections = 5;
        c.server.header_read_timeout = Duration::from_secs(60);
        c.server.write_stall_timeout = Duration::from_secs(1);
    })
    .await;
    let id = app.create(&crate::helpers::small_request("a video nobody reads")).await;
    app.drive_to_completion().await;
    // Make the kept video 32 MB, far more than the socket buffers between the two ends hold.
    let id_parsed: vidgate_domain::RequestId = id.parse().unwrap();
    let mut object = app
        .store
        .media_of(id_parsed)
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.variant == "video")
        .expect("the sandbox kept the video");
    let big = 32 * 1024 * 1024;
    let path = app.data_dir.join("media").join(&object.object_key);
    std::fs::write(&path, vec![7u8; big]).unwrap();
    object.size = big as i64;
    app.store.record_media(object).await.unwrap();
    let content = format!("/tencent-vod/v1/aigc-video/requests/{id}/content");
    let mut readers = Vec::new();
    for _ in 0..4 {
        readers.push(non_reader(&app, &content).await);
    }
    // Every slot is held by a client that reads nothing; they are dropped after a second of
    // no progress, and a new client is served.
    let started = Instant::now();
    let fresh = reqwest::Client::new();
    let r = tokio::time::timeout(Duration::from_secs(10), fresh.get(app.url("/healthz")).send())
        .await
        .expect("healthz answered while non-readers held every connection slot")
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(6), "served after {:?}", started.elapsed());
    // Each is cut a second after its own writes blocked, and reading now would be progress:
    // give the last of them time to be cut before looking.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // What each got before the cut is far less than the file: the server gave up on it.
    for (i, s) in readers.iter_mut().enumerate() {
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => got += n,
                Err(_) => panic!("non-reader {i} was still connected after {got} bytes"),
            }
        }
        assert!(got < big, "non-reader {i} got the whole file ({got} bytes)");
    }
    // A client that reads gets the whole file.
    let r = fresh.get(app.url(&content)).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), big);
}
