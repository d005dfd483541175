//! pulldown-cmark events to [`Op`]s: the one place that decides which elements and attributes
//! exist, so the safety rules hold for every path (one-shot, committed block, open tail).

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Tag, TagEnd};

use crate::Options;
use crate::ops::{NodeId, Op, ROOT};

/// Node ids: a counter and the ids freed by re-rendering the open tail.
#[derive(Debug)]
pub(crate) struct Ids {
    next: NodeId,
    free: Vec<NodeId>,
}

impl Ids {
    pub(crate) fn new() -> Self {
        Ids {
            next: ROOT + 1,
            free: Vec::new(),
        }
    }
    pub(crate) fn alloc(&mut self) -> NodeId {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
    pub(crate) fn release(&mut self, ids: &mut Vec<NodeId>) {
        self.free.append(ids);
    }
}

#[derive(Debug)]
struct Frame {
    /// `None` for a link whose target is not allowed: its children go to the parent.
    id: Option<NodeId>,
    /// The cursor may sit at the end of this element.
    cursor_target: bool,
    /// Created before the last [`Builder::freeze`]: it stays when the rest is rendered again.
    frozen: bool,
}

#[derive(Debug)]
struct Code {
    code: NodeId,
    text: String,
    fenced: bool,
    end: usize,
}

#[derive(Debug)]
struct Image {
    dest: String,
    title: String,
    alt: String,
    depth: usize,
}

/// Builds the elements for a run of events. The caller owns ids and collects the op list.
#[derive(Debug)]
pub(crate) struct Builder<'a> {
    opts: &'a Options,
    pub(crate) ops: &'a mut Vec<Op>,
    ids: &'a mut Ids,
    /// Every id created, when the caller will free them (the open tail).
    created: Option<Vec<NodeId>>,
    stack: Vec<Frame>,
    code: Option<Code>,
    image: Option<Image>,
    in_head: bool,
    tbody: Option<(NodeId, bool)>,
    /// Children of the container created so far, with the source offset of their block.
    pub(crate) top: Vec<(NodeId, usize)>,
    /// Where the cursor goes: the innermost open block at the last content.
    pub(crate) cursor_parent: Option<NodeId>,
    /// The last text node and the source offset its last event ended at, if it is the last
    /// content of the rendering.
    pub(crate) last_text: Option<(NodeId, usize)>,
    /// The text node of a fenced code block that is the last child of the container, and its
    /// `code` element.
    pub(crate) last_fence_text: Option<(NodeId, NodeId)>,
    /// Nodes attached to the container or to a frozen element since the last freeze: what to
    /// remove to render the open part again.
    pub(crate) roots: Vec<NodeId>,
}

/// Where a [`Builder`] stopped at a freeze: enough to resume inside the same elements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resume {
    pub(crate) frames: Vec<(Option<NodeId>, bool)>,
    pub(crate) tbody: Option<NodeId>,
    pub(crate) cursor: Option<NodeId>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(
        opts: &'a Options,
        ops: &'a mut Vec<Op>,
        ids: &'a mut Ids,
        track: bool,
    ) -> Self {
        Builder {
            opts,
            ops,
            ids,
            created: track.then(Vec::new),
            stack: Vec::new(),
            code: None,
            image: None,
            in_head: false,
            tbody: None,
            top: Vec::new(),
            cursor_parent: None,
            last_text: None,
            last_fence_text: None,
            roots: Vec::new(),
        }
    }

    /// Continue inside elements rendered earlier (they are frozen: never removed by us).
    pub(crate) fn resume(&mut self, at: &Resume) {
        self.stack = at
            .frames
            .iter()
            .map(|&(id, cursor_target)| Frame {
                id,
                cursor_target,
                frozen: true,
            })
            .collect();
        self.tbody = at.tbody.map(|t| (t, true));
        self.cursor_parent = at.cursor;
    }

    /// Everything built so far stays: returns the ids created since the last freeze and where
    /// to resume; from here on `created` and `roots` collect the open part only.
    pub(crate) fn freeze(&mut self) -> (Vec<NodeId>, Resume) {
        for f in &mut self.stack {
            f.frozen = true;
        }
        if let Some(t) = &mut self.tbody {
            t.1 = true;
        }
        self.roots.clear();
        let ids = self.created.replace(Vec::new()).unwrap_or_default();
        let at = Resume {
            frames: self.stack.iter().map(|f| (f.id, f.cursor_target)).collect(),
            tbody: self.tbody.map(|t| t.0),
            cursor: self.cursor_parent,
        };
        (ids, at)
    }

    pub(crate) fn take_created(&mut self) -> Vec<NodeId> {
        self.created.take().unwrap_or_default()
    }

    fn id(&mut self) -> NodeId {
        let id = self.ids.alloc();
        if let Some(c) = &mut self.created {
            c.push(id);
        }
        id
    }

    /// The element new nodes go into, and whether it is frozen (the container is).
    fn parent(&self) -> (NodeId, bool) {
        self.stack
            .iter()
            .rev()
            .find_map(|f| f.id.map(|id| (id, f.frozen)))
            .unwrap_or((ROOT, true))
    }

    fn attach(&mut self, (parent, frozen): (NodeId, bool), child: NodeId, src: usize) {
        self.ops.push(Op::Append { parent, child });
        if parent == ROOT {
            self.top.push((child, src));
        }
        if frozen {
            self.roots.push(child);
        }
    }

    fn element(
        &mut self,
        tag: &'static str,
        attrs: Vec<(&'static str, String)>,
        src: usize,
    ) -> NodeId {
        let id = self.id();
        self.ops.push(Op::Element { id, tag, attrs });
        let parent = self.parent();
        self.attach(parent, id, src);
        id
    }

    fn open(
        &mut self,
        tag: &'static str,
        attrs: Vec<(&'static str, String)>,
        src: usize,
        cursor_target: bool,
    ) {
        let id = self.element(tag, attrs, src);
        self.stack.push(Frame {
            id: Some(id),
            cursor_target,
            frozen: false,
        });
        if cursor_target {
            self.cursor_parent = Some(id);
        }
    }

    fn text(&mut self, text: &str, end: usize) {
        let id = self.id();
        self.ops.push(Op::Text {
            id,
            text: text.to_owned(),
        });
        let parent = self.parent();
        self.attach(parent, id, end);
        self.content();
        self.last_text = Some((id, end));
    }

    /// Content arrived: the cursor follows it into the innermost open block.
    fn content(&mut self) {
        self.last_text = None;
        self.cursor_parent = Some(
            self.stack
                .iter()
                .rev()
                .find(|f| f.cursor_target)
                .and_then(|f| f.id)
                .unwrap_or(ROOT),
        );
    }

    pub(crate) fn event(&mut self, event: Event<'_>, range: std::ops::Range<usize>) {
        if let Some(img) = &mut self.image {
            match event {
                Event::Start(_) => img.depth += 1,
                Event::End(TagEnd::Image) if img.depth == 0 => return self.end_image(range.start),
                Event::End(_) => img.depth -= 1,
                Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) | Event::Html(t) => {
                    img.alt.push_str(&t)
                }
                Event::SoftBreak | Event::HardBreak => img.alt.push(' '),
                _ => {}
            }
            return;
        }
        if let Some(code) = &mut self.code {
            match event {
                Event::Text(t) => {
                    code.text.push_str(&t);
                    code.end = range.end;
                    return;
                }
                Event::End(TagEnd::CodeBlock) => return self.end_code(),
                _ => {}
            }
        }
        match event {
            Event::Start(tag) => self.start(tag, range.start),
            Event::End(end) => self.end(end),
            Event::Text(t) => self.text(&t, range.end),
            Event::Code(t) => {
                let code = self.element("code", Vec::new(), range.start);
                let id = self.id();
                self.ops.push(Op::Text {
                    id,
                    text: t.into_string(),
                });
                self.ops.push(Op::Append {
                    parent: code,
                    child: id,
                });
                self.content();
            }
            // Raw HTML is shown as the text it is, never parsed.
            Event::Html(t) | Event::InlineHtml(t) => self.text(&t, range.end),
            Event::SoftBreak => self.text("\n", range.end),
            Event::HardBreak => {
                self.element("br", Vec::new(), range.start);
                self.content();
            }
            Event::Rule => {
                self.element("hr", Vec::new(), range.start);
                // The cursor stays after the text before the rule: after it, it would sit on a
                // line of its own.
                self.last_text = None;
            }
            Event::TaskListMarker(checked) => {
                let mut attrs = vec![("type", "checkbox".to_owned()), ("disabled", String::new())];
                if checked {
                    attrs.push(("checked", String::new()));
                }
                self.element("input", attrs, range.start);
                self.content();
            }
            // Math and footnotes are not enabled; show anything else as text.
            Event::InlineMath(t) | Event::DisplayMath(t) | Event::FootnoteReference(t) => {
                self.text(&t, range.end)
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>, src: usize) {
        match tag {
            Tag::Paragraph => self.open("p", Vec::new(), src, true),
            // Raw HTML blocks become a paragraph of text.
            Tag::HtmlBlock => self.open("p", Vec::new(), src, true),
            Tag::Heading { level, .. } => {
                let tag = ["h1", "h2", "h3", "h4", "h5", "h6"][level as usize - 1];
                self.open(tag, Vec::new(), src, true);
            }
            Tag::BlockQuote(_) => self.open("blockquote", Vec::new(), src, true),
            Tag::CodeBlock(kind) => {
                let (fenced, lang) = match &kind {
                    CodeBlockKind::Fenced(info) => (true, language(info)),
                    CodeBlockKind::Indented => (false, String::new()),
                };
                self.open("pre", Vec::new(), src, false);
                if self.opts.copy_buttons {
                    if !lang.is_empty() {
                        let label = self.element(
                            "span",
                            vec![("class", "md-lang".into()), ("aria-hidden", "true".into())],
                            src,
                        );
                        let t = self.id();
                        self.ops.push(Op::Text {
                            id: t,
                            text: lang.clone(),
                        });
                        self.ops.push(Op::Append {
                            parent: label,
                            child: t,
                        });
                    }
                    let button = self.element(
                        "button",
                        vec![("type", "button".into()), ("class", "md-copy".into())],
                        src,
                    );
                    let t = self.id();
                    self.ops.push(Op::Text {
                        id: t,
                        text: "Copy".into(),
                    });
                    self.ops.push(Op::Append {
                        parent: button,
                        child: t,
                    });
                }
                let attrs = if lang.is_empty() {
                    Vec::new()
                } else {
                    vec![("class", format!("language-{lang}"))]
                };
                let code = self.element("code", attrs, src);
                self.cursor_parent = Some(code);
                self.last_text = None;
                self.code = Some(Code {
                    code,
                    text: String::new(),
                    fenced,
                    end: src,
                });
            }
            Tag::List(Some(start)) => {
                let attrs = if start == 1 {
                    Vec::new()
                } else {
                    vec![("start", start.to_string())]
                };
                self.open("ol", attrs, src, false);
            }
            Tag::List(None) => self.open("ul", Vec::new(), src, false),
            Tag::Item => self.open("li", Vec::new(), src, true),
            Tag::Table(_) => self.open("table", Vec::new(), src, false),
            Tag::TableHead => {
                self.in_head = true;
                self.open("thead", Vec::new(), src, false);
                self.open("tr", Vec::new(), src, false);
            }
            Tag::TableRow => {
                let tbody = match self.tbody {
                    Some(t) => t,
                    None => {
                        let t = (self.element("tbody", Vec::new(), src), false);
                        self.tbody = Some(t);
                        t
                    }
                };
                let tr = self.id();
                self.ops.push(Op::Element {
                    id: tr,
                    tag: "tr",
                    attrs: Vec::new(),
                });
                self.attach(tbody, tr, src);
                self.stack.push(Frame {
                    id: Some(tr),
                    cursor_target: false,
                    frozen: false,
                });
            }
            Tag::TableCell => {
                let tag = if self.in_head { "th" } else { "td" };
                self.open(tag, Vec::new(), src, true);
            }
            Tag::Emphasis => self.open("em", Vec::new(), src, false),
            Tag::Strong => self.open("strong", Vec::new(), src, false),
            Tag::Strikethrough => self.open("del", Vec::new(), src, false),
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => {
                let href = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.into_string(),
                };
                if safe_link(&href) {
                    let mut attrs = vec![("href", href)];
                    if !title.is_empty() {
                        attrs.push(("title", title.into_string()));
                    }
                    attrs.push(("rel", "noopener noreferrer nofollow".into()));
                    self.open("a", attrs, src, false);
                } else {
                    self.stack.push(Frame {
                        id: None,
                        cursor_target: false,
                        frozen: false,
                    });
                }
            }
            Tag::Image {
                dest_url, title, ..
            } => {
                self.image = Some(Image {
                    dest: dest_url.into_string(),
                    title: title.into_string(),
                    alt: String::new(),
                    depth: 0,
                });
            }
            // Not enabled (footnotes, definition lists, metadata, super/subscript): a plain span
            // keeps the tree balanced should a future option turn one on.
            _ => self.open("span", Vec::new(), src, false),
        }
    }

    fn end(&mut self, end: TagEnd) {
        match end {
            TagEnd::TableHead => {
                self.stack.pop();
                self.stack.pop();
                self.in_head = false;
            }
            TagEnd::Table => {
                self.stack.pop();
                self.tbody = None;
            }
            _ => {
                self.stack.pop();
            }
        }
    }

    fn end_code(&mut self) {
        let Some(code) = self.code.take() else { return };
        let id = self.id();
        self.ops.push(Op::Text {
            id,
            text: code.text,
        });
        self.ops.push(Op::Append {
            parent: code.code,
            child: id,
        });
        self.stack.pop();
        self.cursor_parent = Some(code.code);
        self.last_text = Some((id, code.end));
        self.last_fence_text = (code.fenced && self.stack.is_empty()).then_some((id, code.code));
    }

    fn end_image(&mut self, src: usize) {
        let Some(img) = self.image.take() else { return };
        if image_allowed(&img.dest, &self.opts.image_origins) {
            let mut attrs = vec![("src", img.dest), ("alt", img.alt)];
            if !img.title.is_empty() {
                attrs.push(("title", img.title));
            }
            self.element("img", attrs, src);
            self.content();
            return;
        }
        // Never loaded: a link the reader may follow, with the same rules as any link.
        let label = format!("image: {}", img.alt);
        if safe_link(&img.dest) {
            let mut attrs = vec![("href", img.dest)];
            if !img.title.is_empty() {
                attrs.push(("title", img.title));
            }
            attrs.push(("rel", "noopener noreferrer nofollow".into()));
            let a = self.element("a", attrs, src);
            let t = self.id();
            self.ops.push(Op::Text { id: t, text: label });
            self.ops.push(Op::Append {
                parent: a,
                child: t,
            });
            self.content();
        } else {
            self.text(&label, src);
            self.last_text = None;
        }
    }
}

/// `http:`, `https:`, `mailto:` and relative URLs. A scheme is whatever precedes the first `:`
/// that comes before any `/`, `?` or `#`; anything else there (`javascript:`, `data:`,
/// `vbscript:`, or a scheme with control characters that a browser would strip) is refused.
pub fn safe_link(url: &str) -> bool {
    match url.find([':', '/', '?', '#']) {
        Some(i) if url.as_bytes()[i] == b':' => {
            let scheme = &url[..i];
            ["http", "https", "mailto"]
                .iter()
                .any(|s| scheme.eq_ignore_ascii_case(s))
        }
        _ => true,
    }
}

/// An image loads only from an absolute `http(s)` URL whose origin (`scheme://host[:port]`,
/// compared case-insensitively) is listed. Relative URLs, credentials and backslashes in the
/// authority are refused: the page's own origin is not assumed.
pub fn image_allowed(url: &str, origins: &[String]) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return false;
    }
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let host = &rest[..end];
    if host.is_empty() || host.contains(['@', ' ', '\t', '\n', '\r']) {
        return false;
    }
    let origin_len = scheme.len() + 3 + host.len();
    let origin = &url[..origin_len];
    origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// The first word of a fence's info string, reduced to characters safe in a class name.
fn language(info: &str) -> String {
    info.split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '#' | '.'))
        .take(32)
        .collect()
}
