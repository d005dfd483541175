//! Streamed Markdown for the browser: an LLM answer rendered into a DOM element as it arrives,
//! with work proportional to the new text, nothing executable, and a cursor where the eye
//! expects it. Framework-agnostic: give it a `web_sys::Element` (a Yew or Leptos `NodeRef`'s
//! element, a Dioxus `onmounted` element, or a plain one).
//!
//! ```ignore
//! use websse_markdown::{MarkdownView, Options};
//!
//! let mut view = MarkdownView::new(element, Options::default());
//! while let Some(delta) = next_delta().await {
//!     view.push(&delta);        // renders at most once per animation frame
//! }
//! view.finish();                // the DOM now equals render_once of the whole text
//! ```
//!
//! Include [`CSS`] in the page (a stylesheet: the crate never sets `style`, so it works under a
//! strict Content-Security-Policy).
//!
//! # How it works
//! A pure-Rust core ([`MarkdownStream`]) turns text into [`Op`]s (create element, create text,
//! append, append data, remove); the browser layer applies them to real nodes, and [`VDom`]
//! applies them natively for tests and benches. The core splits the text into committed
//! top-level blocks, rendered once and never touched again (a selection in them survives the
//! stream), and the open tail, rendered again with display-only completion (`**bold` shows
//! bold). Plain text at the end of a paragraph and every line inside an open code fence go in
//! with `appendData`, without parsing. See [`MarkdownStream`] for the commit rule and how link
//! reference definitions are handled.
//!
//! # Safety
//! No HTML is ever parsed: raw HTML in the Markdown is shown as text, and nodes are made with
//! `createElement`/`createTextNode`/`setAttribute` only. Links are made only for `http`,
//! `https`, `mailto` and relative URLs (else the link text is shown) and carry
//! `rel="noopener noreferrer nofollow"`, with no `target` (a chat link opens like any link; the
//! app may add a click handler). Images load only from [`Options::image_origins`]; any other
//! image is a link "image: alt" under the same link rules. The elements are `h1`-`h6`, `p`,
//! `ul`, `ol`, `li`, `pre`, `code`, `blockquote`, `hr`, `table`, `thead`, `tbody`, `tr`, `th`,
//! `td`, `strong`, `em`, `del`, `a`, `img`, `br`, disabled `input type=checkbox`, and the chrome:
//! a `button` (copy) and an `aria-hidden` `span` (language) inside `pre`, outside `code`.
#![deny(missing_docs)]

mod complete;
mod ops;
mod render;
mod stream;
mod vdom;

#[cfg(all(target_arch = "wasm32", feature = "dom"))]
mod dom;

#[cfg(all(target_arch = "wasm32", feature = "dom"))]
pub use dom::{MarkdownView, render_once};
pub use ops::{NodeId, Op, ROOT};
pub use render::{image_allowed, safe_link};
pub use stream::{MarkdownStream, render_ops};
pub use vdom::VDom;

/// The stylesheet for the cursor and the code block chrome. Classes only; the blink stops under
/// `prefers-reduced-motion`. The cursor is an empty inline drawn by its left border: unlike an
/// inline-block it offers no line break before it, so it never wraps away from the last
/// character.
pub const CSS: &str = r#".md-cursor{border-left:.5em solid;margin-left:1px;animation:md-blink 1s steps(1) infinite}
@keyframes md-blink{50%{opacity:0}}
@media (prefers-reduced-motion:reduce){.md-cursor{animation:none}}
pre .md-lang{float:left;font-size:.8em;opacity:.7;user-select:none}
pre .md-copy{float:right;font-size:.8em}
pre .md-lang+.md-copy+code,pre .md-copy+code{clear:both;display:block}
"#;

/// How a view renders. A plain struct: set the fields you need, `..Default::default()` the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Origins (`"https://example.com"`) whose images may load. Any other image becomes a link
    /// "image: alt". Empty by default: no image ever loads.
    pub image_origins: Vec<String>,
    /// Show an inline blinking cursor after the last character while streaming (default `true`).
    pub cursor: bool,
    /// The class of the cursor `<span>` (default `"md-cursor"`); it gets `aria-hidden="true"`.
    pub cursor_class: String,
    /// Extra attributes for the cursor span, e.g. `("data-testid", "cursor")`.
    pub cursor_attributes: Vec<(String, String)>,
    /// A "Copy" `<button>` and a language label on code blocks (default `true`).
    pub copy_buttons: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            image_origins: Vec::new(),
            cursor: true,
            cursor_class: "md-cursor".to_owned(),
            cursor_attributes: Vec::new(),
            copy_buttons: true,
        }
    }
}
