//! Every Spin variable the broker reads, in one table: its name, default, whether it is
//! secret, when it is read, and what it means. The configuration reference
//! (docs/configuration.md) is generated from it, and spin.toml must declare each
//! variable with this default and secrecy (tests/settings_table.rs checks both).

/// One Spin variable.
pub struct Variable {
    pub name: &'static str,
    /// As `spin.toml` declares it.
    pub default: &'static str,
    /// Declared `secret = true`: Spin keeps it out of its logs and tooling.
    pub secret: bool,
    pub read: Read,
    /// Its row in the configuration reference (Markdown).
    pub doc: &'static str,
}

/// When a variable is read from Spin. Each read is a host call, and the wasi:http 0.2
/// build reads the configuration for every request: a feature that is off costs only
/// its gate.
pub enum Read {
    /// Before every other: when it is set, it holds them all and no other is read.
    First,
    Always,
    /// Only when one of these variables (the feature's gate) is not empty; else the
    /// feature is off and its parser takes the variable as empty.
    WhenAnySet(&'static [&'static str]),
    /// Only when an `auth_providers` entry names it (`clientSecretVariable`).
    WhenNamed,
}

const OIDC_GATE: [&str; 1] = ["oidc_issuer_uri"];
const SAML_GATE: [&str; 3] = ["saml_idp_metadata_url", "saml_idp_metadata", "saml_idp_sso_url"];
/// The broker's SAML keys serve every SAML provider, the shorthand's or those of
/// `auth_providers`.
const SAML_KEYS_GATE: [&str; 4] = ["saml_idp_metadata_url", "saml_idp_metadata", "saml_idp_sso_url", "auth_providers"];
const OAUTH_GATE: [&str; 2] = ["oauth_jwks_uri", "oauth_signing_key"];
/// Certificates are accepted only from a proxy's header.
const CLIENT_CERT_GATE: [&str; 1] = ["client_cert_header"];

/// In the order of the configuration reference.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "state_key",
        default: "",
        secret: true,
        read: Read::Always,
        doc: "**Secret, required.** 32 random bytes in base64 (`openssl rand -base64 32`) sealing every stored record (AES-256-GCM). Every instance sharing a store needs the same key. Without it every route but `/liveness` answers 500 naming `state_key`.",
    },
    Variable {
        name: "state_key_previous",
        default: "",
        secret: true,
        read: Read::Always,
        doc: "**Secret.** Comma-separated former keys that still open older records: rotate by moving `state_key` here and setting a new one; drop it after `cache_ttl`.",
    },
    Variable {
        name: "svc_base_uri",
        default: "http://127.0.0.1:3000",
        secret: false,
        read: Read::Always,
        doc: "Public base URL of the broker (`http(s)://host[:port]`, no path); login and status URLs are built from it.",
    },
    Variable {
        name: "login_timeout",
        default: "60",
        secret: false,
        read: Read::Always,
        doc: "Seconds a status call waits for the login to finish before answering 408 (1–3600).",
    },
    Variable {
        name: "cache_ttl",
        default: "300",
        secret: false,
        read: Read::Always,
        doc: "Lifetime in seconds of every stored record (1–86400, at least `login_timeout`).",
    },
    Variable {
        name: "store_replication_secs",
        default: "0",
        secret: false,
        read: Read::Always,
        doc: "The edge build only (Akamai Functions, whose store is replicated across regions): the longest a write takes to reach every region, 1–10 s, which the platform does not publish; measure yours (docs/deployment.md, *Akamai Functions*). A SAML answer waits this long before it claims its login's end, so that an answer replayed in another region finds the login ended (SECURITY.md, *Consistency at the edge*). The other builds have one store and take only `0`.",
    },
    Variable {
        name: "instance_id",
        default: "none",
        secret: false,
        read: Read::Always,
        doc: "Echoed in `/requests/new` answers so a load balancer can route (HAS's `INSTANCE_ID`).",
    },
    Variable {
        name: "client_tokens",
        default: "",
        secret: true,
        read: Read::Always,
        doc: "**Secret.** Comma-separated bearer tokens (16+ characters each) accepted on the status route, each optionally labelled `label:token` (labels: unique, up to 32 letters, digits, `.`, `_`, `-`; an unlabelled token is \"client token N\"). The confirmation page names the client by its label. A token that itself contains `:` needs a label.",
    },
    Variable {
        name: "assume_client_authorized",
        default: "false",
        secret: false,
        read: Read::Always,
        doc: "`true` lets every client read login outcomes without a token: for local development only.",
    },
    Variable {
        name: "require_client_for_new_requests",
        default: "false",
        secret: false,
        read: Read::Always,
        doc: "`true`: `/requests/new` also needs a client token or certificate (401 without), so every login is bound to the client that asked for it. With `false`, HAS's clients may ask anonymously; a client that does present credentials there is still bound (see *API*).",
    },
    Variable {
        name: "prompt_for_authorization",
        default: "true",
        secret: false,
        read: Read::Always,
        doc: "Login phishing defence (HAS's `PROMPT_FOR_AUTHORIZATION`, which HAS leaves off): the login URL first shows a page naming the user id, when the login was asked for, by which client (its token's label or certificate) and from which address, where the person confirms the login before any provider is contacted. `false` sends the browser straight to the provider (see [Defaults](#defaults-and-how-to-turn-each-off)).",
    },
    Variable {
        name: "user_code_required",
        default: "false",
        secret: false,
        read: Read::Always,
        doc: "`true`: on that page the person must also type the `userCode` their application shows (5 wrong codes stop the request): the stronger defence, for clients that show the code.",
    },
    Variable {
        name: "client_cert_header",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "HAS's proxy mode: the header in which a TLS-terminating proxy forwards the client's certificate, in any form HAS reads: PEM URL-encoded (nginx's `$ssl_client_escaped_cert`, ingress-nginx's `ssl-client-cert`), PEM with its line breaks as spaces or tabs, or bare base64 DER. A client presenting an accepted certificate needs no token. The proxy must verify the certificate and overwrite this header on every request (`deploy/tls-proxy/` does both). As in HAS: no certificate is 401, one that cannot be read 400, one not accepted 403.",
    },
    Variable {
        name: "client_cert_fp",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&CLIENT_CERT_GATE),
        doc: "SHA-256 fingerprints (hex, colons allowed, any case) of accepted client certificates: comma-separated, or HAS's `[fp1,fp2]`. Consulted only when `client_cert_cn` is empty, as in HAS.",
    },
    Variable {
        name: "client_cert_cn",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&CLIENT_CERT_GATE),
        doc: "Patterns for accepted subject common names (`*` matches any run of characters; case matters): comma-separated, or HAS's `[cn1,cn2]`. With neither this nor `client_cert_fp`, any certificate the proxy forwards is accepted, as HAS accepts any (the proxy checked it against your CA): only together with `client_cert_proxy_secret`, since otherwise anyone could send a self-signed one straight to the broker.",
    },
    Variable {
        name: "client_cert_proxy_secret",
        default: "",
        secret: true,
        read: Read::WhenAnySet(&CLIENT_CERT_GATE),
        doc: "**Secret.** With it, a forwarded certificate counts only when the request also carries `x-login-broker-proxy-secret: <this value>` (at least 16 characters), which your proxy adds and clients never see. Without it, anyone who reaches the broker's port directly can present an accepted certificate (certificates are public): then the port must be reachable from the proxy only. Forwarded certificates are also refused outside their validity dates and when the header appears more than once.",
    },
    Variable {
        name: "max_logins_per_ten_seconds",
        default: "10000",
        secret: false,
        read: Read::Always,
        doc: "At most this many logins write the store (a finish, or a wrong user code) per 10 s of expiry (1–1,000,000); beyond it they are refused with 503 and `Retry-After: 10`, and nothing is written. With the default `cache_ttl` about 31 such windows are live, so this bounds what a flood can make Redis hold to ~31 × this × 1 KiB (~300 MiB by default).",
    },
    Variable {
        name: "status_enabled",
        default: "false",
        secret: false,
        read: Read::Always,
        doc: "`true` turns on `/status` (HAS's `STATUS_ENABLED`).",
    },
    Variable {
        name: "force_authn",
        default: "false",
        secret: false,
        read: Read::Always,
        doc: "HAS's `FORCE_AUTHN`: `true` makes every login ask the user to sign in again, at every provider (OpenID Connect's `prompt=login`, SAML's `ForceAuthn`, each checked against when the user signed in), as if every request said `forceAuthn`.",
    },
    Variable {
        name: "auth_providers",
        default: "",
        secret: true,
        read: Read::Always,
        doc: "**Secret** (it may hold client secrets, as HAS's does). Several identity providers, as JSON (HAS's `AUTH_PROVIDERS`, as HAS writes it): see [Several identity providers](#several-identity-providers). Empty: the `oidc_*` variables describe the one provider.",
    },
    Variable {
        name: "auth_provider_origin_a",
        default: "https://oidc-provider.invalid",
        secret: false,
        read: Read::Always,
        doc: "The `scheme://host[:port]` of a provider listed in `auth_providers`; `spin.toml` allows outbound HTTP to it.",
    },
    Variable {
        name: "auth_provider_origin_b",
        default: "https://oidc-provider.invalid",
        secret: false,
        read: Read::Always,
        doc: "Same, for another provider.",
    },
    Variable {
        name: "auth_provider_origin_c",
        default: "https://oidc-provider.invalid",
        secret: false,
        read: Read::Always,
        doc: "Same, for another provider.",
    },
    Variable {
        name: "auth_provider_secret_a",
        default: "",
        secret: true,
        read: Read::WhenNamed,
        doc: "**Secret.** A client secret that an `auth_providers` entry names in `clientSecretVariable`.",
    },
    Variable {
        name: "auth_provider_secret_b",
        default: "",
        secret: true,
        read: Read::WhenNamed,
        doc: "**Secret.** Same, for another provider.",
    },
    Variable {
        name: "auth_provider_secret_c",
        default: "",
        secret: true,
        read: Read::WhenNamed,
        doc: "**Secret.** Same, for another provider.",
    },
    Variable {
        name: "oidc_issuer_uri",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "The OpenID provider's issuer URL, exactly as its discovery document's `issuer` (a path is fine: `https://kc.example/realms/acme`; a trailing `/` is kept and must match). Empty (and `auth_providers` empty): sign-in is off.",
    },
    Variable {
        name: "oidc_provider_origin",
        default: "https://oidc-provider.invalid",
        secret: false,
        read: Read::Always,
        doc: "The issuer's `scheme://host[:port]`. `spin.toml` allows outbound HTTP to it (`allowed_outbound_hosts` holds `{{ oidc_provider_origin }}`), so a deployment names its provider without a rebuild. Must be the issuer's origin: set it whenever you set `oidc_issuer_uri`.",
    },
    Variable {
        name: "oidc_client_id",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "The broker's client id at the provider.",
    },
    Variable {
        name: "oidc_client_secret",
        default: "",
        secret: true,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "**Secret.** The broker's client secret. Not needed with `oidc_client_key`, which replaces it (a secret set beside a key is never sent, as in HAS).",
    },
    Variable {
        name: "oidc_client_key",
        default: "",
        secret: true,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "**Secret.** HAS's `OIDC_CLIENT_KEY_FILE`, the file's contents: a PEM RSA private key of at least 2048 bits (PKCS #8 or PKCS #1), unencrypted. With it the broker authenticates at the token endpoint with `private_key_jwt` instead of a secret: see [Client certificates at the provider](#client-certificates-at-the-provider). Set it with `oidc_client_cert`, or neither.",
    },
    Variable {
        name: "oidc_client_cert",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "HAS's `OIDC_CLIENT_CERT_FILE`, the file's contents: the PEM certificate of `oidc_client_key`'s public key, as registered at the provider (its thumbprint names it in every assertion).",
    },
    Variable {
        name: "oidc_code_challenge_method",
        default: "S256",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "PKCE method; only `S256` is accepted (RFC 9700).",
    },
    Variable {
        name: "oidc_token_signing_algo",
        default: "RS256,ES256",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "ID token signature algorithms accepted: any of RS256/384/512, PS256/384/512, ES256/384, EdDSA. `none` and HS* are refused.",
    },
    Variable {
        name: "oidc_token_endpoint_auth_method",
        default: "client_secret_basic",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "How the client secret is sent: `client_secret_basic`, or `client_secret_post`. Unused with `oidc_client_key`.",
    },
    Variable {
        name: "oidc_max_age",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "Seconds: ask the provider to re-authenticate users whose sign-in is older (`max_age`, checked against `auth_time`).",
    },
    Variable {
        name: "oidc_select_account",
        default: "false",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "`true` asks the provider to let the user choose an account (`prompt=select_account`).",
    },
    Variable {
        name: "oidc_info_label",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OIDC_GATE),
        doc: "HAS's `OIDC_INFO_LABEL`: the OpenID provider's name on the choice page (\"Sign in with …\"); empty, its issuer's host.",
    },
    Variable {
        name: "oauth_jwks_uri",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "`/oauth/validate` (HAS's `OAUTH_JWKS_URI`): the provider's JWKS URL, whose keys sign the tokens clients present. The route is off while this and `oauth_signing_key` are empty.",
    },
    Variable {
        name: "oauth_jwks_origin",
        default: "https://oauth-jwks.invalid",
        secret: false,
        read: Read::WhenAnySet(&OAUTH_GATE),
        doc: "The `scheme://host[:port]` of `oauth_jwks_uri`: `spin.toml` allows outbound HTTP to it.",
    },
    Variable {
        name: "oauth_jwks_keyid",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OAUTH_GATE),
        doc: "HAS's `OAUTH_JWKS_KEYID`: only the JWKS key with this id verifies tokens, whatever `kid` they name.",
    },
    Variable {
        name: "oauth_signing_key",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "Instead of a JWKS (HAS's `OAUTH_SIGNING_KEY_FILE`, the file's contents): one PEM public key or certificate (RSA, EC P-256/P-384 or Ed25519).",
    },
    Variable {
        name: "oauth_issuer",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OAUTH_GATE),
        doc: "Required with either: the tokens' `iss`, compared as a string.",
    },
    Variable {
        name: "oauth_audience",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OAUTH_GATE),
        doc: "Required with either: a value the tokens' `aud` must contain (other audiences may be there too).",
    },
    Variable {
        name: "oauth_algorithm",
        default: "RS256",
        secret: false,
        read: Read::WhenAnySet(&OAUTH_GATE),
        doc: "Signature algorithms accepted, comma-separated, from RS256/384/512, PS256/384/512, ES256/384, EdDSA; `none` and HS* are refused.",
    },
    Variable {
        name: "oauth_tenant_id",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&OAUTH_GATE),
        doc: "Entra ID: the tokens' `tid` must be this tenant.",
    },
    Variable {
        name: "saml_idp_metadata_url",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "SAML 2.0, the shorthand for one identity provider (see [SAML 2.0 identity providers](#saml-20-identity-providers)): the identity provider's metadata URL (`http://` or `https://`), fetched at sign-in and cached in the store for an hour. Its origin must be allowed by an origin variable: set `saml_idp_origin` to it. SAML sign-in is off while this, `saml_idp_metadata` and `saml_idp_sso_url` are all empty. `saml_idp_sso_url`, `saml_idp_entity_id` and `saml_idp_cert` override what the metadata says.",
    },
    Variable {
        name: "saml_idp_origin",
        default: "https://saml-idp.invalid",
        secret: false,
        read: Read::Always,
        doc: "The `scheme://host[:port]` of `saml_idp_metadata_url`: `spin.toml` allows outbound HTTP to it. The broker checks the metadata URL against it at load.",
    },
    Variable {
        name: "saml_idp_metadata",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "Instead of a URL, the identity provider's metadata itself (HAS's `SAML_IDP_METADATA_FILE`, the file's contents): an `EntityDescriptor`, or an `EntitiesDescriptor` holding one identity provider (with several, `saml_idp_entity_id` picks one). Read at load: it must name the entity id, a single sign-on service with the HTTP-Redirect binding, and one or more RSA signing certificates.",
    },
    Variable {
        name: "saml_idp_sso_url",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "The identity provider's single sign-on URL for the HTTP-Redirect binding, where the browser takes the AuthnRequest. Overrides the metadata's. Without metadata, this, `saml_idp_entity_id` and `saml_idp_cert` are all required.",
    },
    Variable {
        name: "saml_idp_entity_id",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "The identity provider's entity id: the `Issuer` its Response and assertion must name. Overrides the metadata's, and picks the entity in metadata that describes several.",
    },
    Variable {
        name: "saml_idp_cert",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "HAS's `IDP_CERT_FILE`, the file's contents: one or more PEM certificates (RSA) whose keys may sign the identity provider's answers. When set, these replace the metadata's certificates. A key in an answer's `KeyInfo` is never used.",
    },
    Variable {
        name: "saml_sp_entity_id",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "The broker's entity id as a Service Provider: the AuthnRequest's `Issuer` and the SP metadata's `entityID`. Empty: `<svc_base_uri>/saml/metadata`.",
    },
    Variable {
        name: "saml_sp_audience",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "The `Audience` the assertion must name. Empty: the SP entity id.",
    },
    Variable {
        name: "saml_idp_slo_url",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "HAS's `SAML_IDP_SLO_URL` (`logoutUrl` in an `auth_providers` entry): the identity provider's single logout URL (HTTP-Redirect binding). Overrides the metadata's. With one, signing out (`/saml/logout` or `/oidc/logout`) after a SAML sign-in sends a `LogoutRequest` there (signed with `saml_sp_key` when set); without one the broker forgets the browser only. The identity provider's own `LogoutRequest`s come to `<svc_base_uri>/saml/slo` either way.",
    },
    Variable {
        name: "saml_sp_key",
        default: "",
        secret: true,
        read: Read::WhenAnySet(&SAML_KEYS_GATE),
        doc: "**Secret.** HAS's `SAML_KEY_FILE` (or `KEY_FILE`), the file's contents: the broker's RSA private key as a SAML service provider (PEM, PKCS #8 or PKCS #1, unencrypted). With `saml_sp_cert`: AuthnRequests are signed (HTTP-Redirect `SigAlg` and `Signature`), encrypted assertions and NameIDs are decrypted (RSA-OAEP key transport; AES-GCM or AES-CBC content; RSA 1.5 is refused), and the SP metadata publishes the certificate for signing and encryption. Shared by every SAML identity provider. Empty: requests go unsigned and encrypted answers are refused.",
    },
    Variable {
        name: "saml_sp_cert",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_KEYS_GATE),
        doc: "HAS's `SAML_CERT_FILE` (or `CERT_FILE`), the file's contents: the PEM certificate of `saml_sp_key`; both or neither.",
    },
    Variable {
        name: "saml_sp_previous_key",
        default: "",
        secret: true,
        read: Read::WhenAnySet(&SAML_KEYS_GATE),
        doc: "**Secret.** During a rotation of `saml_sp_key`: the key it replaces, with `saml_sp_previous_cert`. It still decrypts, and the metadata still offers its certificate for encryption, until every identity provider has the new metadata; it never signs.",
    },
    Variable {
        name: "saml_sp_previous_cert",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_KEYS_GATE),
        doc: "The certificate of `saml_sp_previous_key`; both or neither.",
    },
    Variable {
        name: "sp_key_algo",
        default: "sha256",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "HAS's `SP_KEY_ALGO` (`keyAlgorithm` in an `auth_providers` entry): the hash of the RSA signature on requests, `sha256` or `sha512`. SHA-1 is refused.",
    },
    Variable {
        name: "saml_nameid_format",
        default: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "The NameID format the AuthnRequest asks for (`NameIDPolicy`) and the SP metadata names.",
    },
    Variable {
        name: "saml_nameid_field",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "The name of an attribute whose value becomes the identity's `nameID`, instead of the Subject's NameID. The attribute must have exactly one non-empty value, or the sign-in fails. Empty: the Subject's NameID.",
    },
    Variable {
        name: "saml_authn_context",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "Comma-separated authentication context class references (such as `urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport`), sent as `RequestedAuthnContext` with `Comparison=\"exact\"`. Empty: none is requested.",
    },
    Variable {
        name: "saml_force_authn",
        default: "false",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "`true`: every AuthnRequest carries `ForceAuthn=\"true\"`, as if every login asked for `forceAuthn`.",
    },
    Variable {
        name: "saml_want_response_signed",
        default: "true",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "The Response itself must carry a valid signature.",
    },
    Variable {
        name: "saml_want_assertion_signed",
        default: "true",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "The assertion must carry a valid signature of its own. Setting both `want` variables to `false` is refused: an answer signed nowhere proves nothing. A signature that is present must verify either way.",
    },
    Variable {
        name: "saml_info_label",
        default: "",
        secret: false,
        read: Read::WhenAnySet(&SAML_GATE),
        doc: "HAS's `SAML_INFO_LABEL`: the SAML identity provider's name on the choice page; empty, its sign-on URL's host.",
    },
    Variable {
        name: "default_protocol",
        default: "",
        secret: false,
        read: Read::Always,
        doc: "HAS's `DEFAULT_PROTOCOL`: with both the `oidc_*` and the `saml_*` shorthand set, where a login goes when its client names no provider: `oidc` or `saml`; empty, as in HAS, the person chooses on the choice page. Ignored with `auth_providers` (there an entry's `default` decides).",
    },
    Variable {
        name: super::SETTINGS_JSON,
        default: "",
        secret: true,
        read: Read::First,
        doc: "**Secret.** Every other variable at once, as one JSON object of names and values (`{\"state_key\": \"…\", \"login_timeout\": 60, \"auth_providers\": [{…}]}`; a value that is not a string is taken as its JSON text). When it is set, the broker reads it and the `*_origin` variables alone (Spin itself expands those in `allowed_outbound_hosts`, so they stay variables of their own and may not be in it): any other variable is then not read, and one it leaves out takes its default. For the `wasi:http` 0.2 build, which reads its configuration for every request (see above).",
    },
];

/// The variable named `name`.
pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|variable| variable.name == name)
}

/// The configuration reference's table of variables, as Markdown.
pub fn reference_table() -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for variable in VARIABLES {
        let default = if variable.default.is_empty() { "*(empty)*".to_owned() } else { format!("`{}`", variable.default) };
        table.push_str(&format!("| `{}` | {default} | {} |\n", variable.name, variable.doc));
    }
    table
}
