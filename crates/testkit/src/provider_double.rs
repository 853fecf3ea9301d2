//! A provider double: serves discovery, authorization (signing the user in at once),
//! JWKS, token and userinfo on loopback like an OpenID provider, but issues whatever ID
//! token the test asks for: well-formed or hostile (bad signature, `alg: none`, HS256
//! keyed with the public key, wrong claims).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use crate::{Broker, Login, Reply, Store, get_url};
use sha2::Sha256;

pub const CLIENT_ID: &str = "broker";
pub const CLIENT_SECRET: &str = "double-client-secret";

/// A signing key the double can publish and sign with.
#[derive(Clone)]
pub enum Key {
    Rsa { kid: String, key: Box<RsaPrivateKey> },
    Ec { kid: String, key: p256::ecdsa::SigningKey },
}

impl Key {
    pub fn rsa(kid: &str) -> Key {
        Key::Rsa { kid: kid.into(), key: Box::new(RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key")) }
    }

    pub fn ec(kid: &str) -> Key {
        Key::Ec { kid: kid.into(), key: p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng) }
    }

    pub fn kid(&self) -> &str {
        match self {
            Key::Rsa { kid, .. } | Key::Ec { kid, .. } => kid,
        }
    }

    pub fn jwk(&self) -> Value {
        match self {
            Key::Rsa { kid, key } => json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": B64.encode(key.n().to_bytes_be()), "e": B64.encode(key.e().to_bytes_be()),
            }),
            Key::Ec { kid, key } => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
                    "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap()),
                })
            }
        }
    }

    /// A compact JWS over `claims`, with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let alg = match self {
            Key::Rsa { .. } => "RS256",
            Key::Ec { .. } => "ES256",
        };
        let input = signing_input(&json!({"alg": alg, "typ": "JWT", "kid": self.kid()}), claims);
        let signature = match self {
            Key::Rsa { key, .. } => SigningKey::<Sha256>::new(key.as_ref().clone()).sign(input.as_bytes()).to_vec(),
            Key::Ec { key, .. } => {
                let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
                signature.to_bytes().to_vec()
            }
        };
        format!("{input}.{}", B64.encode(signature))
    }

    /// The forgery of the "algorithm confusion" attack: HS256 keyed with the public key.
    pub fn forge_hs256_with_public_key(&self, claims: &Value) -> String {
        use hmac::Mac;
        let input = signing_input(&json!({"alg": "HS256", "typ": "JWT", "kid": self.kid()}), claims);
        let public_key = self.jwk().to_string();
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(public_key.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
    }
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()))
}

/// An unsigned token: `alg: none`.
pub fn unsigned_token(claims: &Value) -> String {
    format!("{}.", signing_input(&json!({"alg": "none", "typ": "JWT"}), claims))
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// One user's sign-in at the double: who signed in (`?user=` on `/authorize`, as if
/// typed into a login form; `alice-sub` by default) and the nonce the broker sent.
#[derive(Clone, Debug)]
pub struct Grant {
    pub user: String,
    pub nonce: String,
}

/// What the double does, set by the test.
pub struct Behaviour {
    /// Keys published at the JWKS endpoint.
    pub published: Vec<Key>,
    /// Makes the `id_token` for a grant.
    pub id_token: Box<dyn Fn(&Grant) -> String + Send>,
}

#[derive(Default)]
pub struct Seen {
    pub discovery_fetches: usize,
    pub jwks_fetches: usize,
    pub token_requests: Vec<TokenRequest>,
}

#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl TokenRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// How the double answers at `/userinfo`.
#[derive(Clone, Copy, Default)]
pub enum Userinfo {
    #[default]
    Answers,
    /// A well-formed answer of 2 MiB.
    Oversized,
    /// No answer for this long.
    Stalls(std::time::Duration),
}

struct Shared {
    behaviour: Behaviour,
    userinfo: Userinfo,
    /// Whether discovery says every answer carries RFC 9207's `iss` (the double sends none).
    advertises_iss: bool,
    seen: Seen,
    /// Codes issued at `/authorize` and not yet exchanged.
    codes: HashMap<String, Grant>,
    next_code: u64,
}

pub struct ProviderDouble {
    pub issuer: String,
    server: Arc<tiny_http::Server>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

impl ProviderDouble {
    pub fn start(behaviour: Behaviour) -> ProviderDouble {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let issuer = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
        let shared = Arc::new(Mutex::new(Shared {
            behaviour,
            userinfo: Userinfo::default(),
            advertises_iss: false,
            seen: Seen::default(),
            codes: HashMap::new(),
            next_code: 0,
        }));
        let thread = {
            let (server, shared, issuer) = (server.clone(), shared.clone(), issuer.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(request, &shared, &issuer);
                }
            })
        };
        ProviderDouble { issuer, server, shared, thread: Some(thread) }
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.lock().unwrap().behaviour = behaviour;
    }

    pub fn set_advertises_iss(&self, advertises: bool) {
        self.shared.lock().unwrap().advertises_iss = advertises;
    }

    pub fn set_userinfo(&self, userinfo: Userinfo) {
        self.shared.lock().unwrap().userinfo = userinfo;
    }

    pub fn seen<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        read(&self.shared.lock().unwrap().seen)
    }
}

impl Drop for ProviderDouble {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

fn serve(mut request: tiny_http::Request, shared: &Mutex<Shared>, issuer: &str) {
    let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
    let (path, query) = (path.to_owned(), query.to_owned());
    let mut shared = shared.lock().unwrap();
    let body = match path.as_str() {
        "/authorize" => {
            // The user is signed in at once; the code remembers the sign-in's nonce.
            let param = |name: &str| {
                form_urlencoded::parse(query.as_bytes()).find(|(n, _)| n == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
            };
            shared.next_code += 1;
            let code = format!("code-{}", shared.next_code);
            let user = Some(param("user")).filter(|user| !user.is_empty()).unwrap_or_else(|| "alice-sub".into());
            shared.codes.insert(code.clone(), Grant { user, nonce: param("nonce") });
            let state = form_urlencoded::byte_serialize(param("state").as_bytes()).collect::<String>();
            let location = format!("{}?code={code}&state={state}", param("redirect_uri"));
            let header = tiny_http::Header::from_bytes("Location", location).unwrap();
            request.respond(tiny_http::Response::empty(302).with_header(header)).ok();
            return;
        }
        "/.well-known/openid-configuration" => {
            shared.seen.discovery_fetches += 1;
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "authorization_response_iss_parameter_supported": shared.advertises_iss,
                "token_endpoint": format!("{issuer}/token"),
                "userinfo_endpoint": format!("{issuer}/userinfo"),
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            })
        }
        "/jwks" => {
            shared.seen.jwks_fetches += 1;
            json!({"keys": shared.behaviour.published.iter().map(Key::jwk).collect::<Vec<_>>()})
        }
        "/token" => {
            let mut form = String::new();
            request.as_reader().read_to_string(&mut form).ok();
            let authorization = request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.to_string());
            let form: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes()).into_owned().collect();
            let code = form.iter().find(|(n, _)| n == "code").map(|(_, v)| v.clone()).unwrap_or_default();
            shared.seen.token_requests.push(TokenRequest { authorization, form });
            // Codes are single use, as at a real provider.
            let Some(grant) = shared.codes.remove(&code) else {
                let invalid = json!({"error": "invalid_grant"}).to_string();
                request.respond(tiny_http::Response::from_string(invalid).with_status_code(400)).ok();
                return;
            };
            let id_token = (shared.behaviour.id_token)(&grant);
            json!({"access_token": format!("at-{}", grant.user), "token_type": "Bearer", "expires_in": 300, "id_token": id_token})
        }
        "/userinfo" => {
            let bearer = request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.to_string()).unwrap_or_default();
            let user = bearer.strip_prefix("Bearer at-").unwrap_or_default();
            match shared.userinfo {
                Userinfo::Answers => json!({"sub": user, "email": format!("{user}@example.com"), "locale": "en"}),
                Userinfo::Oversized => json!({"sub": user, "padding": "x".repeat(2 << 20)}),
                Userinfo::Stalls(time) => {
                    std::thread::sleep(time);
                    json!({"sub": user})
                }
            }
        }
        _ => {
            request.respond(tiny_http::Response::empty(404)).ok();
            return;
        }
    };
    let header = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
    request.respond(tiny_http::Response::from_string(body.to_string()).with_header(header)).ok();
}

// What tests do with the double: start a broker on it, and act as the browser.

pub fn start_broker(store: Store, provider: &ProviderDouble, extra: &[(&str, &str)]) -> Broker {
    Broker::start(store, &variables_for(provider, extra))
}

/// The variables that point a broker at `provider`, then `extra`.
pub fn variables_for<'a>(provider: &'a ProviderDouble, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut variables = vec![
        ("oidc_issuer_uri", provider.issuer.as_str()),
        ("oidc_provider_origin", provider.issuer.as_str()),
        ("oidc_client_id", CLIENT_ID),
        ("oidc_client_secret", CLIENT_SECRET),
        ("login_timeout", "30"),
    ];
    variables.extend_from_slice(extra);
    variables
}

/// Signs every token with `key`, publishing it, with the claims `claims` makes.
pub fn issuing(key: Key, claims: impl Fn(&Grant) -> Value + Send + 'static) -> Behaviour {
    let signer = key.clone();
    Behaviour { published: vec![key], id_token: Box::new(move |grant| signer.sign(&claims(grant))) }
}

/// A sign-in started in a browser: the broker's redirect, read apart.
pub struct SignIn {
    /// The client's `request` for this login.
    pub request_id: String,
    pub authorize_url: url::Url,
    pub cookie: String,
    pub set_cookie: String,
}

impl SignIn {
    pub fn param(&self, name: &str) -> String {
        self.authorize_url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
    }
}

pub fn begin(broker: &Broker) -> SignIn {
    begin_for(broker, "alice")
}

pub fn begin_for(broker: &Broker, user: &str) -> SignIn {
    sign_in_for(broker, &broker.login(user))
}

/// The user opens the login URL of `login`: the broker sends the browser on.
pub fn sign_in_for(broker: &Broker, login: &Login) -> SignIn {
    let request_id = login.request.clone();
    let reply = broker.follow_login_link(login);
    assert_eq!(reply.status, 303, "{}", reply.body);
    let authorize_url = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let set_cookie = reply.header("set-cookie").unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    SignIn { request_id, authorize_url, cookie, set_cookie }
}

/// The browser at the provider: returns the callback's path and query it is sent back to.
pub fn authorize(sign_in: &SignIn) -> String {
    authorize_as(sign_in, "alice-sub")
}

/// Like [`authorize`], with `user` signing in at the provider.
pub fn authorize_as(sign_in: &SignIn, user: &str) -> String {
    let reply = get_url(&format!("{}&user={user}", sign_in.authorize_url));
    assert_eq!(reply.status, 302, "{}", reply.body);
    let callback = url::Url::parse(reply.header("location").unwrap()).unwrap();
    format!("{}?{}", callback.path(), callback.query().unwrap())
}

/// A whole sign-in for `login`, `user` signing in at the provider.
pub fn finish_login(broker: &Broker, login: &Login, user: &str) {
    let sign_in = sign_in_for(broker, login);
    let callback = authorize_as(&sign_in, user);
    let page = broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(page.status, 200, "{}", page.body);
}

pub fn callback(broker: &Broker, sign_in: &SignIn, extra_query: &str) -> Reply {
    broker.get_with(&format!("{}{extra_query}", authorize(sign_in)), &[("Cookie", &sign_in.cookie)])
}

pub fn alice_claims(issuer: String) -> impl Fn(&Grant) -> Value + Send + 'static {
    move |grant| {
        json!({
            "iss": issuer, "sub": grant.user, "aud": CLIENT_ID, "iat": now(), "exp": now() + 300, "nonce": grant.nonce,
            "email": "alice@example.com", "name": "Alice Example", "preferred_username": "alice",
        })
    }
}

/// The double's issuer is known only once it runs; its behaviour is set right after.
pub fn provider_with(make: impl FnOnce(&str) -> Behaviour) -> ProviderDouble {
    let provider = ProviderDouble::start(Behaviour { published: vec![], id_token: Box::new(|_| String::new()) });
    provider.set_behaviour(make(&provider.issuer));
    provider
}
