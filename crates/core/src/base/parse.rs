//! Parsers of outside input that need no host: query strings, cookies, forwarded
//! client certificates. Plain functions over plain types, so that `fuzz/` can run them
//! natively (the component itself builds for wasm32-wasip2 only).

use base64::Engine;
use http::{HeaderMap, header};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::base::ids::ProviderId;

#[derive(Debug, Default, PartialEq)]
pub struct NewRequestOptions {
    pub force_authn: bool,
    pub provider_id: Option<ProviderId>,
}

impl NewRequestOptions {
    /// Unknown parameters are ignored, as HAS ignores them.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut options = Self::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "forceAuthn" => {
                    options.force_authn = match value.as_ref() {
                        "" | "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err("forceAuthn is `true` or `false`".into()),
                    }
                }
                "providerId" => options.provider_id = Some(ProviderId::parse(&value)?),
                _ => {}
            }
        }
        Ok(options)
    }
}

/// What the provider sends back (RFC 6749 §4.1.2, RFC 9207 `iss`).
pub struct CallbackParams {
    pub state: String,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

impl CallbackParams {
    /// `None` unless there is a `state` and a `code` or an `error`.
    pub fn parse(query: &str) -> Option<Self> {
        let mut params = Self { state: String::new(), code: None, error: None, error_description: None, iss: None };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "state" => {
                    params.state = value.into_owned();
                    continue;
                }
                "code" => &mut params.code,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                "iss" => &mut params.iss,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        let well_formed = !params.state.is_empty() && params.state.len() <= 128 && (params.code.is_some() || params.error.is_some());
        well_formed.then_some(params)
    }
}

/// A yes-or-no setting as operators write it: `true`, `1` or `yes`, `false`, `0` or
/// `no`, in any case; `None` for anything else (the caller decides what empty means).
pub fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// The value of the cookie `name`, from any `Cookie` header.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers).find(|(cookie_name, _)| *cookie_name == name).map(|(_, value)| value)
}

/// Every `name=value` pair of the `Cookie` headers, in order.
pub fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// What the broker needs of a client certificate a proxy forwarded.
#[derive(Debug)]
pub struct ForwardedCertificate {
    pub fingerprint: [u8; 32],
    pub common_name: Option<String>,
    /// Its validity period, in seconds since the Unix epoch (notBefore, notAfter).
    pub valid_from: u64,
    pub valid_until: u64,
}

/// Reads a certificate as proxies forward it, in every form HAS reads: PEM, URL-encoded
/// (nginx's `$ssl_client_escaped_cert`, ingress-nginx's `ssl-client-cert`) or not, its
/// line breaks kept, or turned into spaces or tabs (headers cannot carry them); or
/// bare base64 DER (Azure's, Traefik's). Only the first certificate of a chain is read.
pub fn forwarded_certificate(header_value: &str) -> Result<ForwardedCertificate, &'static str> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let text = percent_decode_str(header_value).decode_utf8().map_err(|_| "forwarded certificate is not UTF-8")?;
    let base64 = match text.split_once(BEGIN) {
        Some((_, rest)) => rest.split_once("-----END CERTIFICATE-----").ok_or("forwarded certificate's PEM has no end")?.0,
        None => text.split(',').next().unwrap_or_default(),
    };
    let compact: String = base64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| "forwarded certificate is neither PEM nor base64")?;
    let certificate = Certificate::from_der(&der).map_err(|_| "forwarded certificate is not an X.509 certificate")?;
    let validity = &certificate.tbs_certificate.validity;
    Ok(ForwardedCertificate {
        fingerprint: Sha256::digest(&der).into(),
        common_name: common_name(&certificate),
        valid_from: validity.not_before.to_unix_duration().as_secs(),
        valid_until: validity.not_after.to_unix_duration().as_secs(),
    })
}

fn common_name(certificate: &Certificate) -> Option<String> {
    use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
    let common_name = const_oid::db::rfc4519::CN;
    certificate.tbs_certificate.subject.0.iter().flat_map(|rdn| rdn.0.iter()).find(|atv| atv.oid == common_name).and_then(|atv| {
        Utf8StringRef::try_from(&atv.value)
            .map(|s| s.as_str().to_owned())
            .or_else(|_| PrintableStringRef::try_from(&atv.value).map(|s| s.as_str().to_owned()))
            .ok()
    })
}

/// `*` matches any run of characters (HAS's `CLIENT_CERT_CN` patterns); all else is literal.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            text.starts_with(prefix) && (prefix.len()..=text.len()).any(|i| text.is_char_boundary(i) && glob_matches(rest, &text[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_no_force_and_no_provider() {
        assert_eq!(NewRequestOptions::parse("").unwrap(), NewRequestOptions::default());
        assert_eq!(NewRequestOptions::parse("instanceId=x&other=1").unwrap(), NewRequestOptions::default());
    }

    #[test]
    fn options_read_has_parameters() {
        let options = NewRequestOptions::parse("forceAuthn=true&providerId=okta").unwrap();
        assert!(options.force_authn);
        assert_eq!(options.provider_id, Some(ProviderId::parse("okta").unwrap()));
        assert!(NewRequestOptions::parse("forceAuthn").unwrap().force_authn);
        assert!(!NewRequestOptions::parse("forceAuthn=false").unwrap().force_authn);
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(NewRequestOptions::parse("forceAuthn=maybe").is_err());
        assert!(NewRequestOptions::parse("providerId=%3Cscript%3E").is_err());
    }
    #[test]
    fn callback_parameters_need_a_state_and_a_code_or_an_error() {
        assert!(CallbackParams::parse("code=c&state=s").is_some());
        assert!(CallbackParams::parse("error=access_denied&state=s").is_some());
        for bad in ["", "code=c", "state=s", &format!("code=c&state={}", "s".repeat(129))] {
            assert!(CallbackParams::parse(bad).is_none(), "{bad:?}");
        }
    }
    #[test]
    fn common_name_patterns_match_like_globs() {
        assert!(glob_matches("build-*", "build-server-1"));
        assert!(glob_matches("*.ci.example.com", "runner.ci.example.com"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(glob_matches("exact", "exact"));
        for (pattern, text) in [("build-*", "xbuild-1"), ("*.example.com", "example.com.evil"), ("exact", "exact2"), ("a*b", "a")] {
            assert!(!glob_matches(pattern, text), "{pattern} ~ {text}");
        }
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; lb_signin=s3cret; lb_signin_x=no".parse().unwrap());
        assert_eq!(cookie(&headers, "lb_signin"), Some("s3cret"));
        assert_eq!(cookie(&headers, "lb"), None);
    }
}
