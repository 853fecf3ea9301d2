//! Path segments and registry entries: a login's nonce (as the sweep reads it back from
//! the store), `state`, user ids, provider ids, typed user codes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use login_broker_core::base::ids::{LoginId, ProviderId, SignInState, UserId, user_code_matches};

fuzz_target!(|text: &str| {
    if let Some(id) = LoginId::from_parts(text, 1_800_000_000) {
        assert_eq!(id.nonce(), text);
        assert_eq!(id.expires_at(), 1_800_000_000);
    }
    if let Some(state) = SignInState::parse(text) {
        assert_eq!(state.as_str(), text);
    }
    if let Ok(user) = UserId::from_path_segment(text) {
        assert!(!user.as_str().is_empty() && user.as_str().len() <= 256 && !user.as_str().chars().any(char::is_control));
    }
    let _ = ProviderId::parse(text);
    let _ = user_code_matches(&login_broker_core::base::secret::Secret::new("BCDF-GHJK".into()), text);
});
