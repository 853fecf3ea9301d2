//! Building responses: JSON for API routes, small HTML pages for browser routes.

use crate::base::markup::escape;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// Every handler answers with a complete in-memory body: our answers are small.
pub type Reply = http::Response<String>;

const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn json(status: StatusCode, body: &impl Serialize) -> Reply {
    // Serialising our own plain records cannot fail; fall back to an empty object rather than panic.
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    with_common_headers(status, "application/json", text)
}

/// A document for machines other than JSON (SAML metadata).
pub fn document(content_type: &'static str, body: String) -> Reply {
    with_common_headers(StatusCode::OK, content_type, body)
}

/// A plain, self-contained page. `title` and `message` are text, escaped here.
pub fn page(status: StatusCode, title: &str, message: &str) -> Reply {
    html_page(status, title, &format!("<p>{}</p>", escape(message)))
}

/// A page around `body_html`, which the caller built with [`escape`]. Every page
/// of the broker shares this layout: a landmark, one heading, readable contrast
/// (at least 7:1 for text), a visible keyboard focus, and no script.
pub fn html_page(status: StatusCode, title: &str, body_html: &str) -> Reply {
    let title = escape(title);
    let text = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · login-broker</title><style>{STYLE}</style></head>\
         <body><header><p class=\"brand\">login-broker</p></header>\
         <main><h1>{title}</h1>{body_html}</main></body></html>\n"
    );
    with_common_headers(status, "text/html; charset=utf-8", text)
}

const STYLE: &str = "\
    body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:1.0625rem;line-height:1.5;\
    color:#1b1f24;background:#f3f4f6;margin:0;padding:2rem 1rem}\
    header,main{max-width:34rem;margin:0 auto}\
    .brand{font-weight:700;letter-spacing:.02em;color:#374151;margin:0 0 1rem}\
    main{background:#fff;border:1px solid #d1d5db;border-radius:.75rem;padding:1.5rem 2rem}\
    h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 1rem}\
    ul.choices{list-style:none;padding:0;margin:1rem 0}ul.choices li{margin:.5rem 0}\
    ul.facts{margin:.5rem 0 1rem;padding-left:1.25rem}\
    bdi.user{font-family:ui-monospace,monospace;font-weight:600;background:#eef2ff;border:1px solid #c7d2fe;border-radius:.25rem;padding:0 .3em;overflow-wrap:anywhere}\
    a.provider,button{display:inline-block;font:inherit;font-weight:600;color:#fff;background:#1e40af;\
    border:2px solid #1e40af;border-radius:.5rem;padding:.6rem 1.1rem;text-decoration:none;cursor:pointer}\
    a.provider{display:block}\
    a.provider:hover,button:hover{background:#1e3a8a}\
    a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #b45309;outline-offset:2px}\
    label{display:block;font-weight:600;margin-bottom:.25rem}\
    input{font:inherit;font-size:1.25rem;letter-spacing:.1em;padding:.4rem .6rem;border:2px solid #4b5563;border-radius:.4rem}\
    .notice{color:#991b1b;font-weight:600}\
    .hint{color:#374151}";

/// Sends the browser on with `303 See Other`, setting `cookies`.
pub fn redirect(location: &str, cookies: Vec<HeaderValue>) -> Reply {
    let reply = with_common_headers(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", String::new());
    match HeaderValue::from_str(location) {
        Ok(location) => {
            let mut reply = with_cookies(reply, cookies);
            reply.headers_mut().insert(header::LOCATION, location);
            reply
        }
        Err(_) => page(StatusCode::BAD_GATEWAY, "Sign-in failed", "The identity provider's address is not usable."),
    }
}

/// Lets this page's forms lead to `origins` (space-separated) too: browsers apply `form-action` to the
/// redirects that follow a form submission, and a confirmed login is redirected to
/// the provider.
pub fn allow_form_to(mut reply: Reply, origins: &str) -> Reply {
    let policy = CONTENT_SECURITY_POLICY.replace("form-action 'self'", &format!("form-action 'self' {origins}"));
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        reply.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    reply
}

pub fn with_cookies(mut reply: Reply, cookies: Vec<HeaderValue>) -> Reply {
    for cookie in cookies {
        reply.headers_mut().append(header::SET_COOKIE, cookie);
    }
    reply
}

/// Over https (`svc_base_uri`), tells browsers to use nothing else for this host for a
/// year (HSTS), so that no later visit starts on plain http where the sign-in cookie's
/// `Secure` would not protect it. Nothing over plain http, where it would be ignored.
pub fn require_https_from_now_on(reply: &mut Reply, base_url: &str) {
    if base_url.starts_with("https://") {
        reply.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
}

fn with_common_headers(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut reply = http::Response::new(body);
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Login state and identities must never be cached by a browser or a proxy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Our pages load nothing and run nothing; nobody may frame them (clickjacking) or
    // learn, through the Referer, the URL of a login in progress.
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_escapes_markup_in_its_text() {
        let reply = page(StatusCode::NOT_FOUND, "<b>", "a \"quoted\" & <script>");
        assert!(reply.body().contains("&lt;b&gt;"));
        assert!(reply.body().contains("a &quot;quoted&quot; &amp; &lt;script&gt;"));
        assert!(!reply.body().contains("<script>"));
    }

    #[test]
    fn a_page_may_let_its_forms_lead_to_the_provider() {
        let reply = allow_form_to(page(StatusCode::OK, "t", "m"), "https://idp.example.com");
        let policy = reply.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("form-action 'self' https://idp.example.com;"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "the rest of the policy stays");
    }

    #[test]
    fn every_answer_forbids_caching_framing_and_referrers() {
        let answers = [
            json(StatusCode::OK, &serde_json::json!({"a": 1})),
            page(StatusCode::OK, "t", "m"),
            redirect("https://idp.example.com/authorize", vec![HeaderValue::from_static("c=1")]),
        ];
        for reply in answers {
            assert_eq!(reply.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(reply.headers()[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(reply.headers()[header::REFERRER_POLICY], "no-referrer");
            assert!(reply.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
        }
    }
}
