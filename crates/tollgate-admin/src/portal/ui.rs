//! The developer portal's web pages, `/portal/` on the admin listener.
//!
//! A client-side app in plain ES modules (no build step), embedded in the binary with
//! `include_bytes!` so that one file is the whole product. The pages call only the
//! portal API (`/portal/v1/`) with the session cookie; everything a page does, a
//! script can do with the same API.
//!
//! Every asset is served with a strict Content-Security-Policy (`'self'` only, no
//! inline script or style), so that text coming from an imported OpenAPI document or
//! a service description can never run as code even if a page mishandled it.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AdminError;

/// One embedded file: its path under `/portal/assets/`, its bytes and media type.
struct Asset {
    path: &'static str,
    body: &'static [u8],
    mime: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($path:literal, $file:literal, $mime:expr) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $file)),
            mime: $mime,
        }
    };
}

/// The portal's files. The index is served at `/portal/` itself; uPlot is the
/// console's vendored copy (one copy in the tree, one licence).
const ASSETS: &[Asset] = &[
    asset!("app.js", "portal-ui/app.js", JS),
    asset!("api.js", "portal-ui/api.js", JS),
    asset!("dom.js", "portal-ui/dom.js", JS),
    asset!("format.js", "portal-ui/format.js", JS),
    asset!("openapi.js", "portal-ui/openapi.js", JS),
    // The console's chart module (one for both), at the same relative place to uPlot.
    asset!("lib/chart.js", "console/lib/chart.js", JS),
    asset!("pages/login.js", "portal-ui/pages/login.js", JS),
    asset!("pages/catalog.js", "portal-ui/pages/catalog.js", JS),
    asset!("pages/docs.js", "portal-ui/pages/docs.js", JS),
    asset!("pages/keys.js", "portal-ui/pages/keys.js", JS),
    asset!("pages/usage.js", "portal-ui/pages/usage.js", JS),
    asset!("portal.css", "portal-ui/portal.css", CSS),
    asset!(
        "vendor/uplot/uPlot.esm.js",
        "console/vendor/uplot/uPlot.esm.js",
        JS
    ),
    asset!(
        "vendor/uplot/uPlot.min.css",
        "console/vendor/uplot/uPlot.min.css",
        CSS
    ),
];

const INDEX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/portal-ui/index.html"));

/// The policy every portal page and asset carries: same-origin scripts, styles, data
/// and images only; no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn served(body: &'static [u8], mime: &'static str) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change only with the binary; `no-cache` revalidates after an upgrade.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// `GET /portal/`: the app's shell.
pub(crate) async fn index() -> Response {
    served(INDEX, "text/html; charset=utf-8")
}

/// `GET /portal`: to the shell, whose relative asset paths need the slash.
pub(crate) async fn to_index() -> Redirect {
    Redirect::permanent("/portal/")
}

/// `GET /portal/assets/{*path}`: an embedded file, or the admin API's 404.
pub(crate) async fn asset(Path(path): Path<String>) -> Result<Response, AdminError> {
    ASSETS
        .iter()
        .find(|a| a.path == path)
        .map(|a| served(a.body, a.mime))
        .ok_or_else(|| AdminError::NotFound(format!("No portal asset `{path}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_reachable_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for a in ASSETS {
            assert!(seen.insert(a.path), "{} listed twice", a.path);
            assert!(!a.body.is_empty(), "{} is empty", a.path);
        }
    }

    #[test]
    fn every_module_the_pages_import_is_embedded() {
        // A relative import of a file that is not in ASSETS would 404 in the browser
        // and leave the page blank; catch it here instead.
        let sources = ASSETS
            .iter()
            .filter(|a| a.mime == JS && !a.path.starts_with("vendor/"));
        for a in sources {
            let text = std::str::from_utf8(a.body).unwrap();
            let dir = a.path.rsplit_once('/').map_or("", |(d, _)| d);
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                let Some(spec) = line.split(['"', '\'']).nth(1) else {
                    continue;
                };
                let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    ASSETS.iter().any(|x| x.path == target),
                    "{} imports {spec} ({target}), which is not embedded",
                    a.path
                );
            }
        }
    }
}
