//! Display-only completion of the open tail, so that raw syntax never flashes while an answer
//! streams: `**bold` shows bold, an unterminated `` ` `` shows code, `[text](url` shows the text
//! (no link until the `)`), an incomplete image shows nothing, a lone opener shows nothing. The
//! final rendering never goes through here.
//!
//! It is a scan of the last inline run (the text after the last blank line, block start or table
//! pipe) with CommonMark's flanking rules for `*`, `_` and `~`, code spans by run length, and
//! brackets; it errs towards showing text as it is.

use std::borrow::Cow;

/// How the display text relates to the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing to complete.
    Unchanged,
    /// Closers were appended at the very end (the source is a prefix of the display text).
    Appended,
    /// Text was cut or closers went before trailing white space.
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Delim {
    ch: u8,
    len: usize,
    pos: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bracket {
    pos: usize,
    image: bool,
    stack: usize,
}

/// The display text for an open tail.
pub(crate) fn complete(tail: &str) -> (Cow<'_, str>, Kind) {
    let b = tail.as_bytes();
    let Some(start) = region_start(tail) else {
        return (Cow::Borrowed(tail), Kind::Unchanged);
    };
    // A last line that may become a fence opener (`` ` `` or ``` `` ```) shows nothing yet.
    let line = tail.rfind('\n').map_or(0, |i| i + 1);
    let last = tail[line..].trim_start_matches(' ');
    if !last.is_empty()
        && last.len() < 3
        && (last.bytes().all(|c| c == b'`') || last.bytes().all(|c| c == b'~'))
    {
        return (Cow::Owned(tail[..line].to_owned()), Kind::Other);
    }

    let mut stack: Vec<Delim> = Vec::new();
    let mut brackets: Vec<Bracket> = Vec::new();
    let mut code: Option<(usize, usize)> = None;
    // In a link destination: (bracket, position of `]`).
    let mut dest: Option<(Bracket, usize)> = None;
    let mut depth = 0usize;
    // A delimiter run at the very end may open or close once more text comes: not shown yet.
    let mut cut = b.len();
    let mut i = start;
    let mut line_start = true;
    while i < b.len() {
        if line_start {
            i = skip_markers(tail, i);
            line_start = false;
            continue;
        }
        let c = b[i];
        if c == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        if let Some((_, _)) = dest {
            match c {
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' if depth == 0 => dest = None,
                b')' => depth -= 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'`' {
            let n = run(b, i, b'`');
            match code {
                Some((_, len)) if len == n => code = None,
                // a run at the very end may still grow into the closer (or an opener)
                _ if i + n == b.len() => cut = i,
                None => code = Some((i, n)),
                _ => {}
            }
            i += n;
            continue;
        }
        if code.is_some() {
            i += 1;
            continue;
        }
        match c {
            b'\\' => i += 2,
            b'*' | b'_' | b'~' => {
                let n = run(b, i, c);
                let prev = tail[..i].chars().next_back();
                let next = tail[i + n..].chars().next();
                let (left, right) = flanking(prev, next);
                let (open, close) = if c == b'_' {
                    (
                        left && (!right || prev.is_some_and(is_punct)),
                        right && (!left || next.is_some_and(is_punct)),
                    )
                } else {
                    (left, right)
                };
                let matched = close
                    && stack.iter().rposition(|d| d.ch == c).is_some_and(|k| {
                        let d = &mut stack[k];
                        if d.len > n {
                            d.len -= n;
                            stack.truncate(k + 1);
                        } else {
                            stack.truncate(k);
                        }
                        true
                    });
                if !matched && open {
                    stack.push(Delim {
                        ch: c,
                        len: n,
                        pos: i,
                    });
                } else if !matched && i + n == b.len() {
                    cut = i;
                }
                i += n;
            }
            b'[' => {
                let image = i > 0 && b[i - 1] == b'!';
                brackets.push(Bracket {
                    pos: i,
                    image,
                    stack: stack.len(),
                });
                i += 1;
            }
            b']' => {
                if let Some(br) = brackets.pop()
                    && b.get(i + 1) == Some(&b'(')
                {
                    dest = Some((br, i));
                    depth = 0;
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }

    let mut kind = Kind::Appended;
    let mut out: String = if let Some((br, close)) = dest {
        kind = Kind::Other;
        stack.truncate(br.stack);
        if br.image {
            tail[..br.pos - 1].to_owned()
        } else {
            [&tail[..br.pos], &tail[br.pos + 1..close]].concat()
        }
    } else if let Some(img) = brackets.iter().find(|br| br.image) {
        kind = Kind::Other;
        stack.truncate(img.stack);
        tail[..img.pos - 1].to_owned()
    } else if let Some((pos, n)) = code {
        stack.retain(|d| d.pos < pos);
        if tail[pos + n..cut].trim().is_empty() {
            kind = Kind::Other;
            tail[..pos].to_owned()
        } else {
            if cut < b.len() {
                kind = Kind::Other;
            }
            let mut out = tail[..cut].to_owned();
            let at = content_end(&out);
            // a closer right after a backtick would make a longer run
            let pad = if out[..at].ends_with('`') { " " } else { "" };
            out.insert_str(at, &[pad, &"`".repeat(n)].concat());
            out
        }
    } else if cut < b.len() {
        kind = Kind::Other;
        tail[..cut].to_owned()
    } else if stack.is_empty() {
        return (Cow::Borrowed(tail), Kind::Unchanged);
    } else {
        tail.to_owned()
    };
    // An opener with nothing after it shows nothing; the others get their closers right after
    // the last content (a closer after a space or a new line would not be right-flanking).
    if let Some(k) = stack
        .iter()
        .position(|d| out.get(d.pos + d.len..).is_none_or(|s| content_end(s) == 0))
    {
        out.truncate(stack[k].pos);
        stack.truncate(k);
        kind = Kind::Other;
    }
    if stack.is_empty() {
        return (Cow::Owned(out), kind);
    }
    let mut at = content_end(&out);
    if at < out.len() {
        kind = Kind::Other;
    }
    if out[..at].ends_with('\\') && !out[..at].ends_with("\\\\") {
        out.remove(at - 1);
        at -= 1;
        kind = Kind::Other;
    }
    let closers: String = stack
        .iter()
        .rev()
        .flat_map(|d| std::iter::repeat_n(d.ch as char, d.len))
        .collect();
    out.insert_str(at, &closers);
    (Cow::Owned(out), kind)
}

/// The end of the last inline content: before trailing white space and trailing lines that hold
/// only container markers (`>`, a list marker, pipes).
fn content_end(s: &str) -> usize {
    let mut end = s.trim_end().len();
    loop {
        let line = s[..end].rfind('\n').map_or(0, |i| i + 1);
        if line == 0 || skip_markers(&s[..end], line) < end {
            return end;
        }
        end = s[..line].trim_end().len();
    }
}

fn run(b: &[u8], i: usize, c: u8) -> usize {
    b[i..].iter().take_while(|&&x| x == c).count()
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_ascii() && !c.is_alphanumeric() && !c.is_whitespace())
}

/// CommonMark's left- and right-flanking delimiter runs; the ends of the text count as white space.
fn flanking(prev: Option<char>, next: Option<char>) -> (bool, bool) {
    let ws = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let p = |c: Option<char>| c.is_some_and(is_punct);
    let left = !ws(next) && (!p(next) || ws(prev) || p(prev));
    let right = !ws(prev) && (!p(prev) || ws(next) || p(next));
    (left, right)
}

/// Where the last inline run begins, or `None` inside an open fenced code block (which
/// pulldown-cmark already shows as a code block).
fn region_start(tail: &str) -> Option<usize> {
    let mut start = 0;
    let mut fence: Option<(u8, usize)> = None;
    let mut pos = 0;
    for line in tail.split_inclusive('\n') {
        let here = pos;
        pos += line.len();
        let t = line.trim_start_matches([' ', '>']);
        let indent = line.len() - line.trim_start_matches(' ').len();
        let f = t.as_bytes().first().copied();
        let n = f.map_or(0, |c| run(t.as_bytes(), 0, c));
        if let Some((ch, len)) = fence {
            if f == Some(ch) && n >= len && t[n..].trim().is_empty() && line.ends_with('\n') {
                fence = None;
                start = pos;
            }
            continue;
        }
        // A backtick fence's info string has no backtick (```` ```a` ```` is text).
        if indent < 4
            && matches!(f, Some(b'`' | b'~'))
            && n >= 3
            && !(f == Some(b'`') && t[n..].contains('`'))
        {
            fence = Some((f.unwrap_or(b'`'), n));
            continue;
        }
        let body = t.trim();
        if body.is_empty() && line.ends_with('\n') {
            start = pos;
        } else if body.starts_with('#') || starts_item(body) {
            start = here;
        }
        if let Some(p) = last_pipe(line) {
            start = start.max(here + p + 1);
        }
    }
    if fence.is_some() { None } else { Some(start) }
}

fn starts_item(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let m = if matches!(b.first(), Some(b'-' | b'+' | b'*')) {
        1
    } else if (1..=9).contains(&digits) && matches!(b.get(digits), Some(b'.' | b')')) {
        digits + 1
    } else {
        return false;
    };
    b.get(m).is_none_or(|c| *c == b' ' || *c == b'\t')
}

fn last_pipe(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len())
        .rev()
        .find(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
}

/// Past a line's container markers: indentation, `>`, list markers, an ATX heading's `#`s.
fn skip_markers(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    loop {
        let before = i;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t' || b[i] == b'>' || b[i] == b'|') {
            i += 1;
        }
        let rest = &s[i..];
        if starts_item(rest) {
            i += rest
                .bytes()
                .take_while(|c| !c.is_ascii_whitespace())
                .count();
        } else if rest.starts_with('#') {
            let n = run(b, i, b'#');
            if n <= 6 && b.get(i + n).is_none_or(|c| *c == b' ' || *c == b'\n') {
                i += n;
            }
        }
        if i == before {
            return i;
        }
    }
}
