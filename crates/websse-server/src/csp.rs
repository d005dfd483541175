//! The [Content-Security-Policy] of the app's pages: a strict policy on everything served from the
//! static directory.
//!
//! ```text
//! default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-…'; style-src 'self';
//! connect-src 'self' …; object-src 'none'; base-uri 'none'; form-action 'none';
//! frame-ancestors 'none'
//! ```
//!
//! Scripts come only from this origin (the wasm-bindgen glue) or are inline scripts whose exact
//! text the policy names by hash: Trunk starts the app with one inline module script in
//! `index.html`, and each HTML response gets the SHA-256 of every inline script in *its own body*,
//! so a rebuilt app never meets a stale hash. `'wasm-unsafe-eval'` allows compiling WebAssembly and
//! nothing else; there is no `'unsafe-eval'` and no `'unsafe-inline'`. The app has no inline
//! styles (all of it is in `styles.css`), so styles are `'self'` too.
//!
//! A `304 Not Modified` gets no policy: the browser keeps the headers of the response it cached,
//! and a policy computed from an empty body would replace that one's hashes. A `HEAD` gets the
//! policy of the `GET`.
//!
//! [Content-Security-Policy]: https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The largest HTML body scanned for inline scripts; a larger one is served with the policy
/// without hashes (its inline scripts do not run). The app's `index.html` is about 1 KiB.
const HTML_LIMIT: usize = 4 * 1024 * 1024;

/// The policy minus the script hashes, built once from the configuration.
#[derive(Debug)]
pub(crate) struct Csp {
    /// `connect-src` sources after `'self'`, joined with spaces (may be empty).
    connect_src: String,
}

impl Csp {
    /// A policy whose `connect-src` allows this origin and `connect_src` (for example the origin
    /// of a stream the inspector should reach). A source that is empty or holds a character that
    /// would end the directive (`;`, `,`, whitespace, a control character) is left out, with a
    /// warning, like an invalid allowed origin.
    pub(crate) fn new(connect_src: &[String]) -> Self {
        let valid: Vec<&str> = connect_src
            .iter()
            .map(String::as_str)
            .filter(|source| {
                let ok = !source.is_empty()
                    && !source
                        .chars()
                        .any(|c| c == ';' || c == ',' || c.is_whitespace() || c.is_control());
                if !ok {
                    tracing::warn!(
                        source,
                        "ignoring a connect-src entry that is not a CSP source"
                    );
                }
                ok
            })
            .collect();
        Self {
            connect_src: valid.join(" "),
        }
    }

    /// The header value for a page whose inline scripts have `hashes` (`sha256-<base64>` each).
    pub(crate) fn policy(&self, hashes: &[String]) -> String {
        let mut script_src = String::from("'self' 'wasm-unsafe-eval'");
        for hash in hashes {
            script_src.push_str(" '");
            script_src.push_str(hash);
            script_src.push('\'');
        }
        let mut connect_src = String::from("'self'");
        if !self.connect_src.is_empty() {
            connect_src.push(' ');
            connect_src.push_str(&self.connect_src);
        }
        format!(
            "default-src 'self'; script-src {script_src}; style-src 'self'; \
             connect-src {connect_src}; object-src 'none'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        )
    }
}

/// Middleware for the static files: adds the policy, with the hashes of the inline scripts of an
/// HTML body. A `HEAD` request is served as a `GET` whose body is then dropped, so it gets the same
/// policy (a cache may refresh a stored page's headers from a `HEAD` response).
pub(crate) async fn add_policy(
    State(csp): State<Arc<Csp>>,
    mut request: Request,
    next: Next,
) -> Response {
    let head = request.method() == Method::HEAD;
    if head {
        *request.method_mut() = Method::GET;
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::NOT_MODIFIED {
        return response;
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let (mut parts, body, hashes) = if is_html && response.status() == StatusCode::OK {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, HTML_LIMIT).await {
            Ok(bytes) => {
                let hashes = std::str::from_utf8(&bytes)
                    .map(|html| inline_scripts(html).map(sha256_source).collect())
                    .unwrap_or_default();
                (parts, Body::from(bytes), hashes)
            }
            Err(error) => {
                tracing::warn!(%error, "HTML too large or unreadable to hash its inline scripts");
                let mut response = Response::new(Body::from("page unavailable"));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return response;
            }
        }
    } else {
        let (parts, body) = response.into_parts();
        (parts, body, Vec::new())
    };
    match HeaderValue::from_str(&csp.policy(&hashes)) {
        Ok(value) => {
            parts.headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
        // `Csp::new` left out every source that could make this fail.
        Err(error) => tracing::error!(%error, "the Content-Security-Policy is not a header value"),
    }
    // Content-Length stays that of the GET body, as HEAD requires.
    let body = if head { Body::empty() } else { body };
    Response::from_parts(parts, body)
}

/// The `'sha256-…'` source (without quotes) that allows an inline script whose text is `script`.
fn sha256_source(script: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
    format!("sha256-{}", BASE64.encode(digest.as_ref()))
}

/// The text of every inline `<script>` element of `html` (those without a `src` attribute), as
/// the browser hashes it: the raw bytes between the start tag and `</script`.
///
/// A tokenizer for the documents we serve, not for any HTML: it skips comments, reads quoted
/// attribute values, and ends a script at the first `</script` (the HTML rule for script data,
/// minus the `<!--` escape states, which Trunk's loader does not use).
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let open = at + lower[at..].find('<')?;
            if lower[open..].starts_with("<!--") {
                at = lower[open..]
                    .find("-->")
                    .map_or(lower.len(), |e| open + e + 3);
                continue;
            }
            at = open + 1;
            let Some(rest) = lower[open..].strip_prefix("<script") else {
                continue;
            };
            if !rest.starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace()) {
                continue;
            }
            let attrs_start = open + "<script".len();
            let (attrs, content_start) = start_tag(&lower, attrs_start)?;
            let content_end = content_start + lower[content_start..].find("</script")?;
            at = content_end;
            if !has_src(attrs) {
                return Some(&html[content_start..content_end]);
            }
        }
    })
}

/// The attribute text of a start tag whose attributes begin at `from`, and where its content
/// starts (after the `>`); quoted values may contain `>`.
fn start_tag(lower: &str, from: usize) -> Option<(&str, usize)> {
    let mut quote = None;
    for (i, c) in lower[from..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some((&lower[from..from + i], from + i + 1)),
            (None, _) => {}
        }
    }
    None
}

/// Whether lower-cased attribute text has a `src` attribute (not `data-src`, not a value).
fn has_src(attrs: &str) -> bool {
    let bytes = attrs.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_whitespace() || c == b'/' => i += 1,
            _ => {
                let start = i;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !matches!(bytes[i], b'=' | b'/' | b'>')
                {
                    i += 1;
                }
                if &attrs[start..i] == "src" {
                    return true;
                }
                // Skip `= value` (quoted values are skipped by the quote arm).
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'=' {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    if i < bytes.len() && !matches!(bytes[i], b'"' | b'\'') {
                        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                            i += 1;
                        }
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripts(html: &str) -> Vec<&str> {
        inline_scripts(html).collect()
    }

    #[test]
    fn inline_scripts_are_found_and_external_ones_skipped() {
        let html = r#"<!doctype html><head>
            <script src="/a.js"></script>
            <script type="module" nonce="x">import init from '/a.js';await init();</script>
            <SCRIPT>one()</SCRIPT >
            <script data-src="/b.js" title='a>b'>two()</script>
            <script src=/c.js defer></script>
            <!-- <script>commented()</script> -->
            <scripts>not a script</scripts>
        </head>"#;
        assert_eq!(
            scripts(html),
            ["import init from '/a.js';await init();", "one()", "two()"]
        );
    }

    #[test]
    fn an_unclosed_script_yields_nothing() {
        assert!(scripts("<script>never closed").is_empty());
        assert!(scripts("<script type='module'").is_empty());
    }

    #[test]
    fn hash_matches_the_csp_spec_example() {
        // `printf '%s' "alert('Hello, world.');" | openssl dgst -sha256 -binary | base64`
        assert_eq!(
            sha256_source("alert('Hello, world.');"),
            "sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng="
        );
    }

    #[test]
    fn policy_is_strict() {
        let csp = Csp::new(&["https://stream.example".to_owned()]);
        let policy = csp.policy(&["sha256-abc=".to_owned()]);
        assert_eq!(
            policy,
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-abc='; \
             style-src 'self'; connect-src 'self' https://stream.example; object-src 'none'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"));
    }

    #[test]
    fn sources_that_would_break_the_header_are_left_out() {
        for bad in ["", "a;b", "a b", "a,b", "a\nb"] {
            let csp = Csp::new(&[bad.to_owned(), "https://ok.example".to_owned()]);
            assert_eq!(csp.connect_src, "https://ok.example", "{bad:?}");
        }
    }
}
