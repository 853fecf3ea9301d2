//! Values read back from the key-value store: sealed bytes and versioned envelopes,
//! which a writer to Redis could have replaced with anything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use login_broker_core::state::envelope::{self, Record};
use login_broker_core::state::seal::{Sealer, StateKey};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Note {
    text: String,
    expires_at: u64,
}

impl Record for Note {
    const KIND: &'static str = "note";
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

fuzz_target!(|data: &[u8]| {
    let sealer = Sealer::new(StateKey::from_bytes(&[7; 32]), vec![StateKey::from_bytes(&[8; 32])]);
    assert!(sealer.open("lb:v1:req:1:1", data).is_err(), "forging a sealed value must not work");
    let _ = envelope::open::<Note>(data, 1_800_000_000);
});
