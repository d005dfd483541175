//! A native tree that applies [`Op`]s, for tests and benches: the same ops the browser layer
//! applies, turned into canonical HTML so a streamed rendering can be compared with a one-shot one.

use crate::ops::{NodeId, Op, ROOT};

#[derive(Debug, Clone)]
enum Kind {
    Element {
        tag: &'static str,
        attrs: Vec<(&'static str, String)>,
    },
    Text(String),
    Cursor,
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    children: Vec<usize>,
    parent: Option<usize>,
}

/// A minimal DOM: a slot per live node, the container at [`ROOT`], and one cursor node.
#[derive(Debug, Clone)]
pub struct VDom {
    nodes: Vec<Node>,
    /// NodeId -> slot in `nodes`; ids are reused after removal, slots are not.
    ids: Vec<Option<usize>>,
    cursor: usize,
    cursor_class: String,
}

impl Default for VDom {
    fn default() -> Self {
        Self::new("md-cursor")
    }
}

impl VDom {
    /// An empty container; the cursor serialises as `<span class="{cursor_class}" aria-hidden="true"></span>`.
    pub fn new(cursor_class: &str) -> Self {
        let root = Node {
            kind: Kind::Element {
                tag: "div",
                attrs: Vec::new(),
            },
            children: Vec::new(),
            parent: None,
        };
        let cursor = Node {
            kind: Kind::Cursor,
            children: Vec::new(),
            parent: None,
        };
        VDom {
            nodes: vec![root, cursor],
            ids: vec![Some(0)],
            cursor: 1,
            cursor_class: cursor_class.to_owned(),
        }
    }

    fn slot(&self, id: NodeId) -> usize {
        self.ids
            .get(id as usize)
            .copied()
            .flatten()
            .unwrap_or_else(|| panic!("op names unknown node {id}"))
    }

    fn create(&mut self, id: NodeId, kind: Kind) {
        let slot = self.nodes.len();
        self.nodes.push(Node {
            kind,
            children: Vec::new(),
            parent: None,
        });
        let i = id as usize;
        if self.ids.len() <= i {
            self.ids.resize(i + 1, None);
        }
        self.ids[i] = Some(slot);
    }

    fn detach(&mut self, slot: usize) {
        if let Some(p) = self.nodes[slot].parent.take() {
            self.nodes[p].children.retain(|&c| c != slot);
        }
    }

    fn append(&mut self, parent: usize, child: usize) {
        self.detach(child);
        self.nodes[parent].children.push(child);
        self.nodes[child].parent = Some(parent);
    }

    /// Apply ops in order.
    ///
    /// # Panics
    /// If an op names a node that does not exist, or appends data to an element: the op stream
    /// is wrong, which is what the tests look for.
    pub fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            match op {
                Op::Element { id, tag, attrs } => self.create(
                    *id,
                    Kind::Element {
                        tag,
                        attrs: attrs.clone(),
                    },
                ),
                Op::Text { id, text } => self.create(*id, Kind::Text(text.clone())),
                Op::Append { parent, child } => {
                    let (p, c) = (self.slot(*parent), self.slot(*child));
                    self.append(p, c);
                }
                Op::AppendData { id, text } => {
                    let s = self.slot(*id);
                    match &mut self.nodes[s].kind {
                        Kind::Text(t) => t.push_str(text),
                        _ => panic!("appendData on an element"),
                    }
                }
                Op::Remove { id } => {
                    let s = self.slot(*id);
                    self.detach(s);
                    if id != &ROOT {
                        self.ids[*id as usize] = None;
                    }
                }
                Op::Replace { old, new } => {
                    let (o, n) = (self.slot(*old), self.slot(*new));
                    let p = self.nodes[o].parent.expect("replace of a detached node");
                    let at = self.nodes[p].children.iter().position(|&c| c == o);
                    self.detach(n);
                    self.nodes[p].children[at.expect("child in parent")] = n;
                    self.nodes[n].parent = Some(p);
                    self.nodes[o].parent = None;
                    self.ids[*old as usize] = None;
                }
                Op::Cursor { parent } => match parent {
                    Some(p) => {
                        let p = self.slot(*p);
                        self.append(p, self.cursor);
                    }
                    None => self.detach(self.cursor),
                },
                Op::Commit { .. } => {}
            }
        }
    }

    /// The container's content as HTML (`innerHTML`), attributes in creation order.
    pub fn html(&self) -> String {
        let mut out = String::new();
        for &c in &self.nodes[0].children {
            self.write(c, &mut out);
        }
        out
    }

    /// The container's text (`textContent`): what a reader sees, chrome included.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(0, &mut out);
        out
    }

    fn collect_text(&self, slot: usize, out: &mut String) {
        match &self.nodes[slot].kind {
            Kind::Text(t) => out.push_str(t),
            _ => {
                for &c in &self.nodes[slot].children {
                    self.collect_text(c, out);
                }
            }
        }
    }

    /// Whether the cursor is in the document.
    pub fn has_cursor(&self) -> bool {
        self.nodes[self.cursor].parent.is_some()
    }

    fn write(&self, slot: usize, out: &mut String) {
        match &self.nodes[slot].kind {
            Kind::Text(t) => escape(t, out),
            Kind::Cursor => {
                out.push_str("<span class=\"");
                escape(&self.cursor_class, out);
                out.push_str("\" aria-hidden=\"true\"></span>");
            }
            Kind::Element { tag, attrs } => {
                out.push('<');
                out.push_str(tag);
                for (k, v) in attrs {
                    out.push(' ');
                    out.push_str(k);
                    out.push_str("=\"");
                    escape(v, out);
                    out.push('"');
                }
                out.push('>');
                if matches!(*tag, "br" | "hr" | "img" | "input") {
                    return;
                }
                for &c in &self.nodes[slot].children {
                    self.write(c, out);
                }
                out.push_str("</");
                out.push_str(tag);
                out.push('>');
            }
        }
    }
}

/// The escaping `innerHTML` serialisation does for text and attribute values together.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
}
