//! [`ClientError`]: why the relay client stopped, or why one session of it ended.

use msg_relay::protocol::ErrorCode;

use crate::error::HooksError;

/// Why the relay client stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ClientError {
    /// Nothing to log in with.
    #[error(
        "no relay credentials: set messaging.relay.token (the relay's `msg-relay token {user}` prints it) or messaging.relay.agent_tokens in the settings"
    )]
    NoIdentity {
        /// The local user.
        user: String,
    },
    /// No relay named: the client sends tokens only to a relay the person chose.
    #[error(
        "messaging.relay.url is not set in {settings}: `msg relay connect` sends your tokens only to a relay you name; set it to your relay's address (wss://HOST/ws)"
    )]
    NoUrl {
        /// The settings file to set it in.
        settings: String,
    },
    /// The URL cannot be used.
    #[error("messaging.relay.url {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The relay could not be reached or the connection broke.
    #[error("{name}: connection to {url} failed: {reason}")]
    Connection {
        /// The identity.
        name: String,
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The relay refused the login.
    #[error("{name}: the relay refused the login ({code_text}): {message}")]
    Login {
        /// The identity.
        name: String,
        /// The error code.
        code: ErrorCode,
        /// The code as the relay wrote it (another word than `code`'s only for a code this
        /// version does not know).
        code_text: String,
        /// The relay's words.
        message: String,
    },
    /// Another client logged in under the same name.
    #[error(
        "{name}: another client logged in as {name} and replaced this one (close code 4000); not reconnecting"
    )]
    Replaced {
        /// The identity.
        name: String,
    },
    /// Another client runs for the same root and space ([`super::running`]).
    #[error(
        "another `msg relay connect`{} already runs for this Datacore root and space (it holds {}); it sends and receives for you: stop it (Ctrl-C) before starting another",
        pid.map(|pid| format!(" (process {pid})")).unwrap_or_default(),
        lock.display()
    )]
    AlreadyRunning {
        /// Its process ID, when it wrote one.
        pid: Option<u32>,
        /// The lock it holds.
        lock: std::path::PathBuf,
    },
    /// Reading or writing the files failed.
    #[error(transparent)]
    Files(#[from] HooksError),
}

impl ClientError {
    /// Whether reconnecting can help: the connection broke, or the relay refused the login
    /// for a reason that passes ([`ErrorCode::is_retryable`]: a full relay, a rate limit).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            ClientError::Connection { .. } => true,
            ClientError::Login { code, .. } => code.is_retryable(),
            _ => false,
        }
    }
}
