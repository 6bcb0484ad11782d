//! The web console (`runnel serve --http ADDR`): a page listing the sources, tables and views with
//! their row counts and lag, a live table of any of them, and a line chart of windowed counts.
//!
//! The console is a client of the coordinator like a pgwire session: it plans and sequences SQL
//! (`SHOW SOURCES`, `SELECT count(*)`, `SUBSCRIBE`), so it sees exactly what psql sees. Changes
//! reach the browser as server-sent events, one per completed time of the subscription. The page
//! is plain HTML, CSS and JavaScript compiled into the binary: no build step and no assets on disk.

mod api;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::coord::Coordinator;

/// The page and its script and style, as files in the source tree next to this module.
const INDEX_HTML: &str = include_str!("page/index.html");
const CONSOLE_JS: &str = include_str!("page/console.js");
const CONSOLE_CSS: &str = include_str!("page/console.css");

/// Binds the console's address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the console on `listener` until the process ends.
pub async fn serve(listener: TcpListener, coord: Arc<Coordinator>) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/console.js",
            get(|| asset("text/javascript; charset=utf-8", CONSOLE_JS)),
        )
        .route(
            "/console.css",
            get(|| asset("text/css; charset=utf-8", CONSOLE_CSS)),
        )
        .route("/api/objects", get(api::objects))
        .route("/api/subscribe", get(api::subscribe))
        .with_state(coord);
    axum::serve(listener, app).await
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
