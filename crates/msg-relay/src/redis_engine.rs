//! The connection to the Redis that the nodes of a relay share ([`RedisEngine`], opened by
//! the binary and handed to [`run`](crate::run) like a spool), and [`BrokerError`], what a
//! Redis operation that did not happen says. Below the broker and the configuration, which
//! both use them; it knows nothing of either.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion};

/// Why a Redis operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// Redis did not answer in time, or the connection is down: the operation may or may
    /// not have happened, and is retried by whoever asked (a `send` is answered with a
    /// retryable error, and a repeated send is recognised by the dedupe window).
    #[error("redis did not answer {op}: {reason}")]
    Unavailable {
        /// The operation (`send`, `ack`, `claim`, …).
        op: &'static str,
        /// What the client library said.
        reason: String,
    },
    /// The first connection to Redis failed (a running relay reconnects by itself).
    #[error("cannot connect to redis at {url}: {reason}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// What the client library said.
        reason: String,
    },
    /// Redis answered with something the engine's scripts never answer: another program
    /// wrote to the engine's keys, or the relay and its scripts disagree.
    #[error("redis answered {op} with {reply}, which this relay does not understand")]
    Unexpected {
        /// The operation.
        op: &'static str,
        /// The answer, shortened.
        reply: String,
    },
}

/// A connection to the Redis that the nodes of a relay share, opened with
/// [`RedisEngine::connect`] and handed to [`run`](crate::run) in
/// [`RelayConfig::redis`](crate::RelayConfig::redis). Clones share it; it reconnects by
/// itself.
#[derive(Clone)]
pub struct RedisEngine {
    /// For the pub/sub connection each relay opens.
    client: redis::Client,
    /// The command connection (RESP3, reconnecting in the background).
    conn: ConnectionManager,
    url: String,
    prefix: String,
    op_timeout: Duration,
}

impl std::fmt::Debug for RedisEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEngine")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisEngine {
    /// The key prefix when none is given.
    pub const DEFAULT_PREFIX: &'static str = "msg-relay:";
    /// How long one Redis operation may take by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// Connects to Redis at `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`, `rediss://` for
    /// TLS). Every key and channel starts with `prefix`; an operation that takes longer than
    /// `op_timeout` counts as Redis being unavailable.
    pub async fn connect(
        url: &str,
        prefix: &str,
        op_timeout: Duration,
    ) -> Result<RedisEngine, BrokerError> {
        let connect_error = |reason: String| BrokerError::Connect {
            url: without_password(url),
            reason,
        };
        let info = url
            .into_connection_info()
            .map_err(|err| connect_error(err.to_string()))?;
        let client =
            redis::Client::open(info.clone()).map_err(|err| connect_error(err.to_string()))?;
        // RESP3 on the command connection: the manager then hears at once when the connection
        // drops and reconnects in the background, instead of failing the next command after
        // an outage. It never gives up (one attempt a second at most): an operation during an
        // outage waits for it up to the operation timeout.
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let commands = redis::Client::open(info.set_redis_settings(resp3))
            .map_err(|err| connect_error(err.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(op_timeout))
            .set_response_timeout(Some(op_timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(usize::MAX);
        let conn = tokio::time::timeout(
            op_timeout,
            ConnectionManager::new_with_config(commands, config),
        )
        .await
        .map_err(|_| connect_error(format!("no answer within {op_timeout:?}")))?
        .map_err(|err| connect_error(err.to_string()))?;
        Ok(RedisEngine {
            client,
            conn,
            url: without_password(url),
            prefix: prefix.to_owned(),
            op_timeout,
        })
    }

    /// The URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token generation of `username` as the relay's Redis holds it (what
    /// `msg-relay token --redis` prints a token for).
    pub async fn token_generation(&self, username: &str) -> Result<u32, BrokerError> {
        let key = format!("{}tokgen", self.prefix);
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HGET");
        cmd.arg(key).arg(username);
        let call = cmd.query_async(&mut conn);
        let generation: Option<u32> = bounded("token_generation", self.op_timeout, call).await?;
        Ok(generation.unwrap_or(0))
    }
}

impl RedisEngine {
    /// The pub/sub client, for a node's listener.
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The command connection.
    pub(crate) fn commands(&self) -> &ConnectionManager {
        &self.conn
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn op_timeout(&self) -> Duration {
        self.op_timeout
    }
}

/// `call`, within `timeout`: a timeout or a failed connection is "unavailable".
pub(crate) async fn bounded<T>(
    op: &'static str,
    timeout: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, BrokerError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) if err.kind() == redis::ErrorKind::Parse => Err(BrokerError::Unexpected {
            op,
            reply: err.to_string(),
        }),
        Ok(Err(err)) => Err(BrokerError::Unavailable {
            op,
            reason: err.to_string(),
        }),
        Err(_) => Err(BrokerError::Unavailable {
            op,
            reason: format!("no answer within {timeout:?}"),
        }),
    }
}

/// `url` without the password in its user part (`redis://:secret@host` → `redis://:***@host`).
pub(crate) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    // A user part without a colon may be a password alone: hidden whole.
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => format!("{scheme}://***{}", &rest[at..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_an_error_message() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"),
            (
                "rediss://relay:hunter2@redis/1",
                "rediss://relay:***@redis/1",
            ),
            ("redis://hunter2@redis", "redis://***@redis"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(without_password(url), shown);
        }
    }
}
