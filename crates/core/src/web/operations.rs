//! What operators and load balancers call: `/liveness`, `/readiness`, `/status`.

use http::StatusCode;
use serde::Serialize;

use crate::protocol::registry::Connector;
use crate::state::{self, unix_now};
use crate::web::context::Context;
use crate::web::error::HttpError;
use crate::web::response::{self, Reply};

/// `GET /liveness`: 200 when the key-value store answers, 503 with the reason when not.
/// Load balancers call it steadily, so it also takes a turn at reclaiming expired
/// records: the broker needs no cron.
pub async fn liveness() -> Result<Reply, HttpError> {
    let kv = crate::host::key_value();
    // The sweep's first call reads the store: it is the ping.
    state::sweep(&kv, unix_now()).await?;
    Ok(response::json(StatusCode::OK, &serde_json::json!({"status": "ok"})))
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    store: &'static str,
    providers: Vec<ProviderReadiness>,
}

#[derive(Serialize)]
struct ProviderReadiness {
    id: String,
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// `GET /readiness`: 200 when the configuration is valid, the store answers and every
/// provider's discovery answers (each looked at no more than every few seconds),
/// else 503 saying which part is not ready. Names variables and providers, never values.
pub async fn readiness() -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    state::ping(ctx.store.kv()).await?;
    let mut providers = Vec::new();
    for provider in ctx.config.providers.iter() {
        let health = Connector::of(provider).health(&ctx.protocol()).await?;
        providers.push(ProviderReadiness { id: provider.id.as_str().to_owned(), reachable: health.reachable, problem: health.problem });
    }
    let status = if providers.iter().any(|provider| !provider.reachable) {
        "provider_unreachable"
    } else if providers.iter().any(|provider| provider.problem.is_some()) {
        "provider_misconfigured"
    } else {
        "ready"
    };
    let code = if status == "ready" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let readiness = Readiness { status, store: "ok", providers };
    Ok(response::json(code, &readiness))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    version: &'static str,
    instance_id: &'a str,
    store: &'static str,
    providers: Vec<ProviderStatus<'a>>,
}

#[derive(Serialize)]
struct ProviderStatus<'a> {
    id: &'a str,
    label: &'a str,
    protocol: &'static str,
    issuer: String,
    default: bool,
}

/// `GET /status` with `status_enabled` (HAS's `STATUS_ENABLED`): what is running and
/// how it is configured, without anything secret; 404 otherwise.
pub async fn status() -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    let config = ctx.config;
    if !config.status_enabled {
        return Err(HttpError::not_found("no such route"));
    }
    let store = state::backend_kind(ctx.store.kv()).await?;
    let providers = config
        .providers
        .iter()
        .map(|provider| ProviderStatus {
            id: provider.id.as_str(),
            label: &provider.label,
            protocol: provider.protocol.name(),
            issuer: Connector::of(provider).issuer().to_owned(),
            default: provider.is_default,
        })
        .collect();
    let status = Status { version: env!("CARGO_PKG_VERSION"), instance_id: &config.instance_id, store, providers };
    Ok(response::json(StatusCode::OK, &status))
}
