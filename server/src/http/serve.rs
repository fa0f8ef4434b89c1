//! Accepting client connections: HTTP/1.1 with a header-read timeout (it also closes idle
//! keep-alive connections), a cap on simultaneous connections, the client's address for the
//! handlers, and graceful shutdown. hyper answers requests it cannot parse (a malformed request
//! line, headers or a URI past its limits) itself, with an empty body; `JsonParseErrors` turns those
//! answers into the `{error, error_code, link}` form every other error has.

use crate::config::Limits;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Largest request head (request line and headers) hyper reads before answering 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open connections to end.
pub async fn serve(listener: TcpListener, app: Router, limits: &Limits, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(MAX_HEAD_BYTES).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // Past the cap, connections wait in the kernel's backlog until one ends.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(addr));
            req
        });
        let conn = http.serve_connection(TokioIo::new(JsonParseErrors::new(stream)), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%addr, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A client socket whose automatic parse-error answers from hyper get a JSON error body.
///
/// hyper writes such an answer as the last thing on a connection it is closing: a 4xx status line
/// and headers with `content-length: 0`, nothing else. Every answer of our own handlers that has an
/// error status carries a JSON body, so a bodiless 4xx head can only be hyper's.
struct JsonParseErrors {
    inner: TcpStream,
    /// A rewritten answer still being written, and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl JsonParseErrors {
    fn new(inner: TcpStream) -> JsonParseErrors {
        JsonParseErrors { inner, pending: None }
    }

    /// The JSON answer replacing `head`, if `head` is one of hyper's bodiless 4xx answers.
    fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(head).ok()?;
        let (status_line, headers) = text.strip_suffix("\r\n\r\n")?.split_once("\r\n")?;
        let mut parts = status_line.splitn(3, ' ');
        let (version, code) = (parts.next()?, parts.next()?);
        if !version.starts_with("HTTP/1.") || !code.starts_with('4') || code.len() != 3 {
            return None;
        }
        if !headers.lines().any(|h| h.eq_ignore_ascii_case("content-length: 0")) {
            return None;
        }
        let (error_code, message) = match code {
            "414" => ("URITooLong", "the request URI is too long"),
            "431" => ("RequestHeaderFieldsTooLarge", "the request headers are too large"),
            _ => ("BadRequest", "the request could not be parsed as HTTP/1.1"),
        };
        let body = serde_json::json!({"error": message, "error_code": error_code, "link": ""}).to_string();
        let kept: Vec<&str> = headers.lines().filter(|h| !h.to_ascii_lowercase().starts_with("content-length:")).collect();
        let mut out = format!("{status_line}\r\n");
        for h in kept {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()));
        Some(out.into_bytes())
    }

    /// Writes what is left of a rewritten answer; ready once all of it is written.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for JsonParseErrors {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for JsonParseErrors {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        if let Some(json) = Self::rewrite(buf) {
            self.pending = Some((json, 0));
            std::task::ready!(self.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (nonempty.next(), nonempty.next()) {
            if Self::rewrite(only).is_some() {
                return self.poll_write(cx, only);
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_client_error_heads_are_rewritten() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 10:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(JsonParseErrors::rewrite(hyper_431).expect("rewritten")).expect("utf-8");
        let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 431 ") && head.contains("content-type: application/json") && head.contains("date: "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(json["error_code"], "RequestHeaderFieldsTooLarge");
        for kept in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{\"partial\"",
            b"{\"a\": 1}",
        ] {
            assert!(JsonParseErrors::rewrite(kept).is_none(), "{}", String::from_utf8_lossy(kept));
        }
    }
}
