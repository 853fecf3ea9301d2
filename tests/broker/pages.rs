//! Every page a person can meet, in headless Chromium: screenshots for a human to look
//! at (under `target/screenshots/`), and checks of what each must hold: its heading,
//! `lang`, a `main` landmark, labelled fields, readable contrast, and a keyboard path.

use std::path::PathBuf;

use serde_json::{Value, json};
use testkit::{Broker, OidcProvider, Store, UNKNOWN_REQUEST_ID, auth_providers_variables, browser, free_port};

/// `target/screenshots/<scenario>/`, emptied first, so each scenario's files are its own.
fn screenshots(scenario: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots").join(scenario);
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_str().unwrap().to_owned()
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
    let owned = auth_providers_variables(&[("acme", "Acme Corporate SSO", &acme), ("partners", "Partner Network", &partners)]);
    let mut variables: Vec<(&str, &str)> = owned.iter().map(|(name, value)| (*name, value.as_str())).collect();
    variables.extend([("svc_base_uri", base_url.as_str()), ("user_code_required", "true")]);
    let broker = Broker::start_on(port, Store::Memory, &variables);

    let request = broker.new_request("frank");
    let code = request["userCode"].as_str().unwrap();
    let report = browser(&[
        "--url",
        request["loginUrl"].as_str().unwrap(),
        "--username",
        "frank",
        "--provider",
        "Partner Network",
        "--user-code",
        code,
        "--screenshots",
        &screenshots("login"),
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
    let said = confirmation["text"].as_str().unwrap();
    assert!(said.contains("frank") && said.contains("From address 127.0.0.1") && said.contains(" ago, at "), "{confirmation}");
    assert_eq!(confirmation["focusable"], json!(["Code shown by your application", "Continue to sign in"]));
    assert_accessible(&pages[2], "You are signed in");
    assert_eq!(broker.status(request["request"].as_str().unwrap()).json()["iss"], partners.issuer);

    // Pages met when something is wrong, and after signing out.
    let visits = [
        ("unknown-link", format!("{base_url}/oidc/login/{UNKNOWN_REQUEST_ID}"), 404, "Not found", "unknown or has expired"),
        ("malformed-link", format!("{base_url}/oidc/login/not-an-id"), 400, "This link cannot be used", "malformed"),
        (
            "used-callback",
            format!("{base_url}/oidc/callback?state=x&code=y"),
            400,
            "This link cannot be used",
            "expired or was already used",
        ),
        ("signed-out", format!("{base_url}/oidc/logged_out"), 200, "You are signed out", "close this window"),
    ];
    for (scenario, url, status, h1, text) in visits {
        let report = browser(&["--mode", "visit", "--url", &url, "--screenshots", &screenshots(scenario)]);
        let page = &report["pages"][0];
        assert_eq!(page["status"], status, "{url}: {page}");
        assert_accessible(page, h1);
        assert!(page["text"].as_str().unwrap().contains(text), "{url}: {page}");
    }
}
