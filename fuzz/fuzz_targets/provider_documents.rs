//! What the provider sends: discovery documents, JWKS, and ID tokens, parsed and
//! verified the way the broker does (an allow-list of asymmetric algorithms).
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use openidconnect::ProviderMetadataWithLogout;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, IssuerUrl, Nonce};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<ProviderMetadataWithLogout>(data);
    let jwks = serde_json::from_slice::<CoreJsonWebKeySet>(data).unwrap_or_default();
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(token) = CoreIdToken::from_str(text) {
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new("broker".into()),
            IssuerUrl::new("https://idp.example.com".into()).unwrap(),
            jwks,
        )
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        let _ = token.claims(&verifier, &Nonce::new("nonce".into()));
    }
});
