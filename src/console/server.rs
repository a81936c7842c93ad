//! The console's server: the listening socket, TLS (rustls with ring, from a PEM certificate
//! chain and key), and each connection served by hyper's HTTP/1 with the routes of
//! [`routes`](super::routes). Bounded against hostile clients: at most [`MAX_CONNECTIONS`]
//! at once (more are closed at once), [`HANDSHAKE_TIMEOUT`] for TLS, [`HEADER_TIMEOUT`] for a
//! request's headers, [`MAX_HEADER_BYTES`] of buffered request.

use super::routes::{self, Peer};
use super::{Config, ConsoleError};
use crate::store::Store;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a request's headers may take to arrive.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of a request buffered.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Listens and serves until the process stops.
pub async fn run(config: Config, store: Store) -> Result<(), ConsoleError> {
    let tls = match &config.tls {
        Some((cert, key)) => Some(acceptor(cert, key)?),
        None => None,
    };
    let addr = config.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ConsoleError::Listen { addr, source })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let local = listener.local_addr().unwrap_or(addr);
    let app = routes::router(config, store, tls.is_some())?;
    eprintln!("lantern serve: listening on {scheme}://{local}/");
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("lantern serve: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let (app, tls) = (app.clone(), tls.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(Peer(peer));
                tower::ServiceExt::oneshot(app.clone(), req)
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES);
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(tls) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await
                    {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            }
        });
    }
}

/// The TLS acceptor of a PEM certificate chain and private key.
fn acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, ConsoleError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let fail = |path: &std::path::Path, e: &dyn std::fmt::Display| {
        ConsoleError::Tls(format!("{}: {e}", path.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| fail(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(cert, &e))?;
    if certs.is_empty() {
        return Err(fail(cert, &"no certificate in the file"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| fail(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConsoleError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| fail(key, &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
