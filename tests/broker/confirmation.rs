//! Login phishing: an attacker starts a request for a victim and sends them the login
//! URL. By default the browser must confirm the login on a page that says what the
//! attacker cannot choose (when, by which client, from which address); with
//! `user_code_required`, by typing the user code only the person at the real client
//! has seen. No provider is contacted before that; wrong codes are limited, and forms
//! posted from other sites are refused.

use provider_double::{Key, ProviderDouble, alice_claims, authorize_as, issuing, provider_with, start_broker};
use testkit::provider_double;
use testkit::{Broker, Login, Reply, Store};

fn provider() -> ProviderDouble {
    provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())))
}

/// Opens the login URL; returns the page and the confirmation cookie and token in it.
fn open_login(broker: &Broker, id: &Login) -> (Reply, String, String) {
    let page = broker.get(&id.login_path);
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let token = page.body.split("name=\"confirmation\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (page, cookie, token)
}

/// A request for `user` whose login URL is open in a browser: id, user code, cookie, token.
fn opened_request(broker: &Broker, user: &str) -> (Login, String, String, String) {
    let created = broker.new_request(user);
    let (id, code) = (Login::from_reply(&created), created["userCode"].as_str().unwrap().to_owned());
    let (_, cookie, token) = open_login(broker, &id);
    (id, code, cookie, token)
}

fn post_form(broker: &Broker, id: &Login, cookie: Option<&str>, form: &str) -> Reply {
    let mut headers = vec![("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
    if let Some(cookie) = cookie {
        headers.push(("Cookie".to_owned(), cookie.to_owned()));
    }
    broker.send("POST", &id.login_path, &headers, form.as_bytes().to_vec())
}

#[test]
fn the_right_code_leads_to_the_provider_and_the_login_completes() {
    let provider = provider();
    let broker = start_broker(Store::Memory, &provider, &[("user_code_required", "true")]);
    let created = broker.new_request("alice%3Cb%3E");
    let (id, code) = (Login::from_reply(&created), created["userCode"].as_str().unwrap().to_owned());
    assert_eq!(code.len(), 9, "{code}");

    let (page, cookie, token) = open_login(&broker, &id);
    assert!(page.body.contains("<bdi class=\"user\">alice&lt;b&gt;</bdi>"), "names the user, escaped and isolated: {}", page.body);
    assert!(page.body.contains("name=\"user_code\""));
    assert!(page.header("set-cookie").unwrap().contains("SameSite=Strict"));
    assert_eq!(provider.seen(|seen| seen.discovery_fetches), 0, "no provider is contacted before confirmation");

    let typed = code.to_lowercase().replace('-', " ");
    let redirect = post_form(&broker, &id, Some(&cookie), &format!("confirmation={token}&user_code={typed}"));
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let sign_in = provider_double::SignIn {
        request_id: id.request.clone(),
        authorize_url: url::Url::parse(redirect.header("location").unwrap()).unwrap(),
        cookie: redirect.header("set-cookie").unwrap().split(';').next().unwrap().to_owned(),
        set_cookie: String::new(),
    };
    let callback = authorize_as(&sign_in, "alice");
    assert_eq!(broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200);
    assert_eq!(broker.status(&id).json()["sub"], "alice");
}

#[test]
fn wrong_codes_are_limited_and_then_the_request_fails() {
    let provider = provider();
    let broker = start_broker(Store::Memory, &provider, &[("user_code_required", "true")]);
    let (id, code, cookie, token) = opened_request(&broker, "victim");
    let wrong = if code == "BCDF-GHJK" { "BCDF-GHJL" } else { "BCDF-GHJK" };

    for attempt in 1..=4 {
        let reply = post_form(&broker, &id, Some(&cookie), &format!("confirmation={token}&user_code={wrong}"));
        assert_eq!(reply.status, 400, "attempt {attempt}: {}", reply.body);
        assert!(reply.body.contains(&format!("{} attempts left", 5 - attempt)), "{}", reply.body);
    }
    let stopped = post_form(&broker, &id, Some(&cookie), &format!("confirmation={token}&user_code={wrong}"));
    assert_eq!(stopped.status, 403, "{}", stopped.body);
    // The client hears at once, and the right code no longer helps.
    let status = broker.status(&id);
    assert_eq!((status.status, status.error_code()), (403, "access_denied".to_owned()));
    assert_eq!(post_form(&broker, &id, Some(&cookie), &format!("confirmation={token}&user_code={code}")).status, 403);
    assert_eq!(provider.seen(|seen| seen.token_requests.len()), 0);
}

#[test]
fn a_form_posted_from_another_site_is_refused_and_not_counted() {
    let provider = provider();
    let broker = start_broker(Store::Memory, &provider, &[("user_code_required", "true")]);
    let (id, code, cookie, token) = opened_request(&broker, "victim");

    // The attacker knows the code (they started the request) but not this browser's token.
    for (cookie, form) in [
        (None, format!("confirmation={token}&user_code={code}")),
        (Some(cookie.as_str()), format!("confirmation=forged&user_code={code}")),
        (Some(cookie.as_str()), format!("user_code={code}")),
    ] {
        let reply = post_form(&broker, &id, cookie, &form);
        assert_eq!(reply.status, 400, "{form}: {}", reply.body);
        assert!(reply.body.contains("expired or was opened elsewhere"));
    }
    let oversized = post_form(&broker, &id, Some(&cookie), &format!("confirmation={token}&pad={}", "x".repeat(4096)));
    assert_eq!(oversized.status, 413);
    // None of that counted as a wrong code: the real user still gets through.
    assert_eq!(post_form(&broker, &id, Some(&cookie), &format!("confirmation={token}&user_code={code}")).status, 303);
}

#[test]
fn without_codes_the_confirmation_is_a_click() {
    let provider = provider();
    let broker = start_broker(Store::Memory, &provider, &[]);
    let id = broker.login("alice");
    let (page, cookie, token) = open_login(&broker, &id);
    assert!(!page.body.contains("name=\"user_code\""));
    assert_eq!(post_form(&broker, &id, Some(&cookie), &format!("confirmation={token}")).status, 303);
}

#[test]
fn by_default_the_page_says_when_by_whom_and_from_where_the_login_was_asked_for() {
    let provider = provider();
    let broker = start_broker(Store::Memory, &provider, &[("client_tokens", "build-server:client-token-0123456789abcdef")]);
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // The requester claims another address: Spin reports the real one.
    let anonymous = Login::from_reply(&broker.get_with("/requests/new/alice", &[("spin-client-addr", "203.0.113.9:443")]).json());
    let (page, _, _) = open_login(&broker, &anonymous);
    assert!(page.body.contains("Confirm this login") && !page.body.contains("name=\"user_code\""), "{}", page.body);
    assert!(page.body.contains("By an application that did not identify itself"), "{}", page.body);
    assert!(page.body.contains("From address 127.0.0.1") && !page.body.contains("203.0.113.9"), "{}", page.body);
    let asked = |at: u64| format!("{:02}:{:02}:{:02} UTC", at % 86_400 / 3600, at % 3600 / 60, at % 60);
    assert!([before, before + 1, before + 2].iter().any(|at| page.body.contains(&asked(*at))), "the time it was asked: {}", page.body);
    assert!(page.body.contains(" ago, at "), "{}", page.body);
    assert_eq!(provider.seen(|seen| seen.discovery_fetches), 0, "no provider is contacted before confirmation");

    let token = [("Authorization", "Bearer client-token-0123456789abcdef")];
    let identified = Login::from_reply(&broker.get_with("/requests/new/alice", &token).json());
    let (page, _, _) = open_login(&broker, &identified);
    assert!(page.body.contains("By <bdi>build-server</bdi>"), "the client's token label: {}", page.body);
}

#[test]
fn without_the_prompt_the_login_url_goes_straight_to_the_provider() {
    let provider = provider();
    let broker = start_broker(Store::Memory, &provider, &[("prompt_for_authorization", "false")]);
    let id = broker.login("alice");
    assert_eq!(broker.get(&id.login_path).status, 303);
    let reply = post_form(&broker, &id, None, "confirmation=x");
    assert_eq!(reply.status, 405);
}

/// Types the right code: the browser is sent to the provider, its sign-in in a cookie.
fn confirm(broker: &Broker, id: &Login, code: &str, cookie: &str, token: &str) -> provider_double::SignIn {
    let redirect = post_form(broker, id, Some(cookie), &format!("confirmation={token}&user_code={code}"));
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let set_cookie = redirect.header("set-cookie").unwrap().to_owned();
    provider_double::SignIn {
        request_id: id.request.clone(),
        authorize_url: url::Url::parse(redirect.header("location").unwrap()).unwrap(),
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
        set_cookie,
    }
}

/// `max_logins_per_ten_seconds` bounds how many logins may own keys per 10 s of
/// expiry. An attacker's own logins cannot fill it: a login is entered once, however
/// often its stopped confirmation form is replayed or forged error answers arrive for
/// its sign-in (many at once), so a real login in the same window still finishes.
#[test]
fn a_flood_of_wrong_codes_and_forged_error_answers_leaves_a_real_login_unharmed() {
    let provider = provider();
    let broker = start_broker(Store::Memory, &provider, &[("user_code_required", "true"), ("max_logins_per_ten_seconds", "4")]);
    // Logins are grouped by 10 s of expiry: start early in a window so all three fall in one.
    let phase = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 10_000;
    while phase() > 2_000 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (guessed, code, cookie, token) = opened_request(&broker, "mallory");
    let wrong = if code == "BCDF-GHJK" { "BCDF-GHJL" } else { "BCDF-GHJK" };
    let statuses: Vec<u16> =
        (0..20).map(|_| post_form(&broker, &guessed, Some(&cookie), &format!("confirmation={token}&user_code={wrong}")).status).collect();
    assert_eq!(statuses[..4], [400; 4], "{statuses:?}");
    assert!(statuses[4..].iter().all(|status| *status == 403), "stopped, and replays stay stopped: {statuses:?}");

    let (forged, code, cookie, token) = opened_request(&broker, "mallory");
    let sign_in = confirm(&broker, &forged, &code, &cookie, &token);
    let error_answer = format!("/oidc/callback?state={}&error=access_denied", sign_in.param("state"));
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let calls: Vec<_> =
            (0..20).map(|_| scope.spawn(|| broker.get_with(&error_answer, &[("Cookie", &sign_in.cookie)]).status)).collect();
        calls.into_iter().map(|call| call.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|status| [403, 409].contains(status)), "refused, never 503: {statuses:?}");

    let (real, code, cookie, token) = opened_request(&broker, "alice");
    let sign_in = confirm(&broker, &real, &code, &cookie, &token);
    let page = broker.get_with(&authorize_as(&sign_in, "alice"), &[("Cookie", &sign_in.cookie)]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(broker.status(&real).json()["sub"], "alice");
}
