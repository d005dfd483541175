//! The native core: a growing text in, [`Op`]s out.
//!
//! The text splits into *committed* top-level blocks and the *open tail*. A block is committed
//! when the block after it starts on a complete line: from then on no continuation can change
//! it (a setext underline, a lazy continuation line, a table's delimiter row or a list turning
//! loose only ever change the last open block), so it is rendered once and never touched. The
//! parse of the rest restarts at that line, which CommonMark parses the same way whether or not
//! the text before it is there.
//!
//! Reference definitions are the one way later text changes earlier blocks. Definitions in
//! committed text are fed before every later parse (first definition wins, as in CommonMark); a
//! committed block with a reference that nothing defined yet is noted, and at finish, if a later
//! definition resolves it, that block alone is rendered again and replaces the old one. While
//! streaming it shows the reference as text.

use std::ops::Range;

use pulldown_cmark::{BrokenLink, CowStr, Event, Parser};

use crate::Options;
use crate::complete::{Kind, complete};
use crate::ops::{NodeId, Op};
use crate::render::{Builder, Ids};

/// CommonMark plus GFM tables, strikethrough and task lists.
pub(crate) fn parser_options() -> pulldown_cmark::Options {
    use pulldown_cmark::Options as P;
    P::ENABLE_TABLES | P::ENABLE_STRIKETHROUGH | P::ENABLE_TASKLISTS
}

/// What one parse saw besides its events: unresolved references and definitions (spans in the
/// text, without the definitions fed before it).
struct Parsed {
    broken: Vec<usize>,
    defs: Vec<Range<usize>>,
}

/// Parse `defs` followed by `text`; `f` gets each event with its range in `text`.
fn parse(defs: &str, text: &str, mut f: impl FnMut(Event<'_>, Range<usize>)) -> Parsed {
    let owned;
    let input = if defs.is_empty() {
        text
    } else {
        owned = [defs, text].concat();
        &owned
    };
    let off = defs.len();
    let mut broken = Vec::new();
    let callback = |link: BrokenLink<'_>| -> Option<(CowStr<'_>, CowStr<'_>)> {
        broken.push(link.span.start.saturating_sub(off));
        None
    };
    let mut iter = Parser::new_with_broken_link_callback(input, parser_options(), Some(callback))
        .into_offset_iter();
    for (event, range) in iter.by_ref() {
        if range.start >= off || range.end > off {
            f(
                event,
                range.start.saturating_sub(off)..range.end - off.min(range.end),
            );
        }
    }
    let defs = iter
        .reference_definitions()
        .iter()
        .filter(|(_, d)| d.span.start >= off)
        .map(|(_, d)| d.span.start - off..d.span.end - off)
        .collect();
    drop(iter);
    Parsed { broken, defs }
}

/// One-shot rendering: the ops that build `markdown` in an empty container.
pub fn render_ops(markdown: &str, options: &Options) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut ids = Ids::new();
    let mut b = Builder::new(options, &mut ops, &mut ids, false);
    parse("", markdown, |e, r| b.event(e, r));
    ops
}

/// The state of the current line of an open fence: could it still become the closing fence?
#[derive(Debug, Clone, Copy, Default)]
struct FenceLine {
    spaces: u8,
    run: usize,
    trailing: bool,
    other: bool,
}

impl FenceLine {
    fn step(&mut self, c: u8, ch: u8) {
        if self.other {
        } else if c == b' ' && self.run == 0 {
            self.spaces += 1;
            self.other = self.spaces > 3;
        } else if c == b' ' {
            self.trailing = true;
        } else if c == ch && !self.trailing {
            self.run += 1;
        } else {
            self.other = true;
        }
    }
    fn closes(&self, len: usize) -> bool {
        !self.other && self.run >= len
    }
}

/// The top-level blocks of a parse: (index of the first event, source offset).
#[derive(Default)]
struct TopBlocks {
    starts: Vec<(usize, usize)>,
    depth: usize,
    seen: usize,
}

impl TopBlocks {
    fn see(&mut self, e: &Event<'_>, r: &Range<usize>) {
        if self.depth == 0 {
            self.starts.push((self.seen, r.start));
        }
        match e {
            Event::Start(_) => self.depth += 1,
            Event::End(_) => self.depth -= 1,
            _ => {}
        }
        self.seen += 1;
    }
}

/// How the next text may go in without parsing.
#[derive(Debug, Clone, Copy)]
enum Fast {
    None,
    /// Plain text at the end of a paragraph-like block: append to its last text node.
    Text(NodeId),
    /// Inside an open fenced code block at the top level: append to its text node.
    Code {
        node: NodeId,
        ch: u8,
        len: usize,
        line: FenceLine,
        line_start: usize,
        shown: usize,
    },
}

#[derive(Debug)]
struct Broken {
    node: NodeId,
    src: Range<usize>,
    count: usize,
}

/// Characters that, appended to a line that already has text, never change how the text
/// before them parses (no delimiter, bracket, entity, escape, pipe or line end).
fn plain(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            ' ' | ',' | '.' | '?' | '\'' | '"' | '/' | ':' | '%' | '=' | '+' | '-' | '@' | '$'
        )
}

/// The current line already has a letter after its container markers, so appending plain
/// characters cannot turn it into a marker, a fence, a setext underline or a table delimiter.
fn line_settled(tail: &str) -> bool {
    let line = &tail[tail.rfind('\n').map_or(0, |i| i + 1)..];
    let mut s = line.trim_start_matches([' ', '>', '|']);
    loop {
        let t = s
            .trim_start_matches(['-', '+', '*', '#'])
            .trim_start_matches(|c: char| c.is_ascii_digit());
        let t = t.strip_prefix(['.', ')']).unwrap_or(t);
        let t = t.trim_start_matches([' ', '>', '|']);
        if t.len() == s.len() {
            break;
        }
        s = t;
    }
    s.chars().next().is_some_and(char::is_alphabetic)
}

/// Streams a growing Markdown text into DOM operations. The browser layer wraps it; tests and
/// benches drive it with [`crate::VDom`].
///
/// ```
/// use websse_markdown::{MarkdownStream, Options, VDom, render_ops};
/// let opts = Options::default();
/// let mut stream = MarkdownStream::new(opts.clone());
/// let (mut dom, mut ops) = (VDom::default(), Vec::new());
/// for delta in ["# Ti", "tle\n\nSome **bo", "ld** text"] {
///     stream.push(delta);
///     stream.render(&mut ops);
///     dom.apply(&ops);
///     ops.clear();
/// }
/// stream.finish(&mut ops);
/// dom.apply(&ops);
/// let mut once = VDom::default();
/// once.apply(&render_ops(stream.text(), &opts));
/// assert_eq!(dom.html(), once.html());
/// ```
#[derive(Debug)]
pub struct MarkdownStream {
    opts: Options,
    text: String,
    rendered: usize,
    committed: usize,
    committed_nodes: Vec<NodeId>,
    /// Source of the reference definitions in committed text, each followed by a blank line.
    defs: String,
    ids: Ids,
    tail_nodes: Vec<NodeId>,
    tail_ids: Vec<NodeId>,
    broken: Vec<Broken>,
    fast: Fast,
    split_due: bool,
    finished: bool,
}

impl MarkdownStream {
    /// An empty stream.
    pub fn new(options: Options) -> Self {
        MarkdownStream {
            opts: options,
            text: String::new(),
            rendered: 0,
            committed: 0,
            committed_nodes: Vec::new(),
            defs: String::new(),
            ids: Ids::new(),
            tail_nodes: Vec::new(),
            tail_ids: Vec::new(),
            broken: Vec::new(),
            fast: Fast::None,
            split_due: false,
            finished: false,
        }
    }

    /// The options it renders with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Append text. Nothing renders until [`render`](Self::render). Ignored after finish.
    pub fn push(&mut self, delta: &str) {
        if self.finished {
            return;
        }
        self.text.push_str(delta);
        self.split_due |= delta.contains('\n');
    }

    /// All text pushed so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether text was pushed since the last render.
    pub fn has_pending(&self) -> bool {
        self.rendered < self.text.len()
    }

    /// Bring the rendering up to date with the text: new committed blocks are rendered once,
    /// the open tail again (completed for display), or new plain text is appended in place.
    pub fn render(&mut self, ops: &mut Vec<Op>) {
        if self.finished || !self.has_pending() {
            return;
        }
        let pending = &self.text[self.rendered..];
        match self.fast {
            Fast::Text(id) if pending.chars().all(plain) => {
                ops.push(Op::AppendData {
                    id,
                    text: pending.to_owned(),
                });
                self.rendered = self.text.len();
                return;
            }
            _ => {}
        }
        if !self.code_fast(ops) {
            self.slow(ops, false);
        }
    }

    /// The answer is complete: render everything as committed blocks (the result equals
    /// [`render_ops`] of the whole text) and take the cursor out.
    pub fn finish(&mut self, ops: &mut Vec<Op>) {
        if self.finished {
            return;
        }
        self.slow(ops, true);
        self.finished = true;
        self.resolve_references(ops);
        if self.opts.cursor {
            ops.push(Op::Cursor { parent: None });
        }
    }

    /// Remove everything and start again with no text.
    pub fn reset(&mut self, ops: &mut Vec<Op>) {
        for &id in self.committed_nodes.iter().chain(&self.tail_nodes) {
            ops.push(Op::Remove { id });
        }
        if self.opts.cursor {
            ops.push(Op::Cursor { parent: None });
        }
        *self = MarkdownStream::new(std::mem::take(&mut self.opts));
    }

    fn code_fast(&mut self, ops: &mut Vec<Op>) -> bool {
        let Fast::Code {
            node,
            ch,
            len,
            mut line,
            mut line_start,
            mut shown,
        } = self.fast
        else {
            return false;
        };
        let base = self.rendered;
        for (k, c) in self.text.as_bytes()[base..].iter().copied().enumerate() {
            match c {
                b'\n' if line.closes(len) => return false,
                b'\n' => {
                    line = FenceLine::default();
                    line_start = base + k + 1;
                }
                b'\r' => return false,
                c => line.step(c, ch),
            }
        }
        // A line that may still become the closing fence waits; it is shown once it cannot.
        let end = if line.other {
            self.text.len()
        } else {
            line_start.max(shown)
        };
        if end > shown {
            ops.push(Op::AppendData {
                id: node,
                text: self.text[shown..end].to_owned(),
            });
            shown = end;
        }
        self.fast = Fast::Code {
            node,
            ch,
            len,
            line,
            line_start,
            shown,
        };
        self.rendered = self.text.len();
        true
    }

    fn slow(&mut self, ops: &mut Vec<Op>, last: bool) {
        for id in self.tail_nodes.drain(..) {
            ops.push(Op::Remove { id });
        }
        self.ids.release(&mut self.tail_ids);
        if last || self.split_due {
            self.split_due = false;
            self.commit(ops, last);
        }
        self.rendered = self.text.len();
        self.fast = Fast::None;
        if !last {
            self.render_tail(ops);
        }
    }

    /// Commit every top-level block whose successor starts on a complete line (all of them
    /// when `last`).
    fn commit(&mut self, ops: &mut Vec<Op>, last: bool) {
        let region = &self.text[self.committed..];
        let mut blocks = TopBlocks::default();
        parse(&self.defs, region, |e, r| blocks.see(&e, &r));
        let blocks = blocks.starts;
        let complete_to = region.rfind('\n').map_or(0, |i| i + 1);
        let n = if last {
            blocks.len()
        } else {
            blocks
                .iter()
                .skip(1)
                .take_while(|b| b.1 < complete_to)
                .count()
        };
        let line_start = |at: usize| region[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = if n == blocks.len() {
            region.len()
        } else {
            line_start(blocks[n].1)
        };
        if n == 0 && !last {
            return;
        }
        // Render the committed blocks from a parse of their own text, so that a definition
        // further on (maybe still incomplete) cannot leak into them; references it would
        // resolve are settled at finish.
        let committed = &region[..end];
        let mut events = Vec::new();
        let mut own = TopBlocks::default();
        let parsed = parse(&self.defs, committed, |e, r| {
            own.see(&e, &r);
            events.push((e.into_static(), r));
        });
        let blocks = own.starts;
        let mut events = events.into_iter();
        let mut b = Builder::new(&self.opts, ops, &mut self.ids, false);
        for i in 0..blocks.len() {
            let count = blocks.get(i + 1).map_or(usize::MAX, |b| b.0) - blocks[i].0;
            let before = b.top.len();
            for (e, r) in events.by_ref().take(count) {
                b.event(e, r);
            }
            let from = line_start(blocks[i].1);
            let to = blocks.get(i + 1).map_or(end, |b| line_start(b.1));
            let refs = parsed
                .broken
                .iter()
                .filter(|&&s| s >= from && s < to)
                .count();
            for &(id, _) in &b.top[before..] {
                if refs > 0 {
                    let src = self.committed + from..self.committed + to;
                    self.broken.push(Broken {
                        node: id,
                        src,
                        count: refs,
                    });
                }
            }
        }
        for &(id, _) in &b.top {
            b.ops.push(Op::Commit { id });
            self.committed_nodes.push(id);
        }
        for d in &parsed.defs {
            self.defs.push_str(&committed[d.clone()]);
            self.defs.push_str("\n\n");
        }
        self.committed += end;
    }

    fn render_tail(&mut self, ops: &mut Vec<Op>) {
        let tail = &self.text[self.committed..];
        if tail.is_empty() {
            return;
        }
        let (shown, kind) = complete(tail);
        let mut b = Builder::new(&self.opts, ops, &mut self.ids, true);
        parse(&self.defs, &shown, |e, r| b.event(e, r));
        self.tail_nodes = b.top.iter().map(|t| t.0).collect();
        self.tail_ids = b.take_created();
        if self.opts.cursor {
            b.ops.push(Op::Cursor {
                parent: b.cursor_parent,
            });
        }
        let fence = b.last_fence_text.zip(b.top.last().map(|t| t.1));
        let text = b.last_text;
        self.fast = if let Some((node, start)) = fence {
            open_fence(tail, start).map_or(Fast::None, |(ch, len, line, line_start)| Fast::Code {
                node,
                ch,
                len,
                line,
                line_start: self.committed + line_start,
                shown: self.text.len(),
            })
        } else {
            match text {
                Some((node, end))
                    if end == tail.len()
                        && (kind == Kind::Unchanged
                            || kind == Kind::Appended && !tail.ends_with(char::is_whitespace))
                        && tail.chars().next_back().is_some_and(plain)
                        && line_settled(tail) =>
                {
                    Fast::Text(node)
                }
                _ => Fast::None,
            }
        };
    }

    fn resolve_references(&mut self, ops: &mut Vec<Op>) {
        for broken in std::mem::take(&mut self.broken) {
            let src = &self.text[broken.src.clone()];
            let mut fresh = Vec::new();
            let mut b = Builder::new(&self.opts, &mut fresh, &mut self.ids, false);
            let parsed = parse(&self.defs, src, |e, r| b.event(e, r));
            let new = b.top.first().map(|t| t.0);
            if parsed.broken.len() < broken.count
                && let Some(new) = new
            {
                ops.append(&mut fresh);
                ops.push(Op::Replace {
                    old: broken.node,
                    new,
                });
                ops.push(Op::Commit { id: new });
                if let Some(slot) = self.committed_nodes.iter_mut().find(|n| **n == broken.node) {
                    *slot = new;
                }
            }
        }
    }
}

/// For a fenced block starting at `start` in column 0: its fence character and length, the
/// state of its last (incomplete) line and where that line starts, if it is still open and its
/// opening line is complete.
fn open_fence(tail: &str, start: usize) -> Option<(u8, usize, FenceLine, usize)> {
    if start > 0 && tail.as_bytes()[start - 1] != b'\n' {
        return None;
    }
    let s = &tail[start..];
    let ch = *s.as_bytes().first()?;
    let len = s.bytes().take_while(|&c| c == ch).count();
    if !matches!(ch, b'`' | b'~') || len < 3 {
        return None;
    }
    let mut pos = start;
    let mut lines = s.split_inclusive('\n');
    let opener = lines.next()?;
    if !opener.ends_with('\n') || opener.contains('\r') {
        return None;
    }
    pos += opener.len();
    let mut line = FenceLine::default();
    for l in lines {
        line = FenceLine::default();
        for c in l.trim_end_matches('\n').bytes() {
            line.step(c, ch);
        }
        if l.ends_with('\n') {
            if line.closes(len) || l.contains('\r') {
                return None;
            }
            pos += l.len();
            line = FenceLine::default();
        }
    }
    Some((ch, len, line, pos))
}
