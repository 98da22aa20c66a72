//! The HTTP(S) server loop: accepts connections up to `server.max_connections`, bounds how long
//! a client may take over a TLS handshake, its first bytes (`conn_guard`) and a request head
//! (which in hyper also bounds an idle keep-alive connection), drops a connection whose
//! client stops reading (`server.write_stall_timeout`), tells every handler the peer's
//! address, and on shutdown stops accepting, lets open connections finish, and cuts whatever
//! is left at the deadline.
//!
//! Not `axum::serve`: it has no header timeout, connection cap or shutdown deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::conn_guard::Guarded;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// For the first bytes (which decide HTTP/1 or HTTP/2), for a TLS handshake, and for
    /// each HTTP/1 request head.
    pub header_read_timeout: Duration,
    /// A response write blocked this long (the client stopped reading) drops the connection.
    pub write_stall_timeout: Duration,
    pub max_connections: usize,
    /// How long open connections get to finish after shutdown begins.
    pub shutdown_deadline: Duration,
    /// Serve HTTPS with this configuration.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains (bounded).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    // HTTP/2 clients that never open a stream's flow-control window never block the socket,
    // so the write-stall guard cannot see them: what such a connection can pin is bounded
    // instead, to 64 streams of 64 KiB of buffered response each (hyper's defaults are 200
    // streams of up to 400 KiB).
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(64)
        .max_send_buf_size(64 * 1024);
    let builder = Arc::new(builder);
    let acceptor = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = peer_service(router.clone(), peer);
        let (builder, acceptor, watcher) = (builder.clone(), acceptor.clone(), graceful.watcher());
        let (first_bytes, stall) = (options.header_read_timeout, Some(options.write_stall_timeout));
        connections.spawn(async move {
            let _permit = permit;
            match acceptor {
                None => {
                    let io = Guarded::new(stream, Some(first_bytes), stall);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                Some(acceptor) => {
                    // Stalled writes are seen on the socket; the protocol's first bytes in
                    // the decrypted stream, once the handshake (bounded on its own) is done.
                    let socket = Guarded::new(stream, None, stall);
                    let Some(tls) = handshake(acceptor, socket, first_bytes).await else {
                        return;
                    };
                    let io = Guarded::new(tls, Some(first_bytes), None);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(options.shutdown_deadline) => {
            tracing::warn!(open = connections.len(), "connections still open at the shutdown deadline; closing them");
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: Guarded<TcpStream>,
    limit: Duration,
) -> Option<tokio_rustls::server::TlsStream<Guarded<TcpStream>>> {
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

type PeerService = TowerToHyperService<
    tower::util::BoxCloneSyncService<
        hyper::Request<Incoming>,
        axum::response::Response,
        std::convert::Infallible,
    >,
>;

/// The router with the peer's address in every request (`ConnectInfo`, as axum's own
/// `into_make_service_with_connect_info` gives it).
fn peer_service(router: Router, peer: SocketAddr) -> PeerService {
    let service = router.map_request(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.map(axum::body::Body::new)
    });
    TowerToHyperService::new(tower::util::BoxCloneSyncService::new(service))
}
