//! Structured logs: one JSON object per line on stderr, which Spin hands to the
//! operator's log pipeline.
//!
//! Only what an operator needs to follow a login goes in: request ids are hashed (the
//! id is a bearer secret for the login link), and identities, tokens, codes, cookies
//! and configuration values never appear. Fields are added through named methods so
//! that a reviewer can see everything a line can hold.

use serde_json::{Map, Value};

use crate::ids::{ProviderId, RequestId, digest};

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

    /// The login request, by a hash that cannot be turned back into its id: lines of
    /// one login share it, and nobody can read a login link out of the logs.
    pub fn request(self, id: &RequestId) -> Self {
        self.field("request", request_hash(id))
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

/// 96 bits of the id's SHA-256: enough to tell logins apart in a log.
pub fn request_hash(id: &RequestId) -> String {
    digest(id.as_str()).chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_logged_by_a_hash_of_its_id() {
        let id = RequestId::from_slot(crate::ids::SlotId::new(1, 2).unwrap());
        let Event(fields) = info("login_started").request(&id).outcome("ok").duration_ms(3);
        let line = Value::Object(fields).to_string();
        assert!(!line.contains(id.as_str()), "{line}");
        assert!(line.contains(&request_hash(&id)));
        assert!(line.contains(r#""event":"login_started""#) && line.contains(r#""level":"info""#));
    }
}
