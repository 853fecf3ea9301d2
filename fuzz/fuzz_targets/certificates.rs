//! Client certificates forwarded by a proxy (URL-encoded PEM), and CN pattern matching.
#![no_main]

use libfuzzer_sys::fuzz_target;
use login_broker_core::base::parse::{forwarded_certificate, glob_matches};

fuzz_target!(|text: &str| {
    if let Ok(certificate) = forwarded_certificate(text) {
        if let Some(name) = certificate.common_name {
            let _ = glob_matches("build-*.ci.example.com", &name);
        }
    }
    let _ = glob_matches("*-runner-*", text);
});
