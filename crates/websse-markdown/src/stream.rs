//! The native core: a growing text in, [`Op`]s out.
//!
//! The text splits into *committed* top-level blocks and the *open tail*. A block is committed
//! when the block after it starts on a complete line (a table after it: once its delimiter row
//! is complete), or, for a paragraph, table or block quote, as soon as a blank line and the next
//! block follow; a heading, rule or closed fence as soon as anything follows. From then on no
//! continuation can change it (a setext underline, a lazy continuation line, a table's delimiter
//! row or a list turning loose only ever change the last open block), so it is rendered once and
//! never touched. The parse of the rest restarts at that line, which CommonMark parses the same
//! way whether or not the text before it is there.
//!
//! The open tail's first block, when it is a list, a table or a paragraph, is rendered in parts
//! (see [`Partial`]): finished items, rows and lines stay in the live element and only the rest is
//! parsed again, so one long block costs work proportional to its open part, not its length.
//!
//! Reference definitions are the one way later text changes earlier blocks. Definitions in
//! committed text are fed before every later parse (first definition wins, as in CommonMark); a
//! committed block with a reference that nothing defined yet is noted, and at finish, if a later
//! definition resolves it, that block alone is rendered again and replaces the old one. While
//! streaming it shows the reference as text.

use std::borrow::Cow;
use std::ops::Range;

use pulldown_cmark::{BrokenLink, CodeBlockKind, CowStr, Event, Parser, Tag};

use crate::Options;
use crate::complete::{Kind, complete};
use crate::ops::{NodeId, Op};
use crate::render::{Builder, Ids, Resume};

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

/// Parse `defs` followed by `text`; `f` gets each event with its range in `text`. Not generic
/// (and never inlined): one copy of the parser's loop in the wasm, not one per caller.
#[inline(never)]
fn parse(defs: &str, text: &str, f: &mut dyn FnMut(Event<'_>, Range<usize>)) -> Parsed {
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
    parse("", &normalize_line_ends(markdown), &mut |e, r| {
        b.event(e, r)
    });
    ops
}

/// `text` with every line ending (CR LF, or a CR alone) as one LF. CommonMark reads all three
/// as line endings; one form keeps the line logic simple and the DOM text free of CRs.
pub(crate) fn normalize_line_ends(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
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

/// What can end a top-level block for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// Any block after it (an ATX or setext heading, a rule, a closed fence).
    Itself,
    /// A blank line before the next block (a paragraph, a table, a block quote: nothing after
    /// a blank line continues them, lazily or as a setext underline or delimiter row).
    Blank,
    /// Only a next block on a complete line (a list and indented code go on past blank lines).
    Next,
}

fn ends(e: &Event<'_>) -> Ends {
    match e {
        Event::Rule
        | Event::Start(Tag::Heading { .. } | Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
            Ends::Itself
        }
        Event::Start(Tag::Paragraph | Tag::Table(_) | Tag::BlockQuote(_)) => Ends::Blank,
        _ => Ends::Next,
    }
}

fn line_start(s: &str, at: usize) -> usize {
    s[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// Whether a block of kind `ends` is final given that the next one starts at `next` (text
/// complete up to `complete_to`). A next table exists only once its delimiter row is complete
/// (`|-` may yet become `|-#`, and the header line text of the block before); and a next line
/// with a `|` may be a header row whose delimiter row is still being written, which can make
/// it the lazy continuation of the block before again.
fn block_done(ends: Ends, s: &str, next: (usize, bool), complete_to: usize) -> bool {
    let (next, table) = next;
    let first_line_end = s[next..].find('\n').map(|k| next + k + 1);
    let line = if table || first_line_end.is_some_and(|e| s[next..e].contains('|')) {
        first_line_end.unwrap_or(usize::MAX)
    } else {
        next
    };
    line < complete_to
        || match ends {
            Ends::Itself => true,
            Ends::Blank => {
                let ls = line_start(s, next);
                ls > 0 && s[line_start(s, ls - 1)..ls].trim().is_empty()
            }
            Ends::Next => false,
        }
}

/// The top-level blocks of a parse: (index of the first event, source offset, what ends it).
#[derive(Default)]
struct TopBlocks {
    starts: Vec<(usize, usize, Ends, bool)>,
    depth: usize,
    seen: usize,
}

impl TopBlocks {
    fn see(&mut self, e: &Event<'_>, r: &Range<usize>) {
        if self.depth == 0 {
            let table = matches!(e, Event::Start(Tag::Table(_)));
            self.starts.push((self.seen, r.start, ends(e), table));
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
        code: NodeId,
        /// Bytes appended to `node` so far.
        filled: usize,
        ch: u8,
        len: usize,
        line: FenceLine,
        line_start: usize,
        shown: usize,
    },
}

/// The open top-level block rendered in parts: a list's finished items, a table's finished
/// rows, a paragraph's lines up to where no inline construct is left open. Those parts stay;
/// the rest is parsed again from `from`, preceded by `ctx`, inside the same elements.
#[derive(Debug)]
struct Partial {
    kind: Part,
    /// The top-level element (`ul`/`ol`, `table`, `p`).
    block: NodeId,
    /// Where the parse of the open part starts: the start of a line.
    from: usize,
    /// Parsed before `text[from..]`, its events dropped: a table's head; for a loose list an
    /// item and a blank line, so that the open items render loose too.
    ctx: String,
    at: Resume,
    loose: bool,
    /// Every id of the frozen part, the block's included.
    ids: Vec<NodeId>,
    /// Where the block starts.
    start: usize,
    /// References in the frozen part that nothing defined yet.
    broken: usize,
}

/// What became of the open tail's render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    Rendered,
    /// Its first block ended: commit first.
    Ended,
    /// The block rendered in parts changed kind or looseness: render it whole again.
    Changed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    List,
    Table,
    Para,
    Quote,
}

fn part(e: &Event<'_>) -> Option<Part> {
    match e {
        Event::Start(Tag::List(_)) => Some(Part::List),
        Event::Start(Tag::Table(_)) => Some(Part::Table),
        Event::Start(Tag::Paragraph) => Some(Part::Para),
        Event::Start(Tag::BlockQuote(_)) => Some(Part::Quote),
        _ => None,
    }
}

/// A blank line with something after it: the end of any paragraph or table before it.
fn blank_then_text(s: &str) -> bool {
    let mut blank = false;
    for line in s.split_inclusive('\n') {
        if blank && !line.trim().is_empty() {
            return true;
        }
        blank |= line.ends_with('\n') && line.trim().is_empty();
    }
    false
}

/// The size of the text nodes an open code block grows in.
const CODE_NODE: usize = 4096;

/// Left as text in a paragraph, these may still pair with text to come; and after a `|` the
/// line may become a table's header row, and display completion scans from there.
const SPECIAL: [char; 8] = ['*', '_', '~', '`', '[', ']', '<', '|'];

/// A list item and a blank line with the marker of `line`: the same list, made loose.
fn loose_item(line: &str) -> String {
    let t = line.trim_start_matches(' ');
    let indent = &line[..line.len() - t.len()];
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let marker = &t[..(digits + 1).min(t.len())];
    format!("{indent}{marker} x\n\n")
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
    partial: Option<Partial>,
    parts: bool,
    /// A paragraph line is cut (a text node frozen) at most every this many bytes.
    min_split: usize,
    split_due: bool,
    finished: bool,
    /// The last delta ended with a CR, not yet in `text`.
    held_cr: bool,
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
            partial: None,
            parts: true,
            min_split: 256,
            split_due: false,
            finished: false,
            held_cr: false,
        }
    }

    /// Render the open block whole every time, never in parts: the reference that tests
    /// compare the incremental rendering with.
    #[doc(hidden)]
    pub fn without_parts(mut self) -> Self {
        self.parts = false;
        self
    }

    /// Cut a long paragraph line at most every `bytes` (256 by default): tests cut short ones.
    #[doc(hidden)]
    pub fn split_lines_every(mut self, bytes: usize) -> Self {
        self.min_split = bytes;
        self
    }

    /// The options it renders with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Append text. Nothing renders until [`render`](Self::render). Ignored after finish.
    ///
    /// Line endings may be LF, CR LF or CR, and a CR LF may be split between two deltas.
    pub fn push(&mut self, delta: &str) {
        if self.finished || delta.is_empty() {
            return;
        }
        let mut delta = delta;
        if self.held_cr {
            // The CR that ended the last delta is a line ending, with this LF or without.
            self.held_cr = false;
            self.text.push('\n');
            self.split_due = true;
            delta = delta.strip_prefix('\n').unwrap_or(delta);
        }
        // A CR at the end may be the first half of a CR LF: hold it until the next delta.
        if let Some(rest) = delta.strip_suffix('\r') {
            self.held_cr = true;
            delta = rest;
        }
        let delta = normalize_line_ends(delta);
        self.text.push_str(&delta);
        self.split_due |= delta.contains('\n');
    }

    /// All text pushed so far, every line ending as an LF (a CR that ends the last delta is
    /// not here yet: it may be the first half of a CR LF).
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
        if std::mem::take(&mut self.held_cr) {
            self.text.push('\n');
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
        let block = self.partial.as_ref().map(|p| p.block);
        for &id in self
            .committed_nodes
            .iter()
            .chain(&self.tail_nodes)
            .chain(&block)
        {
            ops.push(Op::Remove { id });
        }
        if self.opts.cursor {
            ops.push(Op::Cursor { parent: None });
        }
        let (parts, min_split) = (self.parts, self.min_split);
        *self = MarkdownStream::new(std::mem::take(&mut self.opts));
        (self.parts, self.min_split) = (parts, min_split);
    }

    fn code_fast(&mut self, ops: &mut Vec<Op>) -> bool {
        let Fast::Code {
            mut node,
            code,
            mut filled,
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
            let text = self.text[shown..end].to_owned();
            if filled >= CODE_NODE && self.text.as_bytes()[shown - 1] == b'\n' {
                // A new text node every few KB: the browser shapes only the one that changes.
                node = self.ids.alloc();
                self.tail_ids.push(node);
                filled = 0;
                ops.push(Op::Text { id: node, text });
                ops.push(Op::Append {
                    parent: code,
                    child: node,
                });
                if self.opts.cursor {
                    ops.push(Op::Cursor { parent: Some(code) });
                }
            } else {
                filled += text.len();
                ops.push(Op::AppendData { id: node, text });
            }
            shown = end;
        }
        self.fast = Fast::Code {
            node,
            code,
            filled,
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
        self.rendered = self.text.len();
        self.fast = Fast::None;
        if last {
            self.commit_partial(ops, true);
            self.split_due = false;
            self.commit(ops, true);
            return;
        }
        if self.partial.is_some() {
            match self.render_tail(ops, false) {
                Tail::Rendered => return,
                // The block is complete: its last part goes in and it commits as it stands.
                Tail::Ended => self.commit_partial(ops, false),
                // It changed shape or turned loose: render all of it again, once.
                Tail::Changed => self.drop_partial(ops),
            }
            self.split_due = true;
        }
        if self.split_due {
            self.split_due = false;
            self.commit(ops, false);
        }
        if self.render_tail(ops, false) != Tail::Rendered {
            // A block ended by a blank line while the next one's first line is incomplete.
            self.commit(ops, false);
            self.render_tail(ops, true);
        }
    }

    /// Commit the block rendered in parts without rendering its frozen parts again (a long
    /// block would be one long task): the rest of it is parsed from the text, uncompleted, into
    /// the same elements. A reference in it that a later definition resolves is settled at
    /// finish, as for any committed block.
    fn commit_partial(&mut self, ops: &mut Vec<Op>, last: bool) {
        let Some(p) = self.partial.take() else {
            return;
        };
        let region = &self.text[p.from..];
        let pre = [self.defs.as_str(), &p.ctx].concat();
        let mut blocks = TopBlocks::default();
        parse(&pre, region, &mut |e, r| blocks.see(&e, &r));
        let complete_to = region.rfind('\n').map_or(0, |i| i + 1);
        let ended = last
            || matches!(blocks.starts[..], [a, b, ..]
                if block_done(a.2, region, (b.1, b.3), complete_to));
        let end = blocks
            .starts
            .get(1)
            .map_or(region.len(), |b| line_start(region, b.1));
        // Its own text only: a definition further on (maybe incomplete) must not leak in.
        let mut events = Vec::new();
        let parsed = parse(&pre, &region[..end], &mut |e, r| {
            events.push((e.into_static(), r))
        });
        if !ended || events.first().and_then(|(e, _)| part(e)) != Some(p.kind) {
            self.partial = Some(p);
            return self.drop_partial(ops);
        }
        let mut b = Builder::new(&self.opts, ops, &mut self.ids, false);
        b.resume(&p.at);
        for (e, r) in events.into_iter().skip(1) {
            b.event(e, r);
        }
        b.ops.push(Op::Commit { id: p.block });
        self.committed_nodes.push(p.block);
        let count = p.broken + parsed.broken.len();
        if count > 0 {
            self.broken.push(Broken {
                node: p.block,
                src: p.start..p.from + end,
                count,
            });
        }
        for d in &parsed.defs {
            self.defs.push_str(&region[d.clone()]);
            self.defs.push_str("\n\n");
        }
        self.committed = p.from + end;
    }

    fn drop_partial(&mut self, ops: &mut Vec<Op>) {
        if let Some(mut p) = self.partial.take() {
            ops.push(Op::Remove { id: p.block });
            self.ids.release(&mut p.ids);
        }
    }

    /// Commit every top-level block whose successor starts on a complete line (all of them
    /// when `last`).
    fn commit(&mut self, ops: &mut Vec<Op>, last: bool) {
        let region = &self.text[self.committed..];
        let mut blocks = TopBlocks::default();
        parse(&self.defs, region, &mut |e, r| blocks.see(&e, &r));
        let blocks = blocks.starts;
        let complete_to = region.rfind('\n').map_or(0, |i| i + 1);
        let n = if last {
            blocks.len()
        } else {
            blocks
                .windows(2)
                .take_while(|w| block_done(w[0].2, region, (w[1].1, w[1].3), complete_to))
                .count()
        };
        let line_start = |at: usize| line_start(region, at);
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
        let parsed = parse(&self.defs, committed, &mut |e, r| {
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

    /// Render the open tail, or the open part of a partly rendered block. Returns `false`,
    /// with no ops, when the first block has ended (commit first) or, for a partial block, no
    /// longer parses as the same kind of block; `force` renders regardless.
    fn render_tail(&mut self, ops: &mut Vec<Op>, force: bool) -> Tail {
        let from = self.partial.as_ref().map_or(self.committed, |p| p.from);
        let region = &self.text[from..];
        if region.is_empty() && self.partial.is_none() {
            return Tail::Rendered;
        }
        let (shown, kind) = complete(region);
        // Completion only changes text from here on: nothing later is frozen.
        let same = region
            .bytes()
            .zip(shown.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let complete_to = region.rfind('\n').map_or(0, |i| i + 1);
        let pre = match &self.partial {
            Some(p) if !p.ctx.is_empty() => [self.defs.as_str(), &p.ctx].concat(),
            _ => self.defs.clone(),
        };
        let mut events = Vec::new();
        let parsed = parse(&pre, &shown, &mut |e, r| events.push((e.into_static(), r)));

        let resumed = self.partial.as_ref().map(|p| (p.kind, p.loose));
        let first = events.first().and_then(|(e, _)| part(e));
        let first_ends = events.first().map_or(Ends::Next, |(e, _)| ends(e));
        if let Some((k, _)) = resumed
            && first != Some(k)
        {
            return Tail::Changed;
        }
        // A definition anywhere in this parse may resolve a reference before the cut, or be
        // incomplete: nothing is frozen while one is in view.
        let defs_end = if parsed.defs.is_empty() {
            usize::MAX
        } else {
            0
        };
        // Scan the first block for the last point where what precedes is final.
        let mut cut: Option<(usize, usize)> = None;
        // For a cut inside a text event: the event and where in it.
        let mut split: Option<(usize, usize)> = None;
        let mut head_end = None;
        let mut clean = true;
        let mut loose = false;
        // An empty item looks the same tight or loose: freeze only once the parse shows which.
        let mut tight = false;
        // A blank line between items, or before a block in an item: loose even if the parse
        // cannot show it yet (its items are empty).
        let mut blank_inside = false;
        // Where that blank line is: a list turned loose only by its open part (an item just
        // begun after a blank line) may turn tight again, so its items are not frozen loose.
        let mut loose_at = usize::MAX;
        let mut depth = 0usize;
        let mut next_block = None;
        let first_line = events
            .first()
            .map_or(0, |(_, r)| line_start(&shown, r.start));
        // A paragraph is not cut after a `|` (even in code): its line may become a table's
        // header row, and display completion scans from the last one.
        let pipe = shown.find('|').unwrap_or(usize::MAX);
        for (i, (e, r)) in events.iter().enumerate() {
            if depth == 0 && i > 0 {
                next_block = Some((r.start, matches!(e, Event::Start(Tag::Table(_)))));
                break;
            }
            let ok = |q: usize| q > 0 && q < complete_to && q <= same && q <= defs_end;
            // The next block's whole first line is as written: completion may have made it a
            // heading or an item (`#[](` shows as `#`) that the text does not start. With a
            // `|` the line after it must be complete too (see `block_done`).
            let line_as_written = |q: usize| {
                let Some(end) = shown[q..].find('\n').map(|k| q + k + 1) else {
                    return false;
                };
                let end = if shown[q..end].contains('|') {
                    shown[end..].find('\n').map_or(usize::MAX, |k| end + k + 1)
                } else {
                    end
                };
                end <= same.min(complete_to)
            };
            if first == Some(Part::List) && (depth == 2 || depth == 1 && i > 1) {
                let ls = line_start(&shown, r.start);
                // A blank line before the list's first line is outside it.
                if ls > first_line && shown[line_start(&shown, ls - 1)..ls].trim().is_empty() {
                    blank_inside = true;
                    loose_at = loose_at.min(ls);
                }
            }
            match (first, depth, e) {
                (Some(Part::List), 1, Event::Start(Tag::Item))
                | (Some(Part::Table), 1, Event::Start(Tag::TableRow)) => {
                    let q = line_start(&shown, r.start);
                    head_end.get_or_insert(q);
                    if r.start < complete_to && ok(q) && line_as_written(q) {
                        cut = Some((i, q));
                    }
                }
                // A block in a quote is final once the next one starts on a complete line, and
                // the quote from that line on parses as a quote of its own.
                (Some(Part::Quote), 1, Event::Start(_) | Event::Rule) => {
                    let q = line_start(&shown, r.start);
                    if r.start < complete_to
                        && ok(q)
                        && line_as_written(q)
                        && shown[q..].trim_start_matches(' ').starts_with('>')
                    {
                        cut = Some((i, q));
                    }
                }
                (Some(Part::List), 2, Event::Start(Tag::Paragraph)) => loose = true,
                (
                    Some(Part::List),
                    2,
                    Event::Text(_)
                    | Event::Code(_)
                    | Event::Start(
                        Tag::Emphasis | Tag::Strong | Tag::Strikethrough | Tag::Link { .. },
                    ),
                ) => tight = true,
                (Some(Part::Para), _, Event::Text(t)) => {
                    // Inside one long line: after a space, before a letter, in text that is its
                    // own source, far enough on to be worth a node. No `|` before it on the
                    // line: the line may yet become a table's header row.
                    let last = cut.map_or(0, |c| c.1);
                    if clean
                        && depth == 1
                        && r.start <= same
                        && shown.get(r.clone()) == Some(&**t)
                        && let Some(k) = t
                            .char_indices()
                            .rev()
                            .find(|&(k, c)| {
                                k > 0 && t.as_bytes()[k - 1] == b' ' && c.is_alphabetic()
                            })
                            .map(|(k, _)| k)
                            .filter(|&k| !t[..k].contains(SPECIAL))
                        && r.start + k <= same.min(defs_end).min(pipe)
                        && r.start + k >= last + self.min_split
                    {
                        cut = Some((i, r.start + k));
                        split = Some((i, k));
                    }
                    // A delimiter, bracket, backtick or `<` left as text may pair with later text.
                    clean &= !t.contains(SPECIAL);
                }
                (Some(Part::Para), 1, Event::SoftBreak) if clean => {
                    let q = shown[r.start..].find('\n').map_or(0, |k| r.start + k + 1);
                    if ok(q) && q <= pipe && shown[q..].starts_with(char::is_alphabetic) {
                        cut = Some((i + 1, q));
                        split = None;
                    }
                }
                _ => {}
            }
            match e {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth -= 1,
                _ => {}
            }
        }
        if !force {
            if resumed == Some((Part::List, false)) && (loose || blank_inside) {
                return Tail::Changed;
            }
            if next_block.is_some_and(|n| block_done(first_ends, &shown, n, complete_to)) {
                return Tail::Ended;
            }
            // What display completion hides (a lone backtick) still starts a block in the
            // text, and the commit goes by the text.
            if first_ends == Ends::Blank && first != Some(Part::List) && blank_then_text(region) {
                return Tail::Ended;
            }
            if same < complete_to {
                // Completion changed a complete line (it hid a lone backtick): ask the text.
                let mut raw = TopBlocks::default();
                parse(&pre, region, &mut |e, r| raw.see(&e, &r));
                if let [a, b, ..] = raw.starts[..]
                    && block_done(a.2, region, (b.1, b.3), complete_to)
                {
                    return Tail::Ended;
                }
            }
        }
        let settled = resumed.is_some_and(|r| r.1) || cut.is_some_and(|c| loose_at < c.1);
        let known = if loose { settled } else { tight };
        if !self.parts
            || next_block.is_some() && self.partial.is_none()
            || first == Some(Part::List) && !known
        {
            // Parts only for a block that is the whole tail.
            cut = None;
        }

        let mut b = Builder::new(&self.opts, ops, &mut self.ids, true);
        let mut frozen = None;
        if let Some(p) = &self.partial {
            b.resume(&p.at);
        }
        for (i, (mut e, mut r)) in events.into_iter().enumerate() {
            if let Some((_, k)) = split.filter(|s| s.0 == i)
                && let Event::Text(t) = &e
            {
                let rest = CowStr::from(t[k..].to_owned());
                b.event(Event::Text(t[..k].to_owned().into()), r.start..r.start + k);
                (e, r) = (Event::Text(rest), r.start + k..r.end);
            }
            if cut.is_some_and(|c| c.0 == i) {
                frozen = Some(b.freeze());
            }
            // A resumed block's element exists: its start event is not rendered again.
            if i > 0 || resumed.is_none() {
                b.event(e, r);
            }
        }
        if let (Some((ids, at)), Some((_, q))) = (frozen, cut) {
            let kind = first.unwrap_or(Part::Para);
            let broken = parsed.broken.iter().filter(|&&at| at < q).count();
            let ctx = match kind {
                Part::List if loose || resumed.is_some_and(|r| r.1) => {
                    loose_item(&shown[q..shown[q..].find('\n').map_or(shown.len(), |k| q + k)])
                }
                Part::Table => match &self.partial {
                    Some(p) => p.ctx.clone(),
                    None => shown[..head_end.unwrap_or(0)].to_owned(),
                },
                _ => String::new(),
            };
            match &mut self.partial {
                Some(p) => {
                    p.ids.extend(ids);
                    p.at = at;
                    p.from += q;
                    p.ctx = ctx;
                    p.broken += broken;
                }
                None => {
                    self.partial = Some(Partial {
                        kind,
                        block: b.top.first().map_or(0, |t| t.0),
                        start: from,
                        from: from + q,
                        ctx,
                        at,
                        loose,
                        ids,
                        broken,
                    });
                }
            }
        }
        self.tail_nodes = std::mem::take(&mut b.roots);
        self.tail_ids = b.take_created();
        if self.opts.cursor {
            b.ops.push(Op::Cursor {
                parent: b.cursor_parent,
            });
        }
        let fence = b.last_fence_text.zip(b.top.last().map(|t| t.1));
        let fence = fence.map(|((node, code), start)| (node, code, start));
        let text = b.last_text;
        self.fast = if let Some((node, code, start)) = fence {
            open_fence(region, start).map_or(Fast::None, |(ch, len, line, line_start)| Fast::Code {
                node,
                code,
                filled: 0,
                ch,
                len,
                line,
                line_start: from + line_start,
                shown: self.text.len(),
            })
        } else {
            match text {
                Some((node, end))
                    if end == region.len()
                        && (kind == Kind::Unchanged
                            || kind == Kind::Appended
                                && !region.ends_with(char::is_whitespace))
                        && region.chars().next_back().is_some_and(plain)
                        && line_settled(region) =>
                {
                    Fast::Text(node)
                }
                _ => Fast::None,
            }
        };
        Tail::Rendered
    }

    fn resolve_references(&mut self, ops: &mut Vec<Op>) {
        for broken in std::mem::take(&mut self.broken) {
            let src = &self.text[broken.src.clone()];
            let mut fresh = Vec::new();
            let mut b = Builder::new(&self.opts, &mut fresh, &mut self.ids, false);
            let parsed = parse(&self.defs, src, &mut |e, r| b.event(e, r));
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
