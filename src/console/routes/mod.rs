//! The console's routes and what guards them: one gate in front of every request (who is
//! asking, the security headers, the log line), the pages, the downloads, login and logout,
//! and the reveal of a pseudonym.
//!
//! Paths: `/` and `/apps`, `/apps/{id}`, `/users`, `/users/{user}`, `/mcp`, `/servers`,
//! `/programs`, `/candidates`, `/sensors` (pages); `/report.json`, `/report.md`,
//! `/report.html`, `/report.csv?table=NAME` (downloads of the same view); `/login`,
//! `/logout`, `/reveal`; `/static/console.css`, `/static/sort.js` and `/static/favicon.svg`.
//! Logging in and out is [`login`]; revealing a pseudonym, [`reveal`].

mod login;
mod reveal;

use login::{login, login_page, logout};
use reveal::{reveal, reveal_page};

use super::access::{Role, Sessions, Throttle};
use super::cache::{self, Cache};
use super::html::{self, Layout, Templates, Who};
use super::pages::{self, Content, PageKind, Sources};
use super::view::View;
use super::{Config, ConsoleError};
use crate::capture::{Rfc3339, Timestamp};
use crate::report::render::{self, Format};
use crate::report::{Filter, Report};
use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// The client's address, set by the server on each request.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// The session cookie's name.
const COOKIE: &str = "lantern_session";
/// Longest reveal reason.
const MAX_REASON: usize = 1000;
/// Most bytes of a request body (a login or reveal form).
const MAX_BODY: usize = 16 * 1024;
/// Password checks run at once (each takes argon2's memory and a core's time).
const CHECKS_AT_ONCE: usize = 2;
/// Stores kept open between requests.
const POOL: usize = 4;

/// What the routes share.
pub struct Console {
    config: Config,
    templates: Templates,
    pool: Mutex<Vec<Store>>,
    sessions: Sessions,
    throttle: Throttle,
    checks: Semaphore,
    cache: Cache<Content>,
    reports: Cache<(Report, bool)>,
    audit: Mutex<()>,
    tls: bool,
}

type Shared = Arc<Console>;

/// The routes, behind the gate.
pub fn router(config: Config, store: Store, tls: bool) -> Result<Router, ConsoleError> {
    let templates = Templates::new().map_err(|e| ConsoleError::Setup(e.to_string()))?;
    let console = Arc::new(Console {
        config,
        templates,
        pool: Mutex::new(vec![store]),
        sessions: Sessions::default(),
        throttle: Throttle::default(),
        checks: Semaphore::new(CHECKS_AT_ONCE),
        cache: Cache::default(),
        reports: Cache::default(),
        audit: Mutex::new(()),
        tls,
    });
    Ok(Router::new()
        .route("/", get(overview))
        .route("/apps", get(apps))
        .route("/apps/{id}", get(app))
        .route("/users", get(users))
        .route("/users/{user}", get(user))
        .route("/mcp", get(mcp))
        .route("/servers", get(servers))
        .route("/programs", get(programs))
        .route("/candidates", get(candidates))
        .route("/sensors", get(sensors))
        .route("/report.json", get(json))
        .route("/report.md", get(markdown))
        .route("/report.html", get(report_html))
        .route("/report.csv", get(csv))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/reveal", get(reveal_page).post(reveal))
        .route("/static/console.css", get(css))
        .route("/static/sort.js", get(script))
        .route("/static/favicon.svg", get(favicon))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(console.clone(), gate))
        .with_state(console))
}

/// Why a request is not answered with what it asked for.
enum Refusal {
    /// No one is logged in.
    Login,
    /// The proxy's header is missing, or names no user of the auth file.
    Unknown(String),
}

impl Console {
    /// Who is asking: everyone has the anonymous role without `--auth`; with it, the user the
    /// trusted proxy names or the session's.
    fn who(&self, req: &Request) -> Result<Who, Refusal> {
        let Some(users) = &self.config.users else {
            return Ok(Who {
                user: None,
                role: self.config.anonymous_role,
                session: false,
            });
        };
        let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
        if let Some(name) = &self.config.auth_header
            && peer.is_some_and(|ip| ip.is_loopback() || self.config.trusted_proxies.contains(&ip))
        {
            let named = req
                .headers()
                .get(name.as_str())
                .and_then(|v| v.to_str().ok());
            let Some(named) = named.filter(|n| !n.is_empty()) else {
                return Err(Refusal::Unknown(format!("the proxy sent no {name} header")));
            };
            return match users.get(named) {
                Some(u) => Ok(Who {
                    user: Some(u.name.clone()),
                    role: u.role,
                    session: false,
                }),
                None => Err(Refusal::Unknown(format!(
                    "{named:?} is not a user of the console"
                ))),
            };
        }
        let session = cookie(req.headers()).and_then(|s| self.sessions.get(s));
        match session {
            Some(s) => Ok(Who {
                user: Some(s.user),
                role: s.role,
                session: true,
            }),
            None => Err(Refusal::Login),
        }
    }

    fn take_store(&self) -> Result<Store, String> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(store) => Ok(store),
            None => (self.config.open_store)(),
        }
    }

    fn give_back(&self, store: Store) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL {
            pool.push(store);
        }
    }

    /// Runs `f` with a store, on a blocking thread.
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Console, &Store) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let console = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = console.take_store()?;
            let out = f(&console, &store);
            console.give_back(store);
            out
        })
        .await
        .map_err(|e| format!("a reader stopped: {e}"))?
    }

    /// The content of a view: kept from an earlier read of the same view while the store is
    /// as it was, else read.
    fn content(
        &self,
        store: &Store,
        tables: &[&str],
        filter: &Filter,
        view: &View,
        role: Role,
    ) -> Result<Arc<Content>, String> {
        let of = format!(
            "{filter:?} {} {} {}",
            view.period.from,
            view.period.to,
            role.name()
        );
        let key = format!("{tables:?} {of}");
        let now = cache::generation(store);
        if let Some(kept) = self.cache.get(&key, &now) {
            return Ok(kept);
        }
        let sources = self.sources(store);
        let report = match self.reports.get(&of, &now) {
            Some(kept) => (*kept).clone(),
            None => {
                let read =
                    pages::shown_report(filter, view, role, &sources).map_err(|e| e.to_string())?;
                self.reports.put(of, now.clone(), Arc::new(read.clone()));
                read
            }
        };
        let content = pages::with_tables(report, tables, filter, view, &sources)
            .map_err(|e| e.to_string())?;
        let content = Arc::new(content);
        self.cache.put(key, now, content.clone());
        Ok(content)
    }

    fn sources<'a>(&'a self, store: &'a Store) -> Sources<'a> {
        Sources {
            store,
            catalog: &self.config.catalog,
            policy: self.config.policy.as_ref(),
        }
    }

    /// A page that says one thing, with `status`.
    fn message(
        &self,
        who: Option<&Who>,
        status: StatusCode,
        title: &str,
        message: &str,
    ) -> Response {
        let nobody = Who {
            user: None,
            role: Role::Viewer,
            session: false,
        };
        let layout = Layout::new(title.into(), None, String::new(), who.unwrap_or(&nobody));
        let extra = context! { message };
        match self.templates.render("message.html", &layout, extra) {
            Ok(body) => (status, Html(body)).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }
}

/// An HTML body.
struct Html(String);

impl IntoResponse for Html {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], self.0).into_response()
    }
}

/// The session secret of the request's cookie.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    (headers.get_all(header::COOKIE).iter())
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Every request passes here: who is asking (or the login page, or 401 for a download), the
/// security headers on every answer, and one log line with the user.
async fn gate(State(c): State<Shared>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let target = req
        .uri()
        .path_and_query()
        .map_or(path.clone(), |p| p.to_string());
    let peer = req.extensions().get::<Peer>().map(|p| p.0.to_string());
    let open = path.starts_with("/static/") || path == "/login";
    let foreign = method == Method::POST && !same_origin(req.headers());
    let who = c.who(&req);
    let mut response = match (&who, open) {
        _ if foreign => c.message(
            None,
            StatusCode::FORBIDDEN,
            "Refused",
            "a form from another site",
        ),
        (Ok(who), _) => {
            req.extensions_mut().insert(who.clone());
            next.run(req).await
        }
        (Err(_), true) => next.run(req).await,
        (Err(Refusal::Login), false) if method == Method::GET && !path.starts_with("/report.") => {
            Redirect::to(&format!("/login?next={}", super::view::encode(&target))).into_response()
        }
        (Err(Refusal::Login), false) => c.message(
            None,
            StatusCode::UNAUTHORIZED,
            "Log in first",
            "this needs a login",
        ),
        (Err(Refusal::Unknown(why)), false) => {
            c.message(None, StatusCode::FORBIDDEN, "Refused", why)
        }
    };
    secure(response.headers_mut(), c.tls);
    let user = who.as_ref().ok().and_then(|w| w.user.clone());
    let role = who.as_ref().map_or("-", |w| w.role.name());
    eprintln!(
        "lantern serve: {} {} {} {} {:?} {} {} ms",
        Rfc3339(Timestamp::now()),
        peer.as_deref().unwrap_or("-"),
        user.as_deref()
            .map_or("-".to_string(), |u| format!("{u:?}")),
        role,
        format!("{method} {}", clip(&target, 512)),
        response.status().as_u16(),
        started.elapsed().as_millis(),
    );
    response
}

fn clip(s: &str, at: usize) -> &str {
    match s.char_indices().nth(at) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Whether a form came from the console's own pages: no `Origin`, or one naming the `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin_host.is_some() && origin_host == host
}

/// The headers every answer carries: nothing may be fetched but from the console, nothing
/// framed, sniffed, cached or referred.
fn secure(headers: &mut HeaderMap, tls: bool) {
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    if tls {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000",
        );
    }
}

fn params(query: Option<String>) -> Vec<(String, String)> {
    let query = query.unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The view of a request, or the page that says why the query is wrong.
fn view_of(c: &Console, who: &Who, query: Option<String>) -> Result<View, Box<Response>> {
    let view = View::parse(&params(query))
        .map_err(|e| Box::new(c.message(Some(who), StatusCode::BAD_REQUEST, "Not a view", &e)))?;
    if view.filter.user.is_some() && !who.role.sees_people() {
        return Err(Box::new(c.message(
            Some(who),
            StatusCode::FORBIDDEN,
            "Refused",
            "your role (viewer) shows no person, and so no one's use",
        )));
    }
    Ok(view)
}

async fn show(
    c: Shared,
    who: Who,
    kind: PageKind,
    subject: Option<String>,
    q: Option<String>,
) -> Response {
    if kind.names_people() && !who.role.sees_people() {
        let why = "your role (viewer) shows no person: users are counts on the other pages";
        return c.message(Some(&who), StatusCode::FORBIDDEN, "Refused", why);
    }
    let view = match view_of(&c, &who, q) {
        Ok(view) => view,
        Err(refused) => return *refused,
    };
    let shown = who.clone();
    let page = c
        .with_store(move |c, store| {
            let filter = pages::filter(kind, subject.as_deref(), &view);
            let tables = kind.tables(shown.role);
            let content = c.content(store, tables, &filter, &view, shown.role)?;
            html::page(
                &c.templates,
                kind,
                subject.as_deref(),
                &view,
                &shown,
                &content,
            )
            .map_err(|e| e.to_string())
        })
        .await;
    match page {
        Ok(body) => Html(body).into_response(),
        Err(e) => c.message(
            Some(&who),
            StatusCode::INTERNAL_SERVER_ERROR,
            "The store could not be read",
            &e,
        ),
    }
}

type Asked = axum::Extension<Who>;

async fn overview(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Overview, None, q).await
}
async fn apps(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Apps, None, q).await
}
async fn app(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::App, Some(id), q).await
}
async fn users(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Users, None, q).await
}
async fn user(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    Path(user): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::User, Some(user), q).await
}
async fn mcp(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Mcp, None, q).await
}
async fn servers(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Servers, None, q).await
}
async fn programs(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Programs, None, q).await
}
async fn candidates(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Candidates, None, q).await
}
async fn sensors(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    show(c, w, PageKind::Sensors, None, q).await
}

async fn json(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    download(c, w, Format::Json, q).await
}
async fn markdown(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    download(c, w, Format::Markdown, q).await
}
async fn report_html(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    download(c, w, Format::Html, q).await
}
async fn csv(
    State(c): State<Shared>,
    axum::Extension(w): Asked,
    RawQuery(q): RawQuery,
) -> Response {
    download(c, w, Format::Csv, q).await
}

/// A download of a view: the whole report as JSON, Markdown or HTML, or one table as CSV (a
/// report's table, or one of a page's own tables the role may see).
async fn download(c: Shared, who: Who, format: Format, q: Option<String>) -> Response {
    let view = match view_of(&c, &who, q) {
        Ok(view) => view,
        Err(refused) => return *refused,
    };
    let table = match (format, view.table.clone()) {
        (Format::Csv, None) => {
            let why = "a CSV download is of one table: give table=NAME";
            return c.message(Some(&who), StatusCode::BAD_REQUEST, "Not a view", why);
        }
        (_, table) => table,
    };
    let role = who.role;
    let (from, to) = (view.period.from.clone(), view.period.to.clone());
    let file = c
        .with_store(move |c, store| {
            let console_tables: Vec<&str> = (PageKind::ALL.iter())
                .flat_map(|k| k.tables(role).iter().copied())
                .filter(|t| table.as_deref() == Some(*t))
                .take(1)
                .collect();
            let content = c.content(store, &console_tables, &view.filter, &view, role)?;
            match (format, table) {
                (Format::Csv, Some(name)) => {
                    let all = content.tables(role);
                    let t = all.iter().find(|t| t.name == name).ok_or_else(|| {
                        format!("{:?} is not a table of the console", clip(&name, 40))
                    })?;
                    Ok((
                        format!("{name}.csv"),
                        render::csv_table(t).map_err(|e| e.to_string())?,
                    ))
                }
                _ => {
                    let files =
                        render::render(&content.report, format).map_err(|e| e.to_string())?;
                    Ok(files.into_iter().next().unwrap_or_default())
                }
            }
        })
        .await;
    let (name, body) = match file {
        Ok(file) => file,
        Err(e) => return c.message(Some(&who), StatusCode::BAD_REQUEST, "No such download", &e),
    };
    let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, "txt"));
    let kind = match format {
        Format::Json => "application/json",
        Format::Markdown => "text/markdown; charset=utf-8",
        Format::Html => "text/html; charset=utf-8",
        Format::Csv => "text/csv; charset=utf-8",
    };
    let disposition = format!("attachment; filename=\"lantern-{stem}-{from}-{to}.{ext}\"");
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn css() -> Response {
    let css = include_str!("../static/console.css");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
}

async fn script() -> Response {
    let js = include_str!("../static/sort.js");
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        js,
    )
        .into_response()
}

async fn favicon() -> Response {
    let svg = include_str!("../static/favicon.svg");
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

async fn not_found(State(c): State<Shared>, who: Option<axum::Extension<Who>>) -> Response {
    let who = who.map(|w| w.0);
    c.message(
        who.as_ref(),
        StatusCode::NOT_FOUND,
        "Not found",
        "no such page",
    )
}
