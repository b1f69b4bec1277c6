//! The developer portal's web pages, `/portal/` on the admin listener.
//!
//! A client-side app in plain ES modules (no build step) under `portal-ui/`, embedded
//! in the binary and served like the console's files ([`crate::console::Site`]: ETags,
//! the strict Content-Security-Policy, no framing), so that text coming from an
//! imported OpenAPI document or a service description can never run as code even if
//! a page mishandled it. The pages call only the portal API (`/portal/v1/`) with the
//! session cookie; everything a page does, a script can do with the same API. The
//! chart module and uPlot are the console's (`/console/...`), not copies.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{Redirect, Response};

use crate::console::PORTAL;

/// `GET /portal/`: the portal's page.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    PORTAL.serve("index.html", &headers)
}

/// `GET /portal`: to the page, whose relative asset paths need the slash.
pub(crate) async fn to_index() -> Redirect {
    Redirect::permanent("/portal/")
}

/// `GET /portal/assets/{*path}`: the portal's modules and styles.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    PORTAL.serve(&path, &headers)
}
