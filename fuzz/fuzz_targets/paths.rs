//! Path segments: request ids (and `state`), user ids, provider ids, typed user codes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use login_broker_fuzz::ids::{ProviderId, SlotId, UserId, user_code_matches};

fuzz_target!(|text: &str| {
    if let Some(id) = SlotId::parse(text) {
        assert_eq!(id.as_str(), text);
        assert_eq!(SlotId::parse(id.as_str()).map(|again| (again.bucket(), again.index())), Some((id.bucket(), id.index())));
    }
    if let Ok(user) = UserId::from_path_segment(text) {
        assert!(!user.as_str().is_empty() && user.as_str().len() <= 256 && !user.as_str().chars().any(char::is_control));
    }
    let _ = ProviderId::parse(text);
    let _ = user_code_matches(&login_broker_fuzz::secret::Secret::new("BCDF-GHJK".into()), text);
});
