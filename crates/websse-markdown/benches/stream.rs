//! `cargo xtask bench --markdown-only`: streaming vs one-shot rendering in the native core,
//! printed as a table (shown, never asserted). Times are the best of a few runs: on a shared
//! machine the minimum is the least disturbed.
//!
//! With `WEBSSE_MD_BENCH_OUT=dir` it also writes the answers it streams there, so that the
//! marked baseline in Node (bench/markdown) runs on the same text and deltas.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use websse_markdown::{MarkdownStream, Op, Options, render_ops};

const DELTA: usize = 5;

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn one_shot(text: &str) -> Duration {
    let opts = Options::default();
    best(10, || drop(black_box(render_ops(black_box(text), &opts))))
}

/// Push `text` in 5-char deltas, rendering after every `every` deltas (1: one render per
/// delta, the worst case), then finish. Returns the time and the number of slow renders' ops.
fn streamed(text: &str, every: usize, runs: usize) -> Duration {
    best(runs, || {
        let mut s = MarkdownStream::new(Options::default());
        let mut ops: Vec<Op> = Vec::new();
        let mut i = 0;
        let mut k = 0;
        while i < text.len() {
            let mut j = (i + DELTA).min(text.len());
            while !text.is_char_boundary(j) {
                j += 1;
            }
            s.push(&text[i..j]);
            k += 1;
            if k % every == 0 {
                s.render(&mut ops);
                ops.clear();
            }
            i = j;
        }
        s.finish(&mut ops);
        black_box(&ops);
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(name: &str, text: &str, every: usize, runs: usize) -> f64 {
    let once = one_shot(text);
    let s = streamed(text, every, runs);
    let ratio = s.as_secs_f64() / once.as_secs_f64();
    println!(
        "| {name} | {:.0} KB | {} | {:.2} | {:.2} | {ratio:.2}x |",
        text.len() as f64 / 1000.0,
        if every == 1 {
            "every delta".to_owned()
        } else {
            format!("every {every} deltas")
        },
        ms(once),
        ms(s),
    );
    s.as_secs_f64()
}

/// The floor of any parse-per-delta strategy: pulldown-cmark parsing only the current line
/// (from its start to the delta's end) once per delta, with nothing rendered.
fn line_floor(text: &str) -> Duration {
    best(3, || {
        let mut i = 0;
        while i < text.len() {
            let mut j = (i + DELTA).min(text.len());
            while !text.is_char_boundary(j) {
                j += 1;
            }
            let line = text[..j].rfind('\n').map_or(0, |k| k + 1).min(j);
            let n = pulldown_cmark::Parser::new(&text[line..j]).count();
            black_box(n);
            i = j;
        }
    })
}

fn main() {
    // `cargo bench` passes --bench; a filter is not supported, the whole table is one run.
    let out = std::env::var_os("WEBSSE_MD_BENCH_OUT");
    println!("\nwebsse-markdown (native core, ops generated, not applied): 5-char deltas");
    println!("| shape | size | render | one-shot ms | streamed ms | streamed / one-shot |");
    println!("|---|---:|---|---:|---:|---:|");
    let mut per_delta = Vec::new();
    let mut per_frame = Vec::new();
    for kb in [25, 50, 100] {
        let text = common::long_answer(kb * 1000);
        if let Some(dir) = &out {
            let path = std::path::Path::new(dir).join(format!("answer-{kb}k.md"));
            std::fs::write(&path, &text).expect("write the bench answer");
        }
        per_delta.push(row("LLM-style answer", &text, 1, 3));
        // One render per frame at 3,000 deltas/s and 60 frames/s.
        per_frame.push(row("LLM-style answer", &text, 50, 3));
    }
    println!(
        "linearity: 100 KB / 50 KB streaming time = {:.2} per delta, {:.2} per frame (2.00 is linear)",
        per_delta[2] / per_delta[1],
        per_frame[2] / per_frame[1]
    );
    let text = common::long_answer(100_000);
    let floor = line_floor(&text);
    println!(
        "floor: pulldown-cmark parsing the current line once per delta (no render) = {:.2} ms, {:.2}x one-shot",
        ms(floor),
        floor.as_secs_f64() / one_shot(&text).as_secs_f64()
    );

    // One never-ending block of each kind.
    let prose: String =
        "The answer keeps going, with words, numbers like 42 and commas, in one paragraph. "
            .repeat(1250);
    row("one 100 KB paragraph, plain prose", &prose, 1, 1);
    let styled: String = "Some **bold** and `code` and *em* in one paragraph. ".repeat(500);
    row("one 25 KB paragraph line, inline markup", &styled, 1, 1);
    let styled: String = "Some **bold** and `code` and *em* in one paragraph. ".repeat(1000);
    row("one 50 KB paragraph line, inline markup", &styled, 1, 1);
    for n in [500, 1000, 2000] {
        let lines: String =
            "Some **bold** and `code` and *em* on a line of a paragraph.\n".repeat(n);
        row("one paragraph of lines, inline markup", &lines, 1, 1);
    }
    let code = format!(
        "```rust\n{}```\n",
        "    let x = compute(a, b) * 2; // step\n".repeat(2500)
    );
    row("one 100 KB code block", &code, 1, 3);
    for n in [625, 1250, 2500] {
        let list: String = "- an item with **bold** text and `code`\n".repeat(n);
        row("one list", &list, 1, 1);
    }
    let loose: String = format!(
        "{}\n{}",
        "- an item with **bold** text and `code`\n".repeat(1250),
        "- an item with **bold** text and `code`\n\n".repeat(10)
    );
    row("one list, loose after 1,250 items", &loose, 1, 1);
    for n in [1250, 2500] {
        let table = format!(
            "| name | value | note |\n|---|---|---|\n{}",
            "| a cell | **42** | `code` here |\n".repeat(n)
        );
        row("one table", &table, 1, 1);
    }
    let quote: String = "> a quoted paragraph with **bold** and `code`\n>\n".repeat(500);
    row("one block quote of paragraphs", &quote, 1, 1);
    // The paragraph inside is not cut: quadratic, shown.
    let quote: String = "> a quoted line with **bold** and `code`\n".repeat(625);
    row("one block quote, one paragraph of lines", &quote, 1, 1);

    // Pathological: one 200 k-character line of backslashes and punctuation.
    let line: String = "\\\\*_`[](<!&\\".chars().cycle().take(200_000).collect();
    row("200 k-char line of \\ and punctuation", &line, 50, 1);
    let short: String = line.chars().take(20_000).collect();
    row("same, 20 k chars", &short, 1, 1);
    let short: String = line.chars().take(40_000).collect();
    row("same, 40 k chars", &short, 1, 1);
}
