//! The port the Spin component fills: everything the broker needs from its host, and
//! nothing of any particular host. Each build of the component (`src/` at the top: Spin
//! 4, wasi:http 0.2, the edge) implements [`Host`] over its spin-sdk and hands it to
//! [`crate::serve`] with each request; the rest of the broker is the same code in all.
//!
//! The host is installed once per instance, as `log::set_logger` does: an instance
//! runs one build, and the calls below are made deep in the flow (reading a variable,
//! fetching a provider's keys), where threading a handle through would add nothing.

pub mod outbound;

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use http::{HeaderMap, Method, Uri};

use crate::state::{KeyValue, StoreError};

/// A future the host returns; hosts run a request on one thread, so it need not be `Send`.
pub type HostFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a host build offers the broker.
pub trait Host: Sync {
    /// One outbound request; the answer's body is read up to `limit` bytes.
    fn fetch(&self, request: http::Request<Vec<u8>>, limit: usize) -> HostFuture<'static, Result<http::Response<Vec<u8>>, FetchError>>;
    /// Ready once `duration` has passed.
    fn sleep(&self, duration: Duration) -> HostFuture<'static, ()>;
    /// A Spin variable; `Err` carries the host's reason.
    fn variable<'a>(&'a self, name: &'a str) -> HostFuture<'a, Result<String, String>>;
    /// The key-value store the runtime config binds for the component, for one request.
    fn key_value(&self) -> HostKeyValue;
    /// What the platform guarantees where builds differ.
    fn platform(&self) -> Platform {
        Platform::OneStore
    }
}

/// Where a host build runs, where that changes what the broker may count on
/// (SECURITY.md, *Consistency at the edge*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// One store every instance sees at once, with atomic increments: Spin's in-memory
    /// store, Redis. No limit on a request's duration.
    OneStore,
    /// A managed edge (Akamai Functions): the store is replicated across regions,
    /// eventually consistent (last writer wins), with no atomic increment; a request
    /// runs at most 30 s.
    ReplicatedEdge,
}

impl Platform {
    /// The longest a request may run, where the platform bounds it.
    pub fn request_limit_secs(self) -> Option<u64> {
        match self {
            Platform::OneStore => None,
            Platform::ReplicatedEdge => Some(30),
        }
    }
}

/// Why an outbound request brought no answer back.
#[derive(Debug)]
pub enum FetchError {
    /// It could not be sent, or no answer came (the host's error, as text).
    Failed(String),
    /// The answer's body is longer than the limit.
    TooLarge,
    /// The answer's body could not be read.
    Unreadable(String),
}

static HOST: OnceLock<&'static dyn Host> = OnceLock::new();

/// Makes `host` the one every call below goes to; later calls keep the first.
pub(crate) fn install(host: &'static dyn Host) {
    HOST.get_or_init(|| host);
}

fn installed() -> &'static dyn Host {
    // `serve` installs the host before anything else runs: reaching this without one
    // is a bug in a host build, never a caller's doing.
    *HOST.get().expect("the host build installs its host before serving")
}

pub fn fetch(request: http::Request<Vec<u8>>, limit: usize) -> HostFuture<'static, Result<http::Response<Vec<u8>>, FetchError>> {
    installed().fetch(request, limit)
}

pub fn sleep(duration: Duration) -> HostFuture<'static, ()> {
    installed().sleep(duration)
}

pub async fn variable(name: &str) -> Result<String, String> {
    installed().variable(name).await
}

pub fn key_value() -> HostKeyValue {
    installed().key_value()
}

pub fn platform() -> Platform {
    installed().platform()
}

/// The request being answered; its body is read only where a route needs it.
pub struct Incoming {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Box<dyn RequestBody>,
}

/// An incoming request's body, as the host delivers it.
pub trait RequestBody {
    /// The body, or `None` if it is longer than `limit` bytes or cannot be read.
    fn read_up_to(self: Box<Self>, limit: usize) -> HostFuture<'static, Option<Vec<u8>>>;
}

/// A host build usually reads its body in a closure that owns it.
impl<F: FnOnce(usize) -> HostFuture<'static, Option<Vec<u8>>>> RequestBody for F {
    fn read_up_to(self: Box<Self>, limit: usize) -> HostFuture<'static, Option<Vec<u8>>> {
        (*self)(limit)
    }
}

impl Incoming {
    pub fn new(method: Method, uri: Uri, headers: HeaderMap, body: impl RequestBody + 'static) -> Self {
        Self { method, uri, headers, body: Box::new(body) }
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub async fn body_up_to(self, limit: usize) -> Option<Vec<u8>> {
        self.body.read_up_to(limit).await
    }
}

/// A host's key-value store behind one type, so that the flow names no host.
pub struct HostKeyValue(Box<dyn ErasedKeyValue>);

impl HostKeyValue {
    pub fn new(store: impl KeyValue + 'static) -> Self {
        Self(Box::new(store))
    }
}

/// [`KeyValue`] with boxed futures, so that it can sit behind `dyn`.
trait ErasedKeyValue {
    fn get<'a>(&'a self, key: &'a str) -> HostFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> HostFuture<'a, Result<(), StoreError>>;
    fn delete<'a>(&'a self, key: &'a str) -> HostFuture<'a, Result<(), StoreError>>;
    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> HostFuture<'a, Result<i64, StoreError>>;
}

impl<K: KeyValue> ErasedKeyValue for K {
    fn get<'a>(&'a self, key: &'a str) -> HostFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(KeyValue::get(self, key))
    }
    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> HostFuture<'a, Result<(), StoreError>> {
        Box::pin(KeyValue::set(self, key, value))
    }
    fn delete<'a>(&'a self, key: &'a str) -> HostFuture<'a, Result<(), StoreError>> {
        Box::pin(KeyValue::delete(self, key))
    }
    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> HostFuture<'a, Result<i64, StoreError>> {
        Box::pin(KeyValue::increment(self, key, delta))
    }
}

impl KeyValue for HostKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.0.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.0.increment(key, delta).await
    }
}
