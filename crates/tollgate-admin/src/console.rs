//! The web console (PRODUCT.md, "Console"): static files embedded in the binary,
//! served at `/` (the page) and `/console/...` (its modules, styles and vendored
//! libraries) on the admin listener.
//!
//! The console is a small client-side app in plain ES modules (no build step) that
//! does everything through the admin API with `fetch`, so what the console does, a
//! script can do. The server's part is only to hand out the files, with:
//! - an `ETag` per file (a hash of its content, computed once) and `Cache-Control:
//!   no-cache`, so a browser revalidates with a cheap 304 and never runs stale code
//!   after an upgrade;
//! - a strict `Content-Security-Policy` (scripts, styles and connections from this
//!   origin only, no inline script, no framing), as the console holds an operator's
//!   session.
//!
//! The developer portal's pages ([`crate::portal::ui`]) are served the same way
//! ([`Site`]), and use the console's shared modules and vendored libraries from
//! `/console/`.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

use crate::error::AdminError;

/// The console's files, from `crates/tollgate-admin/console/` at build time.
/// The Content-Security-Policy of every console and portal file: everything from this
/// origin only, no inline script or style, no plugins, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// An embedded directory of static files, served with ETags and the [`CSP`].
pub(crate) struct Site {
    assets: LazyLock<HashMap<String, Asset>>,
}

impl Site {
    const fn new(init: fn() -> HashMap<String, Asset>) -> Site {
        Site {
            assets: LazyLock::new(init),
        }
    }

    /// The answer for `path` in this site (404 outside it; 304 when the browser's
    /// copy is current).
    pub(crate) fn serve(&self, path: &str, headers: &HeaderMap) -> Response {
        match self.assets.get(path) {
            Some(asset) => serve(asset, headers),
            // The admin listener's 404, in the API's envelope like its other answers.
            None => AdminError::NotFound(format!("No such file: {path}")).into_response(),
        }
    }

    #[cfg(test)]
    pub(crate) fn paths(&self) -> impl Iterator<Item = (&str, &'static [u8])> {
        self.assets.iter().map(|(p, a)| (p.as_str(), a.body))
    }
}

static CONSOLE_FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/console");
static PORTAL_FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/portal-ui");

/// The console: `/` and `/console/...`.
pub(crate) static CONSOLE: Site = Site::new(|| assets_of(&CONSOLE_FILES));
/// The developer portal's pages: `/portal/` and `/portal/assets/...`.
pub(crate) static PORTAL: Site = Site::new(|| assets_of(&PORTAL_FILES));

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: HeaderValue,
}

fn assets_of(dir: &'static Dir<'static>) -> HashMap<String, Asset> {
    let mut out = HashMap::new();
    collect(dir, &mut out);
    out
}

fn collect(dir: &'static Dir<'static>, out: &mut HashMap<String, Asset>) {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        let digest = Sha256::digest(file.contents());
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]);
        let Ok(etag) = HeaderValue::from_str(&format!("\"{tag}\"")) else {
            continue;
        };
        out.insert(
            path.clone(),
            Asset {
                body: file.contents(),
                content_type: content_type(&path),
                etag,
            },
        );
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}

/// `GET /`: the console's page.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    CONSOLE.serve("index.html", &headers)
}

/// `GET /console/{*path}`: the console's modules, styles and vendored libraries.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    CONSOLE.serve(&path, &headers)
}

/// A path is looked up as is among a site's embedded files ([`Site::serve`]), so
/// `..`, `//` or an encoded slash can never reach anything else.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/").as_bytes() == asset.etag.as_bytes()
        });
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut res = asset.body.into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        res
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, inm: Option<&str>) -> Response {
        let mut h = HeaderMap::new();
        if let Some(v) = inm {
            h.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(v).expect("ascii"),
            );
        }
        CONSOLE.serve(path, &h)
    }

    #[test]
    fn files_are_served_with_csp_and_revalidated_by_etag() {
        let res = get("index.html", None);
        assert_eq!(res.status(), StatusCode::OK);
        let etag = res.headers()[header::ETAG]
            .to_str()
            .expect("etag")
            .to_string();
        assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert!(
            res.headers()[header::CONTENT_TYPE]
                .to_str()
                .is_ok_and(|t| t.starts_with("text/html"))
        );
        assert_eq!(get("index.html", Some(&etag)).status(), 304);
        assert_eq!(get("index.html", Some(&format!("W/{etag}"))).status(), 304);
        assert_eq!(get("index.html", Some("\"other\"")).status(), 200);
        assert_eq!(
            get("app.js", None).headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn nothing_outside_the_embedded_set_is_served() {
        for p in [
            "../Cargo.toml",
            "/etc/passwd",
            "",
            "pages/../../src/lib.rs",
            "nope.js",
        ] {
            assert_eq!(get(p, None).status(), StatusCode::NOT_FOUND, "{p}");
        }
    }

    /// Neither site's page loads an inline script (the CSP would block it), and every
    /// module a page imports is embedded: relative imports in its own site, absolute
    /// `/console/...` ones (the portal's shared chart module) in the console's.
    #[test]
    fn pages_have_no_inline_script_and_their_imports_exist() {
        for site in [&CONSOLE, &PORTAL] {
            let files: HashMap<&str, &[u8]> = site.paths().collect();
            let html = std::str::from_utf8(files["index.html"]).expect("utf-8");
            for tag in html.split("<script").skip(1) {
                assert!(tag.contains("src="), "inline script in index.html: {tag}");
            }
            for (path, body) in files.iter().filter(|(p, _)| p.ends_with(".js")) {
                if path.starts_with("vendor/") {
                    continue;
                }
                let text = std::str::from_utf8(body).expect("utf-8");
                for spec in imports(text) {
                    if let Some(shared) = spec.strip_prefix("/console/") {
                        assert!(
                            CONSOLE.assets.contains_key(shared),
                            "{path} imports missing {spec}"
                        );
                        continue;
                    }
                    let base = path.rsplit_once('/').map_or("", |(d, _)| d);
                    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
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
                        files.contains_key(target.as_str()),
                        "{path} imports missing {spec}"
                    );
                }
            }
        }
    }

    /// Static (`from './x.js'`) and dynamic (`import('./x.js')`) imports, either quote.
    fn imports(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for q in ['\'', '"'] {
            let (from, dynamic) = (format!("from {q}"), format!("import({q}"));
            for rest in text
                .split(from.as_str())
                .skip(1)
                .chain(text.split(dynamic.as_str()).skip(1))
            {
                if let Some(spec) = rest.split(q).next()
                    && (spec.starts_with('.') || spec.starts_with('/'))
                {
                    out.push(spec);
                }
            }
        }
        out
    }
}
