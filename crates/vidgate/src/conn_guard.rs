//! A connection's byte stream with the two deadlines hyper lacks. The first bytes must arrive
//! in time: hyper's auto builder reads them to tell HTTP/1 from HTTP/2 with no timer (its
//! header timeout starts only once HTTP/1 is chosen), so a socket that never speaks, or stops
//! in the middle of the HTTP/2 preface, would hold a connection slot for ever. And a write
//! must make progress: a client that stops reading a response (a video, through a signed URL
//! anyone may hold) would otherwise keep its connection, and megabytes queued for it, as
//! long as it likes.
//!
//! Written here rather than taken from a crate: `tokio-io-timeout` bounds every pending read,
//! which would cut idle keep-alive connections and status streams whose client only listens.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// What an HTTP/2 client sends first; anything else is HTTP/1, decided at the first byte
/// that differs.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub struct Guarded<S> {
    inner: S,
    /// Until the protocol is known: the deadline for the bytes that decide it.
    first_bytes: Option<Pin<Box<Sleep>>>,
    /// How many bytes of the HTTP/2 preface have been seen so far.
    preface_seen: usize,
    /// A write that stays blocked this long fails (`None`: no limit).
    write_stall: Option<Duration>,
    /// Since when writes have been blocked, as the deadline they must move by.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> Guarded<S> {
    /// `first_bytes`: the time the client has to send what decides its protocol (`None`: no
    /// limit, e.g. under TLS, whose decrypted stream is guarded instead). `write_stall`: how
    /// long a write may stay blocked.
    pub fn new(inner: S, first_bytes: Option<Duration>, write_stall: Option<Duration>) -> Self {
        Guarded {
            inner,
            first_bytes: first_bytes.map(|d| Box::pin(tokio::time::sleep(d))),
            preface_seen: 0,
            write_stall: write_stall.filter(|d| !d.is_zero()),
            stalled: None,
        }
    }

    /// Notes bytes just read; the first-bytes deadline ends once they decide the protocol.
    fn saw(&mut self, bytes: &[u8]) {
        if self.first_bytes.is_none() || bytes.is_empty() {
            return;
        }
        let rest = &H2_PREFACE[self.preface_seen..];
        let n = bytes.len().min(rest.len());
        if bytes[..n] != rest[..n] {
            self.first_bytes = None;
            return;
        }
        self.preface_seen += n;
        if self.preface_seen == H2_PREFACE.len() {
            self.first_bytes = None;
        }
    }

    /// A blocked write: fails once it has been blocked for `write_stall`.
    fn blocked(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(limit) = self.write_stall else { return Poll::Pending };
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing of the response for too long",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.saw(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let expired =
                    self.first_bytes.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent no request in time",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Guarded<S> {
    /// Runs one write-side call. Bytes written clear the stall; a blocked call counts towards
    /// it. A finished flush is not progress: on a socket it is always ready, and a client
    /// that reads nothing would otherwise reset the clock at every flush.
    fn write_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        wrote: impl FnOnce(&T) -> bool,
        call: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match call(Pin::new(&mut self.inner), cx) {
            Poll::Ready(out) => {
                if out.as_ref().is_ok_and(wrote) {
                    self.stalled = None;
                }
                Poll::Ready(out)
            }
            Poll::Pending => match self.blocked(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_with(cx, |n| *n > 0, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_with(cx, |n| *n > 0, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.write_with(cx, |_| false, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.write_with(cx, |_| false, |s, cx| s.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out_and_a_talking_one_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, Some(Duration::from_secs(5)), None);
        let started = Instant::now();
        let mut buf = [0u8; 8];
        let err = guarded.read(&mut buf).await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(5));
        drop(client);

        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, Some(Duration::from_secs(5)), None);
        client.write_all(b"GET").await.expect("write");
        assert_eq!(guarded.read(&mut buf).await.expect("bytes"), 3);
        // HTTP/1 decided at the first byte: later reads wait as long as they like.
        assert!(guarded.first_bytes.is_none());
        let waited = tokio::time::timeout(Duration::from_secs(60), guarded.read(&mut buf)).await;
        assert!(waited.is_err(), "no deadline once the protocol is known");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_stopping_inside_the_http2_preface_still_times_out() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, Some(Duration::from_secs(5)), None);
        let deadline = guarded.first_bytes.as_ref().expect("armed").deadline();
        client.write_all(b"PRI * HT").await.expect("write");
        let mut buf = [0u8; 64];
        assert_eq!(guarded.read(&mut buf).await.expect("bytes"), 8);
        let err = guarded.read(&mut buf).await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(Instant::now() >= deadline);

        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, Some(Duration::from_secs(5)), None);
        client.write_all(H2_PREFACE).await.expect("write");
        let mut got = 0;
        while got < H2_PREFACE.len() {
            got += guarded.read(&mut buf).await.expect("bytes");
        }
        assert!(guarded.first_bytes.is_none(), "a whole preface decides HTTP/2");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_blocked_past_the_stall_limit_fails_and_progress_resets_it() {
        let (mut client, server) = tokio::io::duplex(16);
        let mut guarded = Guarded::new(server, None, Some(Duration::from_secs(3)));
        guarded.write_all(&[1; 16]).await.expect("fits the buffer");
        // The client reads a little every two seconds: never stalled for three.
        for _ in 0..3 {
            let writer = guarded.write_all(&[2; 8]);
            let reader = async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let mut b = [0u8; 8];
                client.read_exact(&mut b).await.expect("read")
            };
            let (w, _) = tokio::join!(writer, reader);
            w.expect("progress keeps the connection");
        }
        let started = Instant::now();
        let err = guarded.write_all(&[3; 64]).await.expect_err("stalled");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}
