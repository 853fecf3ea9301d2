//! Query strings of `/requests/new` and `/oidc/callback`, and `Cookie` headers.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use login_broker_core::base::parse::{CallbackParams, NewRequestOptions, cookie};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = NewRequestOptions::parse(&text);
    if let Some(params) = CallbackParams::parse(&text) {
        assert!(!params.state.is_empty() && params.state.len() <= 128);
        assert!(params.code.is_some() || params.error.is_some());
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value);
        let _ = cookie(&headers, "lb_signin");
        let _ = cookie(&headers, "__Host-lb_confirm");
    }
});
