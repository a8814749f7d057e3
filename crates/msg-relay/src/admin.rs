//! The operator's requests to a running relay: `POST /admin/revoke` revokes one name's tokens
//! ([`revoke_tokens`] is the client, what `msg-relay token --revoke NAME` calls).
//!
//! A request proves the operator with the operator token (`Authorization: Bearer …`), which
//! only the holder of the server secret can compute. A revocation moves the name to its next
//! token generation: it is first written to the spool (`tokens.json`), so it survives a
//! restart, then applied, closing every session of that name with `token_revoked`. Nobody
//! else's tokens or sessions change. A relay without a spool refuses (409): a revocation it
//! could not keep across a restart would come undone silently.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;
use serde::{Deserialize, Serialize};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use crate::broker::Broker;
use crate::healthcheck::exchange;
use crate::shared::Shared;
use crate::token::{ServerSecret, validate_username};

/// The largest request body the admin routes read.
pub(crate) const MAX_BODY_BYTES: u64 = 1024;

/// The body of `POST /admin/revoke`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    username: String,
}

/// What a relay answers to a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Revoked {
    /// The name's token generation now: `msg-relay token NAME` prints the token of this
    /// generation (`ServerSecret::token_at`).
    pub generation: u32,
    /// The sessions of that name the relay closed.
    pub sessions_closed: usize,
}

/// Why a revocation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// Nothing answered at the address.
    #[error("cannot reach the relay at {addr}")]
    Unreachable {
        /// Where the request went.
        addr: SocketAddr,
        /// The connection or read error.
        source: std::io::Error,
    },
    /// The relay answered with something other than success.
    #[error("the relay at {addr} refused ({status_line}): {reason}")]
    Refused {
        /// Where the request went.
        addr: SocketAddr,
        /// The HTTP status line it sent.
        status_line: String,
        /// Its explanation.
        reason: String,
    },
}

/// Asks the relay at `addr` to revoke `username`'s tokens, proving the operator with
/// `secret`. Every step is bounded by `timeout`.
pub fn revoke_tokens(
    addr: SocketAddr,
    secret: &ServerSecret,
    username: &str,
    timeout: Duration,
) -> Result<Revoked, AdminError> {
    let body = serde_json::to_string(&RevokeRequest {
        username: username.to_owned(),
    })
    .expect("a string serialises");
    let request = format!(
        "POST /admin/revoke HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        secret.operator_token(),
        body.len()
    );
    let answer = exchange(addr, request.as_bytes(), timeout)
        .map_err(|source| AdminError::Unreachable { addr, source })?;
    let refused = |reason: String| AdminError::Refused {
        addr,
        status_line: answer.status_line.clone(),
        reason,
    };
    if answer.status != Some(200) {
        let reason = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|value| value["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).trim().to_owned());
        return Err(refused(reason));
    }
    serde_json::from_slice(&answer.body)
        .map_err(|err| refused(format!("the answer is not a revocation: {err}")))
}

/// `POST /admin/revoke`: see the module documentation.
pub(crate) async fn revoke(
    shared: Arc<Shared>,
    authorization: Option<String>,
    body: Bytes,
) -> Response {
    let operator = authorization
        .as_deref()
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| shared.config.secret.verify_operator_token(token));
    if !operator {
        let mut response = failure(
            StatusCode::UNAUTHORIZED,
            "the operator token is missing or wrong (msg-relay token --revoke sends it, from \
             the relay's secret)",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let username = match serde_json::from_slice::<RevokeRequest>(&body) {
        Ok(request) => request.username,
        Err(err) => {
            return failure(
                StatusCode::BAD_REQUEST,
                &format!("the body must be {{\"username\": NAME}}: {err}"),
            );
        }
    };
    if let Err(err) = validate_username(&username) {
        return failure(StatusCode::BAD_REQUEST, &err.to_string());
    }
    let registry = match &shared.broker {
        Broker::Local(registry) => registry,
        // Redis keeps the generation, raises it and closes the sessions on every node in
        // one script.
        Broker::Redis(node) => {
            return match node.store().revoke(&username).await {
                Ok((generation, sessions_closed)) => {
                    revoked(&shared, &username, generation, sessions_closed)
                }
                Err(err) => failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("the revocation could not be stored, so nothing changed: {err}"),
                ),
            };
        }
    };
    let Some(spool) = shared.config.spool.clone() else {
        return failure(
            StatusCode::CONFLICT,
            "this relay keeps no state (it runs without --spool), so a revocation would not \
             survive a restart; restart it with --spool DIR, or rotate the secret",
        );
    };
    // One revocation at a time: each reads the generations, writes them, then applies them.
    let _one_at_a_time = shared.revoking.lock().await;
    let Some(generation) = registry.token_generation(&username).checked_add(1) else {
        return failure(
            StatusCode::CONFLICT,
            "this name's tokens were revoked as often as possible; rotate the secret",
        );
    };
    let mut generations = registry.token_generations();
    generations.insert(username.clone(), generation);
    // On disk before it takes effect: a crash in between leaves it revoked, never the
    // other way round.
    let stored = tokio::task::spawn_blocking(move || spool.store_token_generations(&generations))
        .await
        .map_err(|err| err.to_string())
        .and_then(|stored| stored.map_err(|err| err.to_string()));
    if let Err(err) = stored {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the revocation could not be stored, so nothing changed: {err}"),
        );
    }
    let (sessions_closed, kicked) = registry.revoke_tokens(&username, generation);
    shared.log_kicked(&kicked);
    revoked(&shared, &username, generation, sessions_closed)
}

/// Logs a revocation and answers it.
fn revoked(shared: &Shared, username: &str, generation: u32, sessions_closed: usize) -> Response {
    shared.log.warn(
        "tokens_revoked",
        &[
            ("user", username.into()),
            ("generation", u64::from(generation).into()),
            ("sessions_closed", (sessions_closed as u64).into()),
        ],
    );
    warp::reply::json(&Revoked {
        generation,
        sessions_closed,
    })
    .into_response()
}

/// An answer with `{"error": text}`.
fn failure(status: StatusCode, text: &str) -> Response {
    warp::reply::with_status(
        warp::reply::json(&serde_json::json!({ "error": text })),
        status,
    )
    .into_response()
}
