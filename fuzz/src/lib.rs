//! The broker's parsers of outside input, compiled natively from the product's own
//! source files: the component itself builds for wasm32-wasip2 only.

#[path = "../../src/failure.rs"]
pub mod failure;
#[path = "../../src/ids.rs"]
pub mod ids;
#[path = "../../src/markup.rs"]
pub mod markup;
#[path = "../../src/parse.rs"]
pub mod parse;
#[path = "../../src/secret.rs"]
pub mod secret;
#[path = "../../src/signing_key.rs"]
pub mod signing_key;
pub mod store;

/// The SAML checks, as the Assertion Consumer Service runs them.
#[path = "../../src/saml"]
pub mod saml {
    #[path = "metadata.rs"]
    pub mod metadata;
    #[path = "response.rs"]
    pub mod response;
    #[path = "signature.rs"]
    pub mod signature;
    #[path = "xml.rs"]
    pub mod xml;
}
