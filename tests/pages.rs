//! Every page a person can meet, in headless Chromium: screenshots for a human to look
//! at (under `target/screenshots/`), and checks of what each must hold: its heading,
//! `lang`, a `main` landmark, labelled fields, readable contrast, and a keyboard path.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::{Broker, OIDC_CLIENT_SECRET, OidcProvider, Store, UNKNOWN_REQUEST_ID, browser, free_port};

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// WCAG AA for body text is 4.5:1; the pages aim for AAA (7:1).
const MIN_CONTRAST: f64 = 7.0;

fn assert_accessible(page: &Value, h1: &str) {
    assert_eq!(page["h1"], h1, "{page}");
    assert_eq!(page["lang"], "en", "{page}");
    assert_eq!(page["hasMain"], true, "{page}");
    assert_eq!(page["unlabelledInputs"], 0, "{page}");
    assert!(page["minContrast"].as_f64().unwrap() >= MIN_CONTRAST, "contrast {page}");
    assert!(page["title"].as_str().unwrap().ends_with("· login-broker"), "{page}");
    let file = PathBuf::from(page["screenshot"].as_str().unwrap());
    assert!(std::fs::metadata(&file).unwrap().len() > 1000, "a real screenshot at {}", file.display());
}

#[test]
fn every_page_of_a_login_is_readable_and_keyboard_friendly() {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let callback = vec![format!("{base_url}/oidc/callback")];
    let (acme, partners) = (OidcProvider::start(&callback, &[]), OidcProvider::start(&callback, &[]));
    let entry = |id: &str, label: &str, provider: &OidcProvider, secret: &str| {
        json!({"id": id, "label": label, "issuerUri": provider.issuer, "clientId": support::OIDC_CLIENT_ID, "clientSecretVariable": secret})
    };
    let list = json!([entry("acme", "Acme Corporate SSO", &acme, "auth_provider_secret_1"), entry("partners", "Partner Network", &partners, "auth_provider_secret_2")]).to_string();
    let variables = [
        ("svc_base_uri", base_url.as_str()),
        ("auth_providers", &list),
        ("auth_provider_origin_1", &acme.origin),
        ("auth_provider_origin_2", &partners.origin),
        ("auth_provider_secret_1", OIDC_CLIENT_SECRET),
        ("auth_provider_secret_2", OIDC_CLIENT_SECRET),
        ("prompt_for_authorization", "true"),
    ];
    let broker = Broker::start_on(port, Store::Memory, &variables);
    let dir = screenshots();
    let dir = dir.to_str().unwrap();

    let request = broker.new_request("frank");
    let code = request["userCode"].as_str().unwrap();
    let report = browser(&[
        "--url", request["loginUrl"].as_str().unwrap(), "--username", "frank",
        "--provider", "Partner Network", "--user-code", code, "--screenshots", dir,
    ]);
    let pages = report["pages"].as_array().unwrap();
    let headings: Vec<&str> = pages.iter().filter_map(|page| page["h1"].as_str()).collect();
    assert_eq!(headings, ["Choose how to sign in", "Confirm this login", "You are signed in"], "{report}");
    let chooser = &pages[0];
    assert_accessible(chooser, "Choose how to sign in");
    assert!(chooser["text"].as_str().unwrap().contains("frank"), "names the user: {chooser}");
    assert_eq!(chooser["focusable"], json!(["Sign in with Acme Corporate SSO", "Sign in with Partner Network"]));
    let confirmation = &pages[1];
    assert_accessible(confirmation, "Confirm this login");
    assert!(confirmation["text"].as_str().unwrap().contains("frank"), "{confirmation}");
    assert_eq!(confirmation["focusable"], json!(["Code shown by your application", "Continue to sign in"]));
    assert_accessible(&pages[2], "You are signed in");
    assert_eq!(broker.status(request["request"].as_str().unwrap()).json()["iss"], partners.issuer);

    // Pages met when something is wrong, and after signing out.
    let visits = [
        (format!("{base_url}/oidc/login/{UNKNOWN_REQUEST_ID}"), 404, "Not found", "unknown or has expired"),
        (format!("{base_url}/oidc/login/not-an-id"), 400, "This link cannot be used", "malformed"),
        (format!("{base_url}/oidc/callback?state=x&code=y"), 400, "This link cannot be used", "expired or was already used"),
        (format!("{base_url}/oidc/logged_out"), 200, "You are signed out", "close this window"),
    ];
    for (url, status, h1, text) in visits {
        let report = browser(&["--mode", "visit", "--url", &url, "--screenshots", dir]);
        let page = &report["pages"][0];
        assert_eq!(page["status"], status, "{url}: {page}");
        assert_accessible(page, h1);
        assert!(page["text"].as_str().unwrap().contains(text), "{url}: {page}");
    }
}
