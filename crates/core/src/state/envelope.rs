//! The versioned envelope every record is stored in: `{"v", "kind", "expires_at", "record"}`.
//! Expiry sits outside the record so that it can be enforced without knowing the record type.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{StoreError, UnixTime};

const VERSION: u32 = 1;

pub trait Record: Serialize + DeserializeOwned {
    /// Names the record type inside the envelope, so a value read under the wrong key is caught.
    const KIND: &'static str;
    fn expires_at(&self) -> UnixTime;
}

#[derive(Serialize)]
struct SealedEnvelope<'a, R> {
    v: u32,
    kind: &'static str,
    expires_at: UnixTime,
    record: &'a R,
}

#[derive(Deserialize)]
struct OpenedEnvelope {
    v: u32,
    kind: String,
    expires_at: UnixTime,
    record: serde_json::Value,
}

pub fn seal<R: Record>(record: &R) -> Vec<u8> {
    let envelope = SealedEnvelope { v: VERSION, kind: R::KIND, expires_at: record.expires_at(), record };
    // Records are plain data with string keys: serialising them cannot fail.
    serde_json::to_vec(&envelope).expect("records serialise to JSON")
}

/// `Ok(None)` for an expired record: to every reader it no longer exists.
pub fn open<R: Record>(bytes: &[u8], now: UnixTime) -> Result<Option<R>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { kind: R::KIND, reason };
    let envelope: OpenedEnvelope = serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not an envelope: {e}")))?;
    if envelope.v != VERSION {
        return Err(corrupt(format!("format version {} is not {VERSION}", envelope.v)));
    }
    if envelope.kind != R::KIND {
        return Err(corrupt(format!("holds a {} record", envelope.kind)));
    }
    if now >= envelope.expires_at {
        return Ok(None);
    }
    serde_json::from_value(envelope.record).map(Some).map_err(|e| corrupt(format!("bad record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Note {
        text: String,
        expires_at: UnixTime,
    }

    impl Record for Note {
        const KIND: &'static str = "note";
        fn expires_at(&self) -> UnixTime {
            self.expires_at
        }
    }

    #[test]
    fn a_sealed_record_opens_until_its_expiry() {
        let note = Note { text: "hi".into(), expires_at: 100 };
        let bytes = seal(&note);
        assert_eq!(open::<Note>(&bytes, 99).unwrap(), Some(note));
        assert_eq!(open::<Note>(&bytes, 100).unwrap(), None);
    }

    #[test]
    fn other_versions_and_kinds_are_refused() {
        let newer = br#"{"v":2,"kind":"note","expires_at":100,"record":{"text":"hi","expires_at":100}}"#;
        let other_kind = br#"{"v":1,"kind":"login_request","expires_at":100,"record":{}}"#;
        for bytes in [&newer[..], &other_kind[..], b"", b"{}"] {
            assert!(matches!(open::<Note>(bytes, 0), Err(StoreError::Corrupt { kind: "note", .. })));
        }
    }
}
