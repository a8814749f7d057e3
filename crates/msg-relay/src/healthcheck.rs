//! `msg-relay healthcheck`: asks a running relay for `GET /healthz` over plain TCP.
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
    let unreachable = |source| HealthError::Unreachable { addr, source };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(unreachable)?;
    stream
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .map_err(unreachable)?;
    // The status line fits in the first read; a relay that sends more is still fine.
    let mut head = [0u8; 256];
    let mut len = 0;
    while len < head.len() {
        let read = stream.read(&mut head[len..]).map_err(unreachable)?;
        if read == 0 {
            break;
        }
        len += read;
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head[..len]);
    let status_line = text.lines().next().unwrap_or("").trim().to_owned();
    let mut parts = status_line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/") => Ok(()),
        _ => Err(HealthError::Unhealthy { addr, status_line }),
    }
}
