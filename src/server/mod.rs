//! The Postgres wire protocol front end: accepts connections, runs one task per session, and
//! routes CancelRequests to the session they name.

mod auth;
mod conn;
mod copy;
mod describe;
mod tls;
mod values;
mod wire;

pub use auth::{AuthMethod, Passwords, Verifier};

pub use conn::subscribe_rows;
pub use copy::{encode_row, header};
pub use describe::subscribe_desc;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::coord::Coordinator;

/// Who may connect and how. The default, what tests and a bare `runnel` use, speaks plain TCP
/// and trusts every client (the server listens on loopback unless told otherwise).
pub struct Security {
    /// With a certificate, clients that ask for TLS get it.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// With users, every client must prove its password.
    pub passwords: Option<Passwords>,
    pub method: AuthMethod,
}

impl Default for Security {
    fn default() -> Security {
        Security {
            tls: None,
            passwords: None,
            method: AuthMethod::Scram,
        }
    }
}

impl Security {
    /// From `--tls-cert/--tls-key` and `--password-file`.
    pub fn load(
        tls: Option<(&std::path::Path, &std::path::Path)>,
        password_file: Option<&std::path::Path>,
        method: AuthMethod,
    ) -> Result<Security, String> {
        Ok(Security {
            tls: tls.map(|(cert, key)| tls::load(cert, key)).transpose()?,
            passwords: password_file.map(Passwords::load).transpose()?,
            method,
        })
    }
}

/// Live sessions by backend pid, with their secret key and cancel signal.
#[derive(Default)]
pub struct CancelRegistry {
    sessions: Mutex<HashMap<i32, (i32, Arc<Notify>)>>,
    next_pid: AtomicI32,
}

impl CancelRegistry {
    fn register(&self) -> (i32, i32, Arc<Notify>) {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed) + 1000;
        let secret: i32 = rand_secret();
        let notify = Arc::new(Notify::new());
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pid, (secret, Arc::clone(&notify)));
        (pid, secret, notify)
    }

    fn unregister(&self, pid: i32) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pid);
    }

    /// Cancels what the session is running, if the key matches (as Postgres, silently otherwise).
    fn cancel(&self, pid: i32, secret: i32) {
        if let Some((s, notify)) = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&pid)
        {
            if *s == secret {
                notify.notify_waiters();
                notify.notify_one();
            }
        }
    }
}

/// A cancel key nobody can guess: whoever knows it can cancel the session's queries.
fn rand_secret() -> i32 {
    i32::from_be_bytes(auth::random_bytes::<4>())
}

/// Serves pgwire on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    coord: Arc<Coordinator>,
    security: Arc<Security>,
) -> std::io::Result<()> {
    let registry = Arc::new(CancelRegistry::default());
    loop {
        let (socket, peer) = listener.accept().await?;
        let _ = socket.set_nodelay(true);
        let coord = Arc::clone(&coord);
        let registry = Arc::clone(&registry);
        let security = Arc::clone(&security);
        tokio::spawn(async move {
            if let Err(e) = conn::run(socket, coord, registry, &security, peer).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// Accepts connections on `listener` while `starting` runs (the log being replayed), telling
/// each client the server is starting up (`57P03`, which poolers and drivers know to retry),
/// and returns what `starting` returns.
pub async fn refuse_until<T>(
    listener: &TcpListener,
    security: &Arc<Security>,
    starting: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(starting);
    loop {
        tokio::select! {
            done = &mut starting => return done,
            accepted = listener.accept() => {
                let Ok((socket, peer)) = accepted else { continue };
                let security = Arc::clone(security);
                tokio::spawn(async move {
                    let mut wire = wire::Wire::new(socket);
                    if let Ok(Some(_)) = wire.startup(None, &security).await {
                        let e = crate::error::SqlError::new("57P03", "the database system is starting up")
                            .with_hint("The log is being replayed. Connect again in a moment; SHOW HYDRATION then lists the views still catching up.");
                        let _ = wire.fatal(&e).await;
                        tracing::debug!(%peer, "refused a connection during start-up");
                    }
                });
            }
        }
    }
}

/// Binds `addr` and serves it (the binary's entry point and the tests').
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
