//! Revealing a pseudonym: only for an auditor, only with a reason, only with the key file on
//! the server, and only once the audit log holds the attempt (a refused one too).

use super::{Asked, Console, Html, MAX_REASON, Peer, Shared, clip};
use crate::capture::{Rfc3339, Timestamp};
use crate::console::html::{Layout, Who};
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use std::io::Write;

fn reveal_form(
    c: &Console,
    who: &Who,
    status: StatusCode,
    token: &str,
    revealed: Option<&str>,
    message: Option<&str>,
) -> Response {
    let layout = Layout::new("Reveal".into(), None, String::new(), who);
    match c.templates.render(
        "reveal.html",
        &layout,
        context! { token, revealed, message },
    ) {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub(super) async fn reveal_page(State(c): State<Shared>, axum::Extension(who): Asked) -> Response {
    if !who.role.may_reveal() {
        let why = "revealing a pseudonym takes the auditor role";
        return c.message(Some(&who), StatusCode::FORBIDDEN, "Refused", why);
    }
    reveal_form(&c, &who, StatusCode::OK, "", None, None)
}

#[derive(serde::Deserialize)]
struct RevealForm {
    token: String,
    reason: String,
}

/// One line of the audit log.
#[derive(serde::Serialize)]
struct Audited<'a> {
    ts: String,
    user: Option<&'a str>,
    role: &'static str,
    peer: String,
    token: &'a str,
    reason: &'a str,
    /// `revealed`, `unknown` (no such token under this key), or `refused` (not an auditor).
    outcome: &'static str,
}

impl Console {
    /// Appends a reveal (or a refused one) to the audit log and syncs it: no reveal is shown
    /// unless it is written.
    fn audit(&self, entry: &Audited<'_>) -> Result<(), String> {
        let Some(path) = &self.config.audit_log else {
            return Err("no --audit-log".into());
        };
        let _one_at_a_time = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        let line = serde_json::to_string(entry).map_err(|e| e.to_string())? + "\n";
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        file.write_all(line.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

pub(super) async fn reveal(
    State(c): State<Shared>,
    axum::Extension(who): Asked,
    req: Request,
) -> Response {
    let peer = req
        .extensions()
        .get::<Peer>()
        .map_or("-".to_string(), |p| p.0.to_string());
    let Ok(Form(form)) = Form::<RevealForm>::from_request(req, &()).await else {
        let why = "a reveal needs a token and a reason";
        return c.message(Some(&who), StatusCode::BAD_REQUEST, "Not a reveal", why);
    };
    let token = clip(form.token.trim(), 64).to_string();
    let reason = clip(form.reason.trim(), MAX_REASON).to_string();
    let entry = |outcome| Audited {
        ts: Rfc3339(Timestamp::now()).to_string(),
        user: who.user.as_deref(),
        role: who.role.name(),
        peer: peer.clone(),
        token: &token,
        reason: &reason,
        outcome,
    };
    if !who.role.may_reveal() {
        let _ = c.audit(&entry("refused"));
        let why = "revealing a pseudonym takes the auditor role; the attempt was logged";
        return c.message(Some(&who), StatusCode::FORBIDDEN, "Refused", why);
    }
    if reason.is_empty() {
        let why = Some("Give the reason for this reveal: it goes to the audit log.");
        return reveal_form(&c, &who, StatusCode::BAD_REQUEST, &token, None, why);
    }
    if c.config.key.is_none() {
        let why = Some("This console has no key file (--key): it cannot reveal anything.");
        return reveal_form(&c, &who, StatusCode::SERVICE_UNAVAILABLE, &token, None, why);
    }
    let asked = token.clone();
    let name = c
        .with_store(move |c, store| {
            let sealed = store.sealed(&asked).map_err(|e| e.to_string())?;
            Ok(sealed.and_then(|s| c.config.key.as_ref().and_then(|k| k.open(&asked, &s))))
        })
        .await;
    let outcome = match &name {
        Ok(Some(_)) => "revealed",
        _ => "unknown",
    };
    if let Err(e) = c.audit(&entry(outcome)) {
        let why = format!("the audit log could not be written, so nothing is revealed: {e}");
        return c.message(
            Some(&who),
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not revealed",
            &why,
        );
    }
    match name {
        Ok(Some(name)) => reveal_form(&c, &who, StatusCode::OK, &token, Some(&name), None),
        Ok(None) => {
            let why = Some("No such token in this store under this key.");
            reveal_form(&c, &who, StatusCode::NOT_FOUND, &token, None, why)
        }
        Err(e) => c.message(
            Some(&who),
            StatusCode::INTERNAL_SERVER_ERROR,
            "The store could not be read",
            &e,
        ),
    }
}
