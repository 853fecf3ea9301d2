//! Structured logs: one JSON object per line on stderr, which Spin hands to the
//! operator's log pipeline.
//!
//! Only what an operator needs to follow a login goes in: a login appears as a hash of
//! its nonce (which names its records), and identities, tokens, handles, codes, cookies
//! and configuration values never appear. Lines mark a login's milestones and every
//! failure, not every request: each line is a host call that costs a fast route a
//! quarter of its throughput, and request logs are the proxy's to keep. Fields are added through named methods so
//! that a reviewer can see everything a line can hold.

use serde_json::{Map, Value};

use crate::base::ids::{LoginId, ProviderId, digest};

#[derive(Debug)]
#[must_use = "a log event is written by `emit`"]
pub struct Event(Map<String, Value>);

pub fn info(event: &'static str) -> Event {
    Event::new("info", event)
}

pub fn warn(event: &'static str) -> Event {
    Event::new("warn", event)
}

pub fn error(event: &'static str) -> Event {
    Event::new("error", event)
}

impl Event {
    fn new(level: &'static str, event: &'static str) -> Self {
        let mut fields = Map::new();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        fields.insert("time_ms".into(), Value::from(now.as_millis() as u64));
        fields.insert("level".into(), level.into());
        fields.insert("event".into(), event.into());
        Self(fields)
    }

    /// The login, by a hash that cannot be turned back into its nonce: lines of one
    /// login share it, and nobody can find its records from the logs.
    pub fn login(self, id: &LoginId) -> Self {
        self.field("login", login_hash(id))
    }

    pub fn provider(self, id: &ProviderId) -> Self {
        self.field("provider", id.as_str())
    }

    /// How it ended: `ok`, or a stable error code such as `invalid_id_token`.
    pub fn outcome(self, outcome: &str) -> Self {
        self.field("outcome", outcome)
    }

    pub fn duration_ms(self, milliseconds: u64) -> Self {
        self.field("duration_ms", milliseconds)
    }

    /// Free text for the operator. Callers pass descriptions they built themselves,
    /// never a value they received (a token, a code, a header).
    pub fn detail(self, text: &str) -> Self {
        self.field("detail", text.chars().take(500).collect::<String>())
    }

    pub fn field(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    /// One write per line: under WASI each write is a host call, and `eprintln!` would
    /// make one per formatted piece. A log line that cannot be written is dropped.
    pub fn emit(self) {
        let mut line = Value::Object(self.0).to_string();
        line.push('\n');
        std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes()).ok();
    }
}

/// 96 bits of the nonce's SHA-256: enough to tell logins apart in a log.
pub fn login_hash(id: &LoginId) -> String {
    digest(id.nonce()).chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_logged_by_a_hash_of_its_nonce() {
        let id = crate::login::conformance::login(1_800_000_000).unwrap();
        let Event(fields) = info("login_started").login(&id).outcome("ok").duration_ms(3);
        let line = Value::Object(fields).to_string();
        assert!(!line.contains(id.nonce()), "{line}");
        assert!(line.contains(&login_hash(&id)));
        assert!(line.contains(r#""event":"login_started""#) && line.contains(r#""level":"info""#));
    }
}
