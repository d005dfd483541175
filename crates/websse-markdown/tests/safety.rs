//! Nothing executable, no foreign image, standard elements only: checked on the one-shot
//! output and on every intermediate render of a streamed one.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::XSS;
use websse_markdown::{MarkdownStream, Options, VDom, image_allowed, render_ops, safe_link};

const ALLOWED_TAGS: &[&str] = &[
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "ul",
    "ol",
    "li",
    "pre",
    "code",
    "blockquote",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "strong",
    "em",
    "del",
    "a",
    "img",
    "input",
    "br",
    "button",
    "span",
];

/// Every tag and attribute in the serialised HTML (the serialiser escapes `<` in text, so a
/// tag here is an element that exists).
fn check(html: &str) {
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let end = rest[i..].find('>').map_or(rest.len(), |j| i + j);
        let tag = &rest[i + 1..end];
        rest = &rest[end..];
        if tag.starts_with('/') {
            continue;
        }
        let name = tag.split(' ').next().unwrap_or("");
        assert!(ALLOWED_TAGS.contains(&name), "element <{name}> in {html}");
        let lower = tag.to_ascii_lowercase();
        assert!(!lower.contains(" on"), "event handler attribute in <{tag}>");
        assert!(
            !lower.contains("javascript:")
                && !lower.contains("data:")
                && !lower.contains("vbscript:"),
            "script URL in <{tag}>"
        );
        if name == "img" {
            panic!("image element for a foreign origin: <{tag}>");
        }
        for attr in tag.split(' ').skip(1) {
            let key = attr.split('=').next().unwrap_or("");
            assert!(
                [
                    "href",
                    "title",
                    "rel",
                    "class",
                    "type",
                    "disabled",
                    "checked",
                    "start",
                    "aria-hidden",
                    "alt"
                ]
                .contains(&key)
                    || key.starts_with('"')
                    || !attr.contains('='),
                "attribute {key} in <{tag}>"
            );
        }
    }
}

#[test]
fn xss_corpus_creates_no_script_handler_foreign_image_or_script_url() {
    let opts = Options::default();
    for src in XSS {
        let mut dom = VDom::default();
        dom.apply(&render_ops(src, &opts));
        check(&dom.html());
        // and streamed, at every character
        let mut s = MarkdownStream::new(opts.clone());
        let mut dom = VDom::default();
        let mut ops = Vec::new();
        for c in src.chars() {
            s.push(&c.to_string());
            s.render(&mut ops);
            dom.apply(&ops);
            ops.clear();
            check(&dom.html());
        }
    }
}

#[test]
fn raw_html_is_text() {
    let mut dom = VDom::default();
    dom.apply(&render_ops(
        "<script>alert(1)</script>",
        &Options::default(),
    ));
    assert_eq!(dom.html(), "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
}

#[test]
fn links_get_rel_and_unsafe_targets_become_text() {
    let mut dom = VDom::default();
    dom.apply(&render_ops(
        "[a](https://x.test/) [b](javascript:alert(1))",
        &Options::default(),
    ));
    assert_eq!(
        dom.html(),
        "<p><a href=\"https://x.test/\" rel=\"noopener noreferrer nofollow\">a</a> b</p>"
    );
}

#[test]
fn foreign_image_is_a_link_and_allowed_origin_loads() {
    let md = "![cat](https://img.example.com/cat.png)";
    let mut dom = VDom::default();
    dom.apply(&render_ops(md, &Options::default()));
    assert_eq!(
        dom.html(),
        "<p><a href=\"https://img.example.com/cat.png\" rel=\"noopener noreferrer nofollow\">image: cat</a></p>"
    );
    let opts = Options {
        image_origins: vec!["https://img.example.com".into()],
        ..Options::default()
    };
    let mut dom = VDom::default();
    dom.apply(&render_ops(md, &opts));
    assert_eq!(
        dom.html(),
        "<p><img src=\"https://img.example.com/cat.png\" alt=\"cat\"></p>"
    );
}

#[test]
fn safe_link_allows_http_https_mailto_relative_only() {
    for ok in [
        "https://a.b/",
        "HTTP://a",
        "mailto:x@y.z",
        "/rel",
        "rel/x",
        "#frag",
        "?q=1",
        "//host/p",
        "a/b:c",
    ] {
        assert!(safe_link(ok), "{ok}");
    }
    for bad in [
        "javascript:alert(1)",
        "JavaScript:x",
        "data:text/html,x",
        "vbscript:x",
        "java\tscript:x",
        " javascript:x",
        "file:///etc",
    ] {
        assert!(!safe_link(bad), "{bad}");
    }
}

#[test]
fn image_allowed_matches_the_exact_origin() {
    let o = vec!["https://img.example.com".to_owned()];
    assert!(image_allowed("https://img.example.com/a.png", &o));
    assert!(image_allowed("HTTPS://IMG.example.com/a.png", &o));
    for bad in [
        "https://img.example.com.evil.test/a.png",
        "https://img.example.com@evil.test/a.png",
        "http://img.example.com/a.png",
        "//img.example.com/a.png",
        "/a.png",
        "https://img.example.com:8443/a.png",
        "https://evil.test\\@img.example.com/",
    ] {
        assert!(!image_allowed(bad, &o), "{bad}");
    }
}

#[test]
fn code_language_class_is_sanitised() {
    let mut dom = VDom::default();
    dom.apply(&render_ops(
        "```\" onmouseover=\"x\nc\n```",
        &Options::default(),
    ));
    assert!(!dom.html().contains("onmouseover"), "{}", dom.html());
}
