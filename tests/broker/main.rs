//! The integration tests, one binary with a module per area: every end-to-end test runs
//! the broker under the real `spin up` (see crates/testkit), over its in-memory store
//! or a real `redis-server`.

mod api;
mod client_certs;
mod confirmation;
mod docs;
mod edge;
mod failover;
mod first_run;
mod hostile_traffic;
mod loginhook;
mod oauth_validate;
mod oidc_browser;
mod oidc_client_key;
mod oidc_hostile;
mod pages;
mod providers;
mod reclamation;
mod redis;
mod registry;
mod saml_browser;
mod saml_hostile;
mod saml_keys;
mod saml_signing;
mod store_conformance;
mod tls_front;
mod wasi_http_0_2;
