//! The Markdown bench of `cargo xtask bench` (`--markdown-only` runs it alone).

use std::path::Path;

use crate::Result;
use crate::proc::Cmd;

/// websse-markdown natively (a plain bench binary that prints its table: streaming in 5-char
/// deltas against one-shot rendering, by size and by shape), then marked in Node re-rendering the
/// whole answer per delta on the same answers, the strategy the crate is meant to beat.
pub fn run(root: &Path) -> Result {
    println!(
        "\n==> Markdown bench: websse-markdown streamed vs one-shot; marked re-lexing per delta"
    );
    let work = crate::target_dir(root).join("bench-markdown");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    Cmd::new("cargo")
        .args(["bench", "-p", "websse-markdown", "--bench", "stream"])
        .env("WEBSSE_MD_BENCH_OUT", &work)
        .run("cargo bench -p websse-markdown")?;
    let dir = root.join("bench/markdown");
    let node = crate::tools::npm_ci(&dir, &work.join("node"))?;
    // Node resolves `import 'marked'` from the script's directory: run it next to node_modules.
    std::fs::copy(dir.join("bench.mjs"), node.join("bench.mjs"))
        .map_err(|e| format!("cannot copy bench/markdown/bench.mjs: {e}"))?;
    // Re-lexing per 5-char delta is quadratic: 25 KB takes seconds, 50 KB most of a minute.
    Cmd::new("node")
        .arg(node.join("bench.mjs"))
        .arg(work.join("answer-25k.md"))
        .current_dir(&node)
        .run("node bench.mjs (bench/markdown)")
}
