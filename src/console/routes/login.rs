//! Logging in and out: the login form, the password check (slowed, throttled, at most
//! [`CHECKS_AT_ONCE`](super::CHECKS_AT_ONCE) at once, on a blocking thread), the session
//! cookie, and where the browser goes next.

use super::{COOKIE, Console, Html, Peer, Shared, cookie};
use crate::console::access::{Attempt, FAILURE_DELAY, MAX_CREDENTIAL, Role, SESSION_HOURS};
use crate::console::html::{Layout, Who};
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

#[derive(serde::Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
}

/// Where a login may send the browser: a path of the console, never another site.
fn next_of(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

fn login_form(c: &Console, next: &str, message: Option<&str>, status: StatusCode) -> Response {
    let nobody = Who {
        user: None,
        role: Role::Viewer,
        session: false,
    };
    let mut layout = Layout::new("Log in".into(), None, String::new(), &nobody);
    layout.no_nav();
    match c
        .templates
        .render("login.html", &layout, context! { next, message })
    {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub(super) async fn login_page(
    State(c): State<Shared>,
    q: axum::extract::Query<LoginQuery>,
) -> Response {
    if c.config.users.is_none() {
        return Redirect::to("/").into_response();
    }
    login_form(&c, &next_of(q.next.as_deref()), None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
struct Credentials {
    name: String,
    password: String,
    next: Option<String>,
}

pub(super) async fn login(State(c): State<Shared>, req: Request) -> Response {
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let Some(peer) = peer else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(Form(form)) = Form::<Credentials>::from_request(req, &()).await else {
        return login_form(
            &c,
            "/",
            Some("Give a name and a password."),
            StatusCode::BAD_REQUEST,
        );
    };
    let next = next_of(form.next.as_deref());
    let Some(users) = c.config.users.clone() else {
        return Redirect::to("/").into_response();
    };
    if form.name.len() > MAX_CREDENTIAL || form.password.len() > MAX_CREDENTIAL {
        return login_form(
            &c,
            &next,
            Some("Wrong name or password."),
            StatusCode::UNAUTHORIZED,
        );
    }
    if c.throttle.attempt(peer, &form.name) == Attempt::Refuse {
        tokio::time::sleep(FAILURE_DELAY).await;
        let why = "Too many wrong passwords: try again in 15 minutes.";
        return login_form(&c, &next, Some(why), StatusCode::TOO_MANY_REQUESTS);
    }
    let Ok(_permit) = c.checks.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let (name, password) = (form.name.clone(), form.password);
    let checked = tokio::task::spawn_blocking(move || users.check(&name, &password)).await;
    let Ok(Some(user)) = checked else {
        c.throttle.failed(peer, &form.name);
        tokio::time::sleep(FAILURE_DELAY).await;
        return login_form(
            &c,
            &next,
            Some("Wrong name or password."),
            StatusCode::UNAUTHORIZED,
        );
    };
    c.throttle.succeeded(&user.name);
    let Some(secret) = c.sessions.open(&user) else {
        let why = "Too many sessions are open: try again later.";
        return login_form(&c, &next, Some(why), StatusCode::SERVICE_UNAVAILABLE);
    };
    let cookie = format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        SESSION_HOURS * 3600
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub(super) async fn logout(State(c): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie(&headers) {
        c.sessions.close(secret);
    }
    let mut response = Redirect::to("/login").into_response();
    let gone = format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&gone) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
