//! LLM-style answers shared by the native and the browser tests.
#![allow(dead_code)]

pub const CORPUS: &[&str] = &[
    // headings, emphasis, inline code, a fenced block with a language, a table, links
    "# Server-Sent Events\n\nSSE is **one-way**: the server *pushes* events over `text/event-stream`.\nSee [MDN](https://developer.mozilla.org/en-US/docs/Web/API/EventSource \"docs\").\n\n## Example\n\n```rust\nlet mut s = SseRequest::get(\"/api\").open()?;\nwhile let Some(x) = s.next().await {\n    println!(\"{x:?}\");\n}\n```\n\n| Transport | Methods | Headers |\n|:----------|:-------:|--------:|\n| EventSource | GET | no |\n| fetch | any | **yes** |\n\nDone ~~maybe~~ surely.\n",
    // nested lists, a task list, a list that becomes loose late
    "Steps:\n\n1. Install the tools\n   - `rustup`\n   - `wasm-pack`\n     1. nested deeper\n2. Build **release**\n3. Run it\n\n4. A blank line above makes the list loose\n\n- [x] done\n- [ ] todo with `code`\n",
    // setext headings, lazy continuation lines, a block quote
    "Title here\n==========\n\nA paragraph\nthat continues\non several lines.\n\nSub title\n---------\n\n> A quote that\nis continued lazily\n> and **strong\n> across lines**.\n\n- item one\nlazy continuation of item one\n- item two\n",
    // reference links defined later, a hard break, an autolink, an email autolink
    "See [the spec][spec] and [MDN].  \nAlso <https://example.com/a?b=c> and <user@example.com>.\n\nMore text with [spec] again.\n\n[spec]: https://html.spec.whatwg.org/multipage/server-sent-events.html \"WHATWG\"\n[MDN]: https://developer.mozilla.org/\n",
    // raw HTML shown as text, entities, escapes
    "Raw <b>bold</b> and <script>alert(1)</script> stay text.\n\n<div>\n*not* parsed\n</div>\n\nEntities: &amp; &copy; &#x41; and escapes \\*not em\\* \\`not code\\`.\n",
    // a fence without language, an indented code block, a thematic break, a fence never closed
    "Intro paragraph.\n\n```\nplain fence\n  keeps spaces\n```\n\n    indented code\n    block\n\n***\n\nLast words before code:\n\n~~~python\ndef f():\n    return \"never closed\"\n",
    // emphasis edge cases and images
    "Snake_case_words and 2*3*4 and **bold _nested em_ end** and `a``b` and ``double ` tick``.\n\n![alt text](https://img.example.com/a.png) and ![local](/logo.png \"t\")\n\n***bold italic*** then *a **b** c*.\n",
    // tables that end, followed by a paragraph; a heading right after a paragraph
    "Before\n# Heading after para\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\nAfter the table is a lazy row\n\nEnd.",
    // a list that becomes loose with a late blank line between items
    "- one\n- two\n- three\n\n- four (now loose)\n- five\n\nAfter list.\n",
    // long lists, rendered in parts: tight with inline markup, then loose late; an ordered
    // one whose item holds two paragraphs; a list ended by a thematic break
    "- item **one** with `code`\n- item *two* and [a link](https://example.com/2)\n- item three\n  - nested **deep**\n  - nested two\n- item four\n- item five ends\n\n- item six, loose now\n- item seven\n- item eight\n\nAfter.\n",
    "1. first\n2. second\n3. third with\n\n   a second paragraph\n4. fourth\n5. fifth\n10. tenth\n\n* other list\n* other two\n- - -\n- a\n- b\n- c\n---\nend\n",
    // a list that looks loose for a moment (an item begun after a blank line) and is not
    "- one *a*\n- two\n- three\n- four\n\n-l and a paragraph\n",
    // a long table, then one a paragraph line turns into, and a lazy row
    "| Name | Value | Note |\n|---|:---:|--:|\n| a | 1 | **x** |\n| b | 2 | `y` |\n| c | 3 | [z](https://e.com) |\n| d | 4 | w |\n| e | 5 | v |\n| f | 6 | u |\n\nText line one\nline two | cell\n|---|---|\n| r1 | r2 |\n| s1 | s2 |\nlazy row\n\nEnd.\n",
    // long paragraphs over many lines: emphasis, code and links across line ends, snake_case,
    // a hard break, then one that becomes a setext heading and one a table interrupts
    "First line of a long paragraph\nsecond line with **bold**\nthird line *starts em\nand ends it* here\nfourth `code span\nacross lines` done\nfifth [link text\nacross](https://example.com) ok\nsixth with snake_case_name\nseventh line  \neighth after a hard break\nninth line\ntenth line.\n\nAnother paragraph\nthat goes on\nfor a while\nand then\nbecomes a heading\n===\n\nA third one\nwith lines\nstill going\n| x | y |\n|---|---|\n| 1 | 2 |\n",
    // a long block quote in parts: paragraphs, a lazy line, a list, code, a heading, a nested
    // quote, a rule, and a paragraph that a setext underline turns into a heading
    "> First paragraph in the quote\n> goes on **bold**\n>\n> - a list\n> - in the quote\n>\n> ```\n> code in it\n> ```\n> A paragraph\nwith a lazy line\n> # A heading\n> > nested quote\n> > more\n>\n> ---\n> Para becomes\n> ===\n> after\n\nOutside.\n",
    // one long line: cut inside it; then one that turns into a table's header row late
    "A long line of words with **bold** and `code` and [a link](https://e.com) and *em* and snake_case and more words after all of that and a_b and ~~del~~ and <b>html</b> and the end comes here.\n\nwords words words words then a | b | c\n|---|---|---|\n| 1 | 2 | 3 |\n",
    "Para with <span\nclass=\"x\"> raw html\nacross lines and\n2*3*4 and a_b_c and ~~del\nacross~~ lines\nand a trailing line",
];

/// A long LLM-style answer of about `size` bytes, built from varied sections.
pub fn long_answer(size: usize) -> String {
    let mut s = String::with_capacity(size + 1024);
    let mut i = 0;
    while s.len() < size {
        i += 1;
        s.push_str(&format!("## Section {i}\n\nThis section explains **topic {i}** with `inline code` and a [link](https://example.com/{i}). It has *emphasis*, numbers like 3.14, and a sentence that goes on for a while so the paragraph is realistic in length, as answers usually are.\n\n"));
        s.push_str("1. First point with some detail\n2. Second point, **important**\n   - nested bullet\n   - another one with `code`\n3. Third point\n\n");
        s.push_str(&format!("```rust\nfn section_{i}() -> u32 {{\n    let x = {i};\n    x * 2 // comment\n}}\n```\n\n"));
        if i % 3 == 0 {
            s.push_str("| Name | Value |\n|------|-------|\n| a | 1 |\n| b | 2 |\n\n");
        }
        s.push_str("> A short quote to finish the section.\n\n");
    }
    s
}

/// Attempts to run script, load a foreign resource or smuggle markup through the answer.
pub const XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src=\"https://evil.example/\"></iframe>",
    "<div onclick=\"alert(1)\">block html</div>\n\nafter",
    "[click](javascript:alert(1)) and [x](JaVaScRiPt:alert(1)) and [d](data:text/html;base64,PHNjcmlwdD4=)",
    "[v](vbscript:msgbox) and [e](jav&#x61;script:alert(1)) and [t](java\tscript:alert(1))",
    "<javascript:alert(1)> and <data:text/html,<script>alert(1)</script>>",
    "![x](http://198.51.100.1/track.png) and ![y](https://example.com@198.51.100.1/a.png)",
    "![z](javascript:alert(1)) and ![w](//198.51.100.1/p.png) and ![r](/relative.png)",
    "[ref]: javascript:alert(1)\n\nA [ref] link.",
    "```html\n<script>alert(1)</script>\n```",
    "```\" onmouseover=\"alert(1)\ncode\n```",
    "`<img src=x onerror=alert(1)>` and <a href=\"javascript:alert(1)\">a</a>",
];
