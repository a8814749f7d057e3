//! Settings from `$DATACORE_ROOT/.datacore/settings.local.yaml`, with the original's keys,
//! defaults and resolution order.
//!
//! The file is shared with other Datacore modules, so unknown keys anywhere are ignored. A
//! section left empty (`identity:` with nothing under it) counts as empty, not as an error,
//! and a missing or empty file gives the defaults. Values of the wrong type are rejected when
//! the file is loaded, with the file, line and dotted key in the message, so that a typo never
//! turns into an unlimited budget later.
//!
//! Serde stays in this module: the resolved [`TierConfig`] and [`ComputeConfig`] are plain
//! structs that the governor uses without knowing the file format.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use thiserror::Error;

use crate::paths;

/// The space used when `messaging.default_space` is unset or empty.
const DEFAULT_SPACE: &str = "0-personal";
/// The relay used when `messaging.relay.url` is unset or empty.
const DEFAULT_RELAY_URL: &str = "wss://datacore-messaging-relay.datafund.ai/ws";
/// The trust tier of the person who owns the data root (and of their own agents): the only
/// tier whose text is not fenced as untrusted.
pub const OWNER_TIER: &str = "owner";
/// The tier of every actor without an entry in `messaging.trust_overrides`, and the limits
/// a tier of any other name starts from.
pub const UNKNOWN_TIER: &str = "unknown";

/// The built-in trust tiers, in order of decreasing trust.
const BUILTIN_TIERS: [(&str, TierConfig); 4] = [
    (OWNER_TIER, TierConfig::new(2.0, 0, 0, true)),
    ("team", TierConfig::new(1.5, 100_000, 8, true)),
    ("trusted", TierConfig::new(1.0, 50_000, 5, false)),
    (UNKNOWN_TIER, TierConfig::new(0.5, 10_000, 3, false)),
];

/// A settings file that could not be read or understood.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read (permissions, a directory in its place, not
    /// UTF-8).
    #[error("cannot read settings file {}", path.display())]
    Read {
        /// The settings file.
        path: PathBuf,
        /// Why reading failed.
        source: io::Error,
    },
    /// The file is not valid YAML, or a key holds a value of the wrong type or range.
    #[error(
        "invalid settings in {}{}: {message}",
        path.display(),
        location(*line, *column)
    )]
    Parse {
        /// The settings file.
        path: PathBuf,
        /// The 1-based line of the problem, when known.
        line: Option<usize>,
        /// The 1-based column of the problem, when known.
        column: Option<usize>,
        /// What is wrong, starting with the dotted key (`messaging.compute.max_queue_depth:
        /// invalid type ...`) and ending with the expected value.
        message: String,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(", line {line} column {column}"),
        (Some(line), None) => format!(", line {line}"),
        _ => String::new(),
    }
}

/// Everything this module reads from the settings file. Build it with [`Settings::load`] or
/// [`Settings::from_yaml_str`]; `Settings::default()` is what a missing file gives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `identity`: who the local user is.
    pub identity: Identity,
    /// `messaging`: everything specific to this module.
    pub messaging: Messaging,
}

/// The `identity` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Identity {
    /// `identity.name`: the sender name, and the prefix of the agent inbox (`<name>-claude`).
    pub name: Option<String>,
    /// `identity.handles`: other names of the same person (documented, not used yet).
    pub handles: Vec<String>,
}

/// The `messaging` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Messaging {
    /// `messaging.default_space`: the space used when none is given (default `0-personal`).
    pub default_space: Option<String>,
    /// `messaging.show_in_today`: list messages in the daily briefing (default true).
    #[serde(deserialize_with = "null_is_true")]
    pub show_in_today: bool,
    /// `messaging.auto_mark_read`: mark messages read once shown (default false).
    #[serde(deserialize_with = "null_is_default")]
    pub auto_mark_read: bool,
    /// `messaging.relay`: where the relay is and how to authenticate to it.
    pub relay: RelaySettings,
    /// `messaging.trust_tiers`: per-tier overrides of the built-in tiers, or new tiers.
    pub trust_tiers: BTreeMap<String, TierOverride>,
    /// `messaging.trust_overrides`: actor id to tier name, matched exactly.
    pub trust_overrides: BTreeMap<String, String>,
    /// `messaging.compute`: overrides of the compute budget defaults.
    pub compute: ComputeOverride,
    /// `messaging.utc_offset`: a fixed local UTC offset for timestamps (`+01:00`, `-05:30`,
    /// `Z`), validated on load. Unset means: determine the offset from the system.
    #[serde(deserialize_with = "utc_offset")]
    pub utc_offset: Option<String>,
    /// `messaging.notify_command`: a program and its arguments, run once for each message or
    /// task that arrives while `msg watch` runs. In each argument `{from}`, `{subject}`, `{id}`
    /// and `{kind}` are replaced; no shell is involved, so no text of a message can become a
    /// command. Empty (the default): nothing is run. Validated on load.
    #[serde(deserialize_with = "notify_command")]
    pub notify_command: Vec<String>,
    /// `messaging.require_signatures`: which senders need a valid signature from a key the
    /// person confirmed for their tier to apply to a message that came through a relay
    /// (else it counts as tier `unknown`). Default `verified-keys`.
    pub require_signatures: SignaturePolicy,
}

/// `messaging.require_signatures`: when a message from the relay needs a signature from a
/// confirmed key for its sender's tier to apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SignaturePolicy {
    /// `verified-keys`: senders whose key the person confirmed (`msg contacts verify`);
    /// other senders keep their tier unsigned, as before keys existed. A signature that does
    /// not hold, a changed key or a replay lowers any sender to `unknown`.
    #[default]
    VerifiedKeys,
    /// `always`: every sender above `unknown` (DESIGN.md §12's rule without exceptions).
    Always,
}

/// The placeholders `messaging.notify_command` replaces in its arguments.
pub const NOTIFY_PLACEHOLDERS: [&str; 4] = ["{from}", "{subject}", "{id}", "{kind}"];

impl Default for Messaging {
    fn default() -> Self {
        Messaging {
            default_space: None,
            show_in_today: true,
            auto_mark_read: false,
            relay: RelaySettings::default(),
            trust_tiers: BTreeMap::new(),
            trust_overrides: BTreeMap::new(),
            compute: ComputeOverride::default(),
            utc_offset: None,
            notify_command: Vec::new(),
            require_signatures: SignaturePolicy::default(),
        }
    }
}

/// The `messaging.relay` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RelaySettings {
    /// `messaging.relay.url`: the relay's WebSocket URL.
    pub url: Option<String>,
    /// `messaging.relay.secret`: the shared relay secret.
    pub secret: Option<String>,
    /// `messaging.relay.token`: the local user's own relay token (`msg-relay token <name>`
    /// on the relay prints it). The relay client logs in as `identity.name` with it.
    #[serde(deserialize_with = "token")]
    pub token: Option<String>,
    /// `messaging.relay.agent_tokens`: agent name to its relay token. The client logs in as
    /// each agent listed (with its own token), so messages addressed to the agent reach this
    /// machine and become its tasks; the user's agent (`<name>-claude`) is listed here too.
    #[serde(deserialize_with = "token_map")]
    pub agent_tokens: BTreeMap<String, String>,
}

/// One entry of `messaging.trust_tiers`: each key present replaces that key of the base tier.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TierOverride {
    /// `priority_boost`: multiplier for task priority, 0 or more.
    #[serde(deserialize_with = "boost")]
    pub priority_boost: Option<f64>,
    /// `daily_token_limit`: tokens per sender per day, 0 = unlimited.
    #[serde(deserialize_with = "count")]
    pub daily_token_limit: Option<u64>,
    /// `max_task_effort`: largest accepted effort estimate, 0 = unlimited.
    #[serde(deserialize_with = "count")]
    pub max_task_effort: Option<u64>,
    /// `auto_accept`: accept tasks without asking.
    pub auto_accept: Option<bool>,
}

/// The `messaging.compute` section: each key present replaces its default in
/// [`ComputeConfig`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ComputeOverride {
    /// `daily_budget_tokens`.
    #[serde(deserialize_with = "count")]
    pub daily_budget_tokens: Option<u64>,
    /// `per_sender_daily_max`.
    #[serde(deserialize_with = "count")]
    pub per_sender_daily_max: Option<u64>,
    /// `per_task_max_tokens`.
    #[serde(deserialize_with = "count")]
    pub per_task_max_tokens: Option<u64>,
    /// `per_task_timeout_minutes`.
    #[serde(deserialize_with = "count")]
    pub per_task_timeout_minutes: Option<u64>,
    /// `cooldown_between_tasks` (seconds).
    #[serde(deserialize_with = "count")]
    pub cooldown_between_tasks: Option<u64>,
    /// `max_queue_depth`.
    #[serde(deserialize_with = "count")]
    pub max_queue_depth: Option<u64>,
    /// `rate_limits`.
    pub rate_limits: Option<RateLimits>,
}

/// The `messaging.compute.rate_limits` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// `tasks_per_hour`: tasks accepted per sender per hour.
    #[serde(deserialize_with = "count")]
    pub tasks_per_hour: Option<u64>,
}

/// The limits of one trust tier after resolution. A limit of 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierConfig {
    /// Multiplier applied to the priority of this tier's tasks.
    pub priority_boost: f64,
    /// Tokens one sender of this tier may use per day; 0 = unlimited.
    pub daily_token_limit: u64,
    /// Largest effort estimate accepted from this tier; 0 = unlimited.
    pub max_task_effort: u64,
    /// Whether tasks from this tier are accepted without asking.
    pub auto_accept: bool,
}

impl TierConfig {
    const fn new(
        priority_boost: f64,
        daily_token_limit: u64,
        max_task_effort: u64,
        auto_accept: bool,
    ) -> Self {
        TierConfig {
            priority_boost,
            daily_token_limit,
            max_task_effort,
            auto_accept,
        }
    }

    fn builtin(tier: &str) -> Option<TierConfig> {
        BUILTIN_TIERS
            .iter()
            .find(|(name, _)| *name == tier)
            .map(|(_, config)| *config)
    }

    fn overlay(self, custom: &TierOverride) -> TierConfig {
        TierConfig {
            priority_boost: custom.priority_boost.unwrap_or(self.priority_boost),
            daily_token_limit: custom.daily_token_limit.unwrap_or(self.daily_token_limit),
            max_task_effort: custom.max_task_effort.unwrap_or(self.max_task_effort),
            auto_accept: custom.auto_accept.unwrap_or(self.auto_accept),
        }
    }
}

/// The compute budget after resolution. `ComputeConfig::default()` holds the built-in
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComputeConfig {
    /// Tokens all tasks together may use per day; 0 = unlimited.
    pub daily_budget_tokens: u64,
    /// Tokens one sender may use per day (the sender's tier limit takes precedence).
    pub per_sender_daily_max: u64,
    /// Tokens one task may use.
    pub per_task_max_tokens: u64,
    /// Minutes one task may run.
    pub per_task_timeout_minutes: u64,
    /// Seconds between two tasks.
    pub cooldown_between_tasks: u64,
    /// Active tasks allowed at once.
    pub max_queue_depth: u64,
    /// Tasks accepted per sender per hour, for every tier including `owner`.
    pub tasks_per_hour: u64,
}

impl Default for ComputeConfig {
    fn default() -> Self {
        ComputeConfig {
            daily_budget_tokens: 500_000,
            per_sender_daily_max: 100_000,
            per_task_max_tokens: 50_000,
            per_task_timeout_minutes: 30,
            cooldown_between_tasks: 60,
            max_queue_depth: 20,
            tasks_per_hour: 5,
        }
    }
}

impl Settings {
    /// Loads `<root>/.datacore/settings.local.yaml`. A missing file gives the defaults, as in
    /// the original; every other failure is an error rather than a silent empty config.
    pub fn load(root: &Path) -> Result<Settings, ConfigError> {
        let path = paths::settings_file_under(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => Settings::from_yaml_str(&text, &path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses settings from YAML text; `path_for_errors` only names the file in errors. An
    /// empty or comment-only text gives the defaults.
    pub fn from_yaml_str(text: &str, path_for_errors: &Path) -> Result<Settings, ConfigError> {
        serde_yaml::from_str::<Option<Settings>>(text)
            .map(Option::unwrap_or_default)
            .map_err(|err| {
                let location = err.location();
                let line = location.as_ref().map(|location| location.line());
                let column = location.as_ref().map(|location| location.column());
                let mut message = err.to_string();
                // serde_yaml appends (or, for syntax errors, inserts) " at line L column C";
                // the location is shown once, next to the file name, instead.
                if let (Some(line), Some(column)) = (line, column) {
                    message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
                }
                ConfigError::Parse {
                    path: path_for_errors.to_owned(),
                    line,
                    column,
                    message,
                }
            })
    }

    /// The local user's name: `identity.name` if non-empty, else `$USER`, else `unknown`.
    pub fn username(&self) -> String {
        self.username_or(env_non_empty("USER"))
    }

    fn username_or(&self, env_user: Option<String>) -> String {
        non_empty(&self.identity.name)
            .map(str::to_owned)
            .or(env_user)
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// The space used when none is given: `messaging.default_space` if non-empty, else
    /// `0-personal`. (The original returned an empty name for `default_space: ""`.)
    pub fn default_space(&self) -> &str {
        non_empty(&self.messaging.default_space).unwrap_or(DEFAULT_SPACE)
    }

    /// The relay URL: `messaging.relay.url` if non-empty, else the public Datafund relay.
    pub fn relay_url(&self) -> &str {
        non_empty(&self.messaging.relay.url).unwrap_or(DEFAULT_RELAY_URL)
    }

    /// The relay secret: `messaging.relay.secret` if non-empty, else `$RELAY_SECRET`, else
    /// none.
    pub fn relay_secret(&self) -> Option<String> {
        self.relay_secret_or(env_non_empty("RELAY_SECRET"))
    }

    fn relay_secret_or(&self, env_secret: Option<String>) -> Option<String> {
        non_empty(&self.messaging.relay.secret)
            .map(str::to_owned)
            .or(env_secret)
    }

    /// The local user's relay token: `messaging.relay.token` if non-empty, else
    /// `$DATACORE_RELAY_TOKEN`, else none.
    pub fn relay_token(&self) -> Option<String> {
        self.relay_token_or(env_non_empty("DATACORE_RELAY_TOKEN"))
    }

    fn relay_token_or(&self, env_token: Option<String>) -> Option<String> {
        non_empty(&self.messaging.relay.token)
            .map(str::to_owned)
            .or(env_token)
    }

    /// The agents with a relay token of their own (`messaging.relay.agent_tokens`), in name
    /// order.
    pub fn relay_agent_tokens(&self) -> &BTreeMap<String, String> {
        &self.messaging.relay.agent_tokens
    }

    /// The tier name of `actor`: its `messaging.trust_overrides` entry, matched exactly and
    /// case-sensitively, else `unknown`. The name may be one that [`Settings::tier_config`]
    /// does not know; see [`Settings::unknown_tiers_in_overrides`].
    pub fn trust_tier(&self, actor: &str) -> String {
        self.messaging
            .trust_overrides
            .get(actor)
            .map_or(UNKNOWN_TIER, String::as_str)
            .to_owned()
    }

    /// The limits of `tier`: the built-in tier of that name, or `unknown`'s limits for any
    /// other name, with the keys of its `messaging.trust_tiers` entry laid over them. Starting
    /// custom tiers from `unknown` (not from nothing) means a custom tier that sets no limits
    /// is not unlimited, unlike in the original.
    pub fn tier_config(&self, tier: &str) -> TierConfig {
        let base = TierConfig::builtin(tier).unwrap_or(BUILTIN_TIERS[3].1);
        match self.messaging.trust_tiers.get(tier) {
            Some(custom) => base.overlay(custom),
            None => base,
        }
    }

    /// The built-in tier names (`owner`, `team`, `trusted`, `unknown`), then the custom tiers
    /// defined under `messaging.trust_tiers`, sorted.
    pub fn tier_names(&self) -> Vec<String> {
        let builtin = BUILTIN_TIERS.iter().map(|(name, _)| *name);
        let custom = self
            .messaging
            .trust_tiers
            .keys()
            .map(String::as_str)
            .filter(|name| TierConfig::builtin(name).is_none());
        builtin.chain(custom).map(str::to_owned).collect()
    }

    /// The `(actor, tier)` pairs of `messaging.trust_overrides` whose tier is neither built-in
    /// nor defined under `messaging.trust_tiers` (probably a typo; such actors get
    /// `unknown`'s limits).
    pub fn unknown_tiers_in_overrides(&self) -> Vec<(String, String)> {
        self.messaging
            .trust_overrides
            .iter()
            .filter(|(_, tier)| {
                TierConfig::builtin(tier).is_none()
                    && !self.messaging.trust_tiers.contains_key(*tier)
            })
            .map(|(actor, tier)| (actor.clone(), tier.clone()))
            .collect()
    }

    /// The compute budget: the built-in defaults with each key of `messaging.compute`
    /// (including `rate_limits.tasks_per_hour`) laid over them.
    pub fn compute(&self) -> ComputeConfig {
        let ComputeOverride {
            daily_budget_tokens,
            per_sender_daily_max,
            per_task_max_tokens,
            per_task_timeout_minutes,
            cooldown_between_tasks,
            max_queue_depth,
            rate_limits,
        } = &self.messaging.compute;
        let base = ComputeConfig::default();
        ComputeConfig {
            daily_budget_tokens: daily_budget_tokens.unwrap_or(base.daily_budget_tokens),
            per_sender_daily_max: per_sender_daily_max.unwrap_or(base.per_sender_daily_max),
            per_task_max_tokens: per_task_max_tokens.unwrap_or(base.per_task_max_tokens),
            per_task_timeout_minutes: per_task_timeout_minutes
                .unwrap_or(base.per_task_timeout_minutes),
            cooldown_between_tasks: cooldown_between_tasks.unwrap_or(base.cooldown_between_tasks),
            max_queue_depth: max_queue_depth.unwrap_or(base.max_queue_depth),
            tasks_per_hour: rate_limits
                .as_ref()
                .and_then(|limits| limits.tasks_per_hour)
                .unwrap_or(base.tasks_per_hour),
        }
    }

    /// `messaging.utc_offset` in seconds east of UTC, or `None` when unset. Loading rejects
    /// malformed offsets, so `None` here never hides a typo in the file.
    pub fn utc_offset_seconds(&self) -> Option<i32> {
        self.messaging
            .utc_offset
            .as_deref()
            .and_then(parse_utc_offset)
    }
}

/// The value, unless it is missing or blank.
fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.trim().is_empty())
}

/// The only place this module reads the environment, so tests can pass values instead.
fn env_non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Parses `Z`, `+HH:MM` or `-HH:MM` (hours 00-23, minutes 00-59) into seconds east of UTC.
fn parse_utc_offset(text: &str) -> Option<i32> {
    if text == "Z" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    let two_digits = |part: &str| {
        (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i32>().ok())
            .flatten()
    };
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    (hours < 24 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

// The deserializers below check values inside serde_yaml's call, not after it returns, so the
// error keeps the full dotted key (`messaging.compute.max_queue_depth`) and the line.

/// `key:` with no value means "use the default", as for sections.
fn null_is_default<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or_default())
}

fn null_is_true<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or(true))
}

/// Reads `null` (a key with no value) as `None` and anything else with `visitor`.
fn optional<'de, D, V>(deserializer: D, visitor: V) -> Result<Option<V::Value>, D::Error>
where
    D: Deserializer<'de>,
    V: Visitor<'de>,
{
    struct Optional<V>(V);
    impl<'de, V: Visitor<'de>> Visitor<'de> for Optional<V> {
        type Value = Option<V::Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.expecting(f)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, value: D) -> Result<Self::Value, D::Error> {
            value.deserialize_any(self.0).map(Some)
        }
    }
    deserializer.deserialize_option(Optional(visitor))
}

/// A limit or count: a whole number, 0 or more (a bare `u64` would say only "expected u64").
fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct Count;
    impl Visitor<'_> for Count {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number, 0 or more")
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
            Ok(value)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
            u64::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
        }
    }
    optional(deserializer, Count)
}

/// A priority multiplier: a finite number, 0 or more.
fn boost<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    struct Boost;
    impl Visitor<'_> for Boost {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number, 0 or more")
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
            if value.is_finite() && value >= 0.0 {
                Ok(value)
            } else {
                Err(E::invalid_value(Unexpected::Float(value), &self))
            }
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<f64, E> {
            Ok(value as f64)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<f64, E> {
            self.visit_f64(value as f64)
        }
    }
    optional(deserializer, Boost)
}

/// Whether `text` can be a relay token: one word of printable ASCII (a token travels in a
/// JSON frame and is compared byte for byte; a space or line break is a copy-paste slip).
fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

/// `messaging.relay.token`: absent, empty (no token), or one word of printable ASCII.
fn token<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Token;
    impl Visitor<'_> for Token {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a relay token: one word of letters and digits, as `msg-relay token NAME` prints it")
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
            if value.is_empty() || is_token(value) {
                Ok(value.to_owned())
            } else {
                Err(E::invalid_value(
                    Unexpected::Str("text with spaces or control characters"),
                    &self,
                ))
            }
        }
    }
    optional(deserializer, Token)
}

/// `messaging.relay.agent_tokens`: agent name to token, each token as for [`token`].
fn token_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = Option::<BTreeMap<String, String>>::deserialize(deserializer)?.unwrap_or_default();
    for (agent, value) in &map {
        if !is_token(value) {
            return Err(de::Error::custom(format!(
                "the token of agent {agent:?} is not a relay token: one word of letters and digits, as `msg-relay token {agent}` prints it"
            )));
        }
    }
    Ok(map)
}

/// `messaging.utc_offset`, checked with [`parse_utc_offset`].
fn utc_offset<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct UtcOffset;
    impl Visitor<'_> for UtcOffset {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"a UTC offset written "+HH:MM", "-HH:MM" or "Z", e.g. "+01:00""#)
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
            match parse_utc_offset(value) {
                Some(_) => Ok(value.to_owned()),
                None => Err(E::invalid_value(Unexpected::Str(value), &self)),
            }
        }
    }
    optional(deserializer, UtcOffset)
}

/// `messaging.notify_command`: a list whose first element names a program, every `{word}`
/// in it one of [`NOTIFY_PLACEHOLDERS`].
fn notify_command<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Option::<serde_yaml::Value>::deserialize(deserializer)?;
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let shape = || {
        de::Error::custom(
            r#"messaging.notify_command must be a list: the program, then its arguments, e.g. ["notify-send", "{from}", "{subject}"] (no shell is used)"#,
        )
    };
    let serde_yaml::Value::Sequence(items) = value else {
        return Err(shape());
    };
    let mut command = Vec::with_capacity(items.len());
    for item in items {
        match item {
            serde_yaml::Value::String(text) => command.push(text),
            serde_yaml::Value::Number(number) => command.push(number.to_string()),
            _ => return Err(shape()),
        }
    }
    if command
        .first()
        .is_some_and(|program| program.trim().is_empty())
    {
        return Err(de::Error::custom(
            "messaging.notify_command: the first element is the program to run and must not be empty",
        ));
    }
    for argument in &command {
        if let Some(unknown) = unknown_placeholder(argument) {
            return Err(de::Error::custom(format!(
                "messaging.notify_command: unknown placeholder {unknown} in {argument:?}; use {}",
                NOTIFY_PLACEHOLDERS.join(", ")
            )));
        }
    }
    Ok(command)
}

/// The first `{word}` (ASCII letters and `_`) in `argument` that is not a placeholder.
fn unknown_placeholder(argument: &str) -> Option<&str> {
    let mut rest = argument;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let word = after
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
            .map_or(after, |end| &after[..end]);
        if !word.is_empty() && after[word.len()..].starts_with('}') {
            let placeholder = &rest[start..start + word.len() + 2];
            if !NOTIFY_PLACEHOLDERS.contains(&placeholder) {
                return Some(placeholder);
            }
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/data/.datacore/settings.local.yaml";

    #[test]
    fn the_notify_command_is_a_list_with_known_placeholders() {
        assert!(parse("").messaging.notify_command.is_empty());
        assert!(
            parse("messaging: {notify_command: null}\n")
                .messaging
                .notify_command
                .is_empty()
        );
        assert_eq!(
            parse("messaging:\n  notify_command: [notify-send, \"{from}\", \"{subject} ({id}, {kind})\", 5]\n")
                .messaging
                .notify_command,
            ["notify-send", "{from}", "{subject} ({id}, {kind})", "5"]
        );
        let err = parse_err("messaging: {notify_command: \"notify-send {from}\"}\n");
        assert!(err.contains("must be a list"), "{err}");
        let err = parse_err("messaging: {notify_command: [notify-send, \"{sender}\"]}\n");
        assert!(err.contains("unknown placeholder {sender}"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let err = parse_err("messaging: {notify_command: [\" \", x]}\n");
        assert!(err.contains("the program to run"), "{err}");
        // Braces that are not placeholders are text.
        assert_eq!(
            parse("messaging: {notify_command: [sh, -c, \"echo {} {1} {a b}\"]}\n")
                .messaging
                .notify_command[2],
            "echo {} {1} {a b}"
        );
    }

    #[test]
    fn signatures_are_required_from_verified_keys_unless_always() {
        assert_eq!(
            parse("").messaging.require_signatures,
            SignaturePolicy::VerifiedKeys
        );
        assert_eq!(
            parse("messaging: {require_signatures: always}\n")
                .messaging
                .require_signatures,
            SignaturePolicy::Always
        );
        let err = parse_err("messaging:\n  require_signatures: sometimes\n");
        assert!(err.contains("require_signatures"), "{err}");
        assert!(
            err.contains("`verified-keys`, `always`") || err.contains("verified-keys"),
            "{err}"
        );
    }

    fn parse(text: &str) -> Settings {
        Settings::from_yaml_str(text, Path::new(FILE)).unwrap()
    }

    fn parse_err(text: &str) -> String {
        Settings::from_yaml_str(text, Path::new(FILE))
            .unwrap_err()
            .to_string()
    }

    fn write_settings(text: &str) -> assert_fs::TempDir {
        let root = assert_fs::TempDir::new().unwrap();
        let dir = root.path().join(".datacore");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("settings.local.yaml"), text).unwrap();
        root
    }

    // The original's tests/test_config.py, adapted.

    #[test]
    fn username_comes_from_identity_name() {
        let root = write_settings("identity:\n  name: testuser\n");
        let settings = Settings::load(root.path()).unwrap();
        assert_eq!(settings.username_or(Some("envuser".into())), "testuser");
    }

    #[test]
    fn username_falls_back_to_user_then_unknown() {
        let settings = Settings::load(Path::new("/nonexistent")).unwrap();
        assert_eq!(settings.username_or(Some("envuser".into())), "envuser");
        assert_eq!(settings.username_or(None), "unknown");
        assert_eq!(
            parse("identity:\n  name: ''\n").username_or(None),
            "unknown"
        );
    }

    #[test]
    fn missing_file_gives_defaults() {
        let root = assert_fs::TempDir::new().unwrap();
        assert_eq!(Settings::load(root.path()).unwrap(), Settings::default());
    }

    #[test]
    fn default_space_comes_from_settings() {
        let root = write_settings("messaging:\n  default_space: 0-personal\n");
        let settings = Settings::load(root.path()).unwrap();
        assert_eq!(settings.default_space(), "0-personal");
        assert_eq!(
            parse("messaging:\n  default_space: 1-team\n").default_space(),
            "1-team"
        );
    }

    #[test]
    fn relay_url_defaults_to_the_public_relay() {
        assert_eq!(
            Settings::default().relay_url(),
            "wss://datacore-messaging-relay.datafund.ai/ws"
        );
        let settings = parse("messaging:\n  relay:\n    url: ws://localhost:8080/ws\n");
        assert_eq!(settings.relay_url(), "ws://localhost:8080/ws");
    }

    #[test]
    fn trust_tier_is_unknown_without_overrides() {
        assert_eq!(
            Settings::default().trust_tier("unknown@example.com"),
            "unknown"
        );
    }

    #[test]
    fn trust_overrides_match_actors_exactly() {
        let settings =
            parse("messaging:\n  trust_overrides:\n    \"tex@team.example.com\": team\n");
        assert_eq!(settings.trust_tier("tex@team.example.com"), "team");
        assert_eq!(settings.trust_tier("random@example.com"), "unknown");
        assert_eq!(settings.trust_tier("Tex@team.example.com"), "unknown");
    }

    // Beyond the original.

    #[test]
    fn empty_file_null_sections_and_unknown_keys_give_defaults() {
        for text in [
            "",
            "# nothing yet\n",
            "identity:\nmessaging:\n",
            "other_module: {x: 1}\n",
        ] {
            assert_eq!(parse(text), Settings::default(), "{text:?}");
        }
        let settings = parse(
            "identity:\n  handles:\nmessaging:\n  show_in_today:\n  auto_mark_read:\n  relay:\n  \
             trust_tiers:\n    helpers:\n  trust_overrides:\n  compute:\n    rate_limits:\n  \
             utc_offset:\n  inbox_feeds: []\n  claude_whitelist: [a]\n",
        );
        assert!(settings.messaging.show_in_today);
        assert!(!settings.messaging.auto_mark_read);
        assert_eq!(
            settings.tier_config("helpers"),
            settings.tier_config("unknown")
        );
        assert_eq!(settings.compute(), ComputeConfig::default());
    }

    #[test]
    fn malformed_yaml_names_file_line_and_problem() {
        let err = Settings::from_yaml_str("identity:\n  name: a\n name: b\n", Path::new(FILE))
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::Parse { line: Some(3), .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "invalid settings in /data/.datacore/settings.local.yaml, line 3 column 2: \
             did not find expected key, while parsing a block mapping"
        );
    }

    #[test]
    fn wrong_type_names_the_dotted_key() {
        assert_eq!(
            parse_err("messaging:\n  compute:\n    max_queue_depth: many\n"),
            "invalid settings in /data/.datacore/settings.local.yaml, line 3 column 22: \
             messaging.compute.max_queue_depth: invalid type: string \"many\", \
             expected a whole number, 0 or more"
        );
        assert!(parse_err("identity: [a]\n").contains("identity: invalid type: sequence"));
        assert!(
            parse_err("messaging:\n  show_in_today: maybe\n")
                .contains("messaging.show_in_today: invalid type")
        );
    }

    #[test]
    fn negative_limits_are_rejected_with_the_key() {
        let err = parse_err("messaging:\n  compute:\n    rate_limits:\n      tasks_per_hour: -1\n");
        assert!(
            err.ends_with(
                "line 4 column 23: messaging.compute.rate_limits.tasks_per_hour: \
                 invalid value: integer `-1`, expected a whole number, 0 or more"
            ),
            "{err}"
        );
        let err = parse_err("messaging:\n  trust_tiers:\n    team: {priority_boost: -2}\n");
        assert!(
            err.contains("messaging.trust_tiers.team.priority_boost: invalid value"),
            "{err}"
        );
    }

    #[test]
    fn utc_offset_is_validated_and_converted() {
        let offset = |text: &str| parse(&format!("messaging:\n  utc_offset: \"{text}\"\n"));
        assert_eq!(offset("+01:00").utc_offset_seconds(), Some(3600));
        assert_eq!(offset("-05:30").utc_offset_seconds(), Some(-19_800));
        assert_eq!(offset("Z").utc_offset_seconds(), Some(0));
        assert_eq!(
            parse("messaging:\n  utc_offset: +02:00\n").utc_offset_seconds(),
            Some(7200)
        );
        assert_eq!(Settings::default().utc_offset_seconds(), None);
        for bad in [
            "1:00", "+1:00", "+01", "+0100", "+24:00", "+01:60", "UTC", "", "+01:00 ",
        ] {
            let err = parse_err(&format!("messaging:\n  utc_offset: \"{bad}\"\n"));
            assert!(
                err.contains("messaging.utc_offset: invalid value")
                    && err.contains(r#"expected a UTC offset written "+HH:MM", "-HH:MM" or "Z""#),
                "{bad:?}: {err}"
            );
        }
        assert!(parse_err("messaging:\n  utc_offset: 0\n").contains("messaging.utc_offset"));
    }

    #[test]
    fn unreadable_file_is_a_read_error() {
        let root = assert_fs::TempDir::new().unwrap();
        // A directory where the file should be fails to read even as root, unlike chmod 000.
        std::fs::create_dir_all(root.path().join(".datacore/settings.local.yaml")).unwrap();
        let err = Settings::load(root.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("cannot read settings file /"),
            "{err}"
        );
        assert!(
            err.to_string().ends_with(".datacore/settings.local.yaml"),
            "{err}"
        );
    }

    #[test]
    fn builtin_tiers_have_the_original_limits() {
        let settings = Settings::default();
        assert_eq!(
            settings.tier_config("owner"),
            TierConfig::new(2.0, 0, 0, true)
        );
        assert_eq!(
            settings.tier_config("team"),
            TierConfig::new(1.5, 100_000, 8, true)
        );
        assert_eq!(
            settings.tier_config("trusted"),
            TierConfig::new(1.0, 50_000, 5, false)
        );
        assert_eq!(
            settings.tier_config("unknown"),
            TierConfig::new(0.5, 10_000, 3, false)
        );
        assert_eq!(
            settings.tier_config("nobody"),
            settings.tier_config("unknown")
        );
    }

    #[test]
    fn tier_overrides_replace_only_the_keys_given() {
        let settings = parse(
            "messaging:\n  trust_tiers:\n    team: {daily_token_limit: 200000, priority_boost: 3}\n",
        );
        assert_eq!(
            settings.tier_config("team"),
            TierConfig::new(3.0, 200_000, 8, true)
        );
        assert_eq!(
            settings.tier_config("trusted"),
            TierConfig::new(1.0, 50_000, 5, false)
        );
    }

    #[test]
    fn custom_tier_without_limits_gets_unknown_limits() {
        let settings = parse("messaging:\n  trust_tiers:\n    partners: {auto_accept: true}\n");
        assert_eq!(
            settings.tier_config("partners"),
            TierConfig::new(0.5, 10_000, 3, true)
        );
        assert_eq!(
            settings.tier_names(),
            ["owner", "team", "trusted", "unknown", "partners"]
        );
    }

    #[test]
    fn overrides_naming_undefined_tiers_are_listed() {
        let settings = parse(
            "messaging:\n  trust_tiers:\n    partners: {}\n  trust_overrides:\n    a: team\n    \
             b: partners\n    c: tema\n",
        );
        assert_eq!(
            settings.unknown_tiers_in_overrides(),
            [("c".to_owned(), "tema".to_owned())]
        );
        assert_eq!(settings.trust_tier("c"), "tema");
        assert_eq!(
            settings.tier_config("tema"),
            settings.tier_config("unknown")
        );
    }

    #[test]
    fn compute_overrides_replace_only_the_keys_given() {
        let settings = parse(
            "messaging:\n  compute:\n    max_queue_depth: 3\n    daily_budget_tokens: 0\n    \
             rate_limits: {tasks_per_hour: 12}\n",
        );
        let expected = ComputeConfig {
            max_queue_depth: 3,
            daily_budget_tokens: 0,
            tasks_per_hour: 12,
            ..ComputeConfig::default()
        };
        assert_eq!(settings.compute(), expected);
        // An empty rate_limits map keeps the default rate (the original dropped it).
        let settings = parse("messaging:\n  compute:\n    rate_limits: {}\n");
        assert_eq!(settings.compute().tasks_per_hour, 5);
    }

    #[test]
    fn empty_default_space_falls_back_to_personal() {
        for text in ["''", "", "'  '"] {
            let settings = parse(&format!("messaging:\n  default_space: {text}\n"));
            assert_eq!(settings.default_space(), "0-personal", "{text:?}");
        }
    }

    #[test]
    fn relay_tokens_are_read_and_checked() {
        let settings = parse(
            "messaging:\n  relay:\n    token: abc123\n    agent_tokens:\n      bob-claude: def456\n",
        );
        assert_eq!(settings.relay_token_or(None).as_deref(), Some("abc123"));
        assert_eq!(
            settings
                .relay_agent_tokens()
                .get("bob-claude")
                .map(String::as_str),
            Some("def456")
        );
        assert_eq!(
            parse("").relay_token_or(Some("env".into())).as_deref(),
            Some("env")
        );
        assert_eq!(
            parse("messaging: {relay: {token: \"\"}}").relay_token_or(None),
            None
        );
        let err = parse_err("messaging:\n  relay:\n    token: \"ab cd\"\n");
        assert!(err.contains("messaging.relay.token"), "{err}");
        let err = parse_err("messaging:\n  relay:\n    agent_tokens: {x-claude: \"a\\nb\"}\n");
        assert!(err.contains("agent \"x-claude\""), "{err}");
        assert!(
            parse("messaging: {relay: {agent_tokens: }}")
                .relay_agent_tokens()
                .is_empty()
        );
    }

    #[test]
    fn relay_secret_prefers_settings_then_env() {
        let settings = parse("messaging:\n  relay:\n    secret: s3cret\n");
        assert_eq!(
            settings.relay_secret_or(Some("env".into())).as_deref(),
            Some("s3cret")
        );
        let settings = Settings::default();
        assert_eq!(
            settings.relay_secret_or(Some("env".into())).as_deref(),
            Some("env")
        );
        assert_eq!(settings.relay_secret_or(None), None);
    }

    #[test]
    fn template_documents_the_defaults() {
        let template = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates/settings.local.yaml.example"
        ));
        assert_eq!(parse(template), Settings::default());
        // Uncommenting every key (`#key:`, unlike prose `# ...`) must change nothing but the
        // keys that have no default and show an example instead.
        let uncommented: String = template
            .lines()
            .map(|line| {
                let code = line.trim_start();
                match code.strip_prefix('#') {
                    Some(rest) if !rest.is_empty() && !rest.starts_with(' ') => {
                        format!("{}{rest}\n", &line[..line.len() - code.len()])
                    }
                    _ => format!("{line}\n"),
                }
            })
            .collect();
        let settings = parse(&uncommented);
        assert_eq!(settings.identity.name.as_deref(), Some("yourname"));
        assert_eq!(settings.utc_offset_seconds(), Some(3600));
        assert_eq!(settings.trust_tier("tex@team.example.com"), "team");
        assert_eq!(settings.messaging.trust_tiers.len(), 4);
        let defaults = Settings::default();
        assert_eq!(settings.default_space(), defaults.default_space());
        assert_eq!(settings.relay_url(), defaults.relay_url());
        assert_eq!(settings.compute(), defaults.compute());
        for tier in defaults.tier_names() {
            assert_eq!(settings.tier_config(&tier), defaults.tier_config(&tier));
        }
        assert_eq!(
            (
                settings.messaging.show_in_today,
                settings.messaging.auto_mark_read
            ),
            (true, false)
        );
    }

    #[test]
    fn python_fixture_settings_load() {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/python-v0.2.0/root"
        );
        // A missing file would silently give the defaults, so make sure it is there.
        assert!(paths::settings_file_under(Path::new(root)).is_file());
        let settings = Settings::load(Path::new(root)).unwrap();
        assert_eq!(settings.username_or(None), "gregor");
        assert_eq!(settings.default_space(), "0-personal");
        assert_eq!(settings.trust_tier("gregor"), "owner");
        assert_eq!(settings.trust_tier("tex@team.example.com"), "team");
        assert!(settings.unknown_tiers_in_overrides().is_empty());
    }
}
