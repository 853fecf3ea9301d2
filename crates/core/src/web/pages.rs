//! The pages a person sees, in one place so they read as one product. Each works
//! without JavaScript; every value shown is escaped here.

use http::StatusCode;

use crate::base::markup::escape;
use crate::login::records::Requester;
use crate::state::UnixTime;
use crate::web::response::{Reply, html_page, page};

/// `/multi/login/:id`: one link per provider (`(href, label)`), in the operator's order.
pub fn choose_provider(user: &str, choices: &[(String, &str)]) -> Reply {
    let choices: String = choices
        .iter()
        .map(|(href, label)| format!("<li><a class=\"provider\" href=\"{}\">Sign in with {}</a></li>", escape(href), escape(label)))
        .collect();
    let body = format!(
        "<p>An application asked to sign in <bdi class=\"user\">{user}</bdi>. Choose where you have an account.</p>\
         <ul class=\"choices\">{choices}</ul>",
        user = escape(user),
    );
    html_page(StatusCode::OK, "Choose how to sign in", &body)
}

/// Names the user the login is for, and what the requester could not choose (when,
/// from which client and address), and asks for the code (or a click) before any
/// provider is contacted. `form_action` keeps the provider the user chose.
pub struct Confirmation<'a> {
    pub user: &'a str,
    pub requested_at: UnixTime,
    pub now: UnixTime,
    pub requested_by: &'a Requester,
    pub form_action: &'a str,
    pub token: &'a str,
    pub code_required: bool,
    pub notice: Option<&'a str>,
}

pub fn confirm_login(status: StatusCode, confirmation: &Confirmation<'_>) -> Reply {
    let code_field = if confirmation.code_required {
        "<p><label for=\"user_code\">Code shown by your application</label>\
         <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" \
         required aria-describedby=\"code_hint\"></p>\
         <p id=\"code_hint\" class=\"hint\">Your application shows this code next to the link it opened.</p>"
    } else {
        ""
    };
    let notice = confirmation.notice.map(|text| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(text))).unwrap_or_default();
    let requester = confirmation.requested_by;
    let client = match &requester.client {
        Some(label) => format!("<bdi>{}</bdi>", escape(label)),
        None => "an application that did not identify itself".into(),
    };
    let address = requester.address.as_deref().map_or_else(|| "unknown".into(), escape);
    let body = format!(
        "<p>An application asked to sign in <bdi class=\"user\">{user}</bdi>.</p>\
         <ul class=\"facts\"><li>Asked {ago}, at {time} UTC</li><li>By {client}</li><li>From address {address}</li></ul>\
         <p>Continue only if you started this login yourself, just now, from an application in front of you.</p>{notice}\
         <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"confirmation\" value=\"{token}\">\
         {code_field}<p><button type=\"submit\">Continue to sign in</button></p></form>",
        user = escape(confirmation.user),
        ago = time_ago(confirmation.now.saturating_sub(confirmation.requested_at)),
        time = time_of_day(confirmation.requested_at),
        action = escape(confirmation.form_action),
        token = escape(confirmation.token),
    );
    html_page(status, "Confirm this login", &body)
}

/// "12 seconds ago", "3 minutes ago", "2 hours ago": a request lives a day at most.
fn time_ago(secs: u64) -> String {
    let (amount, unit) = match secs {
        0..120 => (secs, "second"),
        120..7200 => (secs / 60, "minute"),
        _ => (secs / 3600, "hour"),
    };
    format!("{amount} {unit}{} ago", if amount == 1 { "" } else { "s" })
}

/// `HH:MM:SS` of a Unix time, in UTC.
fn time_of_day(at: UnixTime) -> String {
    let secs = at % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

pub fn signed_in() -> Reply {
    page(StatusCode::OK, "You are signed in", "You can close this window and return to your application.")
}

pub fn signed_out() -> Reply {
    page(StatusCode::OK, "You are signed out", "The login broker has forgotten this browser. You can close this window.")
}

/// After a SAML single logout the identity provider could not complete everywhere.
pub fn signed_out_here_only(status: &str) -> Reply {
    page(
        StatusCode::OK,
        "You are signed out of the login broker",
        &format!(
            "The login broker has forgotten this browser, but the identity provider did not end its own session (status {status}). Close the browser to end it."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_a_person_says_them() {
        let said: Vec<String> = [0, 1, 59, 119, 120, 7199, 7200, 86_399].into_iter().map(time_ago).collect();
        assert_eq!(
            said,
            [
                "0 seconds ago",
                "1 second ago",
                "59 seconds ago",
                "119 seconds ago",
                "2 minutes ago",
                "119 minutes ago",
                "2 hours ago",
                "23 hours ago"
            ]
        );
        assert_eq!(time_of_day(1_800_000_000), "08:00:00");
        assert_eq!(time_of_day(1_800_000_000 + 86_399), "07:59:59");
    }
}
