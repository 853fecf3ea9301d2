//! The pages a person sees, in one place so they read as one product. Each works
//! without JavaScript; every value shown is escaped here.

use http::StatusCode;

use crate::response::{Reply, escape_html, html_page, page};

/// `/multi/login/:id`: one link per provider (`(href, label)`), in the operator's order.
pub fn choose_provider(user: &str, choices: &[(String, &str)]) -> Reply {
    let choices: String = choices
        .iter()
        .map(|(href, label)| {
            format!("<li><a class=\"provider\" href=\"{}\">Sign in with {}</a></li>", escape_html(href), escape_html(label))
        })
        .collect();
    let body = format!(
        "<p>An application asked to sign in <strong><bdi>{user}</bdi></strong>. Choose where you have an account.</p>\
         <ul class=\"choices\">{choices}</ul>",
        user = escape_html(user),
    );
    html_page(StatusCode::OK, "Choose how to sign in", &body)
}

/// Names the user the login is for and asks for the code (or a click) before any
/// provider is contacted. `form_action` keeps the provider the user chose.
pub struct Confirmation<'a> {
    pub user: &'a str,
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
    let notice =
        confirmation.notice.map(|text| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape_html(text))).unwrap_or_default();
    let body = format!(
        "<p>An application asked to sign in <strong><bdi>{user}</bdi></strong>. Continue only if you started this login \
         yourself, from an application in front of you.</p>{notice}\
         <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"confirmation\" value=\"{token}\">\
         {code_field}<p><button type=\"submit\">Continue to sign in</button></p></form>",
        user = escape_html(confirmation.user),
        action = escape_html(confirmation.form_action),
        token = escape_html(confirmation.token),
    );
    html_page(status, "Confirm this login", &body)
}

pub fn signed_in() -> Reply {
    page(StatusCode::OK, "You are signed in", "You can close this window and return to your application.")
}

pub fn signed_out() -> Reply {
    page(StatusCode::OK, "You are signed out", "The login broker has forgotten this browser. You can close this window.")
}
