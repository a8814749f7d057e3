//! `msg-relay healthcheck`: asks a running relay for `GET /healthz` over plain TCP; and the
//! one-shot HTTP exchange it is made of, which the operator's requests use too.
//!
//! Container images run it as their `HEALTHCHECK`, so the runtime image needs no curl. It is
//! blocking std code on purpose: it starts, asks once, and exits.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Why a health check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// Nothing answered at the address. The OS error is the [`source`](std::error::Error::source),
    /// not part of this text, so that an error chain (`{:#}`) names it once.
    #[error("cannot reach the relay at {addr}")]
    Unreachable {
        /// Where the check looked.
        addr: SocketAddr,
        /// The connection or read error.
        source: std::io::Error,
    },
    /// Something answered, but not `200 OK`.
    #[error("the relay at {addr} answered {status_line:?} instead of 200 OK")]
    Unhealthy {
        /// Where the check looked.
        addr: SocketAddr,
        /// The HTTP status line it sent.
        status_line: String,
    },
}

/// Sends `GET /healthz` to `addr` and succeeds on `200`. Every step is bounded by `timeout`.
pub fn healthcheck(addr: SocketAddr, timeout: Duration) -> Result<(), HealthError> {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let response = exchange(addr, request.as_bytes(), timeout)
        .map_err(|source| HealthError::Unreachable { addr, source })?;
    match response.status {
        Some(200) => Ok(()),
        _ => Err(HealthError::Unhealthy {
            addr,
            status_line: response.status_line,
        }),
    }
}

/// What a relay answered.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The first line, as sent.
    pub(crate) status_line: String,
    /// The status code, when the first line is an HTTP status line.
    pub(crate) status: Option<u16>,
    pub(crate) body: Vec<u8>,
}

/// The most of an answer [`exchange`] reads.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// One HTTP/1.1 request to a running relay on a connection of its own (`request` asks for
/// `Connection: close`), and its answer, read to the end of the connection (at most
/// [`MAX_ANSWER_BYTES`]). Every step is bounded by `timeout`. Used by the health check and by
/// the operator's requests (`msg-relay token --revoke`).
pub(crate) fn exchange(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request)?;
    let mut bytes = Vec::new();
    stream
        .take(MAX_ANSWER_BYTES as u64)
        .read_to_end(&mut bytes)?;
    let (head, body) = match bytes.windows(4).position(|window| window == b"\r\n\r\n") {
        Some(end) => (&bytes[..end], bytes[end + 4..].to_vec()),
        None => (&bytes[..], Vec::new()),
    };
    let head = String::from_utf8_lossy(head);
    let status_line = head.lines().next().unwrap_or("").trim().to_owned();
    let mut parts = status_line.split(' ');
    let status = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code.parse().ok(),
        _ => None,
    };
    Ok(Answer {
        status_line,
        status,
        body,
    })
}
