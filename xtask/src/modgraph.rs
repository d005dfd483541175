//! The "module graph (no cycles)" step of `cargo xtask test`, also run alone by
//! `cargo xtask modgraph`.
//!
//! It covers every target of every package of the workspace, as `cargo metadata` lists them: the
//! libraries, the binaries (the app in `www/` and xtask included), the test, bench and example
//! targets, so a new crate or target is checked without being named here. For each target it
//! builds the graph of references between the top-level modules, and between the submodules of
//! each directory module (`wasm/`), prints it, and fails when a graph has a cycle, naming the
//! modules and the lines that make each edge of it. Without cycles a newcomer can read a crate
//! bottom-up; a cycle is two modules that only make sense together.
//!
//! A file of module `a` refers to module `b` when it names a path into `b`: `crate::b::..`,
//! `use crate::{b, ..}`, `super::b` or `self::b` resolving there, or a name that the crate root
//! (or a directory module) imports from `b`, such as `crate::Error` after `pub use error::Error`
//! in lib.rs. Items defined in the crate root itself belong to no module: `crate::Config` is no
//! edge.
//!
//! Modules are found the way rustc finds them: `mod a;` in a crate root or a `mod.rs` is `a.rs` or
//! `a/mod.rs` next to it, in any other `b.rs` it is `b/a.rs` or `b/a/mod.rs`, and `#[path = "x"]`
//! is relative to the declaring file's directory (the file it names then owns its directory, as a
//! `mod.rs` does). A module under a `#[cfg(..)]` other than `cfg(test)` counts: a cycle that only
//! some features or targets build is still a cycle.
//!
//! The source is read as tokens, not as a syntax tree. Comments (doc comments and their links
//! included), string and character literals and attributes are skipped, and so is every item
//! under `#[cfg(test)]`: test modules may use anything. Not handled, because nothing here uses
//! them, and an error says so where they appear: file modules declared inside inline modules, and
//! `path` set through `cfg_attr`. The names a glob import brings in are not followed
//! (`use crate::x::*` is an edge to `x`, no more); inline modules other than tests are read as
//! part of the file that holds them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

use crate::proc::Cmd;

/// One compilation target: its crate root, and how the report names it.
#[derive(Debug)]
struct Target {
    /// `websse-server (bin websse-server)`, `websse-core (lib)`.
    label: String,
    /// The crate root, relative to the workspace root (`crates/websse/src/lib.rs`).
    root_file: String,
}

/// Checks every target of every workspace package, printing each graph.
///
/// # Errors
/// `cargo metadata` failing, a source file that cannot be read, or a module graph with a cycle
/// (all of them are listed).
pub(crate) fn check(root: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = Cmd::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output("cargo metadata")?;
    let targets = targets(root, &metadata)?;
    let mut cycles = Vec::new();
    for target in &targets {
        let krate = Crate::read(&target.root_file, |file| {
            std::fs::read_to_string(root.join(file)).ok()
        })
        .map_err(|e| format!("{}: {e}", target.label))?;
        let (text, found) = krate.report(&target.label);
        print!("{text}");
        cycles.extend(found.into_iter().map(|c| format!("{}: {c}", target.label)));
    }
    println!(
        "    {} targets of {} packages checked",
        targets.len(),
        targets
            .iter()
            .map(|t| t.label.split(' ').next())
            .collect::<BTreeSet<_>>()
            .len()
    );
    if cycles.is_empty() {
        Ok(())
    } else {
        Err(format!("module cycles: {}", cycles.join("; ")))
    }
}

/// The targets of the workspace members in `cargo metadata --no-deps` output, in the order of the
/// workspace's member list, each package's library first.
fn targets(root: &Path, metadata: &str) -> Result<Vec<Target>, String> {
    let json: serde_json::Value =
        serde_json::from_str(metadata).map_err(|e| format!("cargo metadata: {e}"))?;
    let unexpected = || "cargo metadata: unexpected output".to_owned();
    let members: Vec<&str> = json["workspace_members"]
        .as_array()
        .ok_or_else(unexpected)?
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let mut out = Vec::new();
    for id in members {
        let package = json["packages"]
            .as_array()
            .ok_or_else(unexpected)?
            .iter()
            .find(|p| p["id"].as_str() == Some(id))
            .ok_or_else(unexpected)?;
        let name = package["name"].as_str().ok_or_else(unexpected)?;
        let mut targets: Vec<(bool, Target)> = Vec::new();
        for target in package["targets"].as_array().ok_or_else(unexpected)? {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .ok_or_else(unexpected)?
                .iter()
                .filter_map(|k| k.as_str())
                .collect();
            let target_name = target["name"].as_str().ok_or_else(unexpected)?;
            let src = Path::new(target["src_path"].as_str().ok_or_else(unexpected)?);
            let is_lib = kinds.iter().any(|k| {
                matches!(
                    *k,
                    "lib" | "rlib" | "dylib" | "cdylib" | "staticlib" | "proc-macro"
                )
            });
            let label = match (is_lib, kinds.first()) {
                (true, _) => format!("{name} (lib)"),
                (false, Some(&"custom-build")) => format!("{name} (build script)"),
                (false, kind) => format!("{name} ({} {target_name})", kind.unwrap_or(&"target")),
            };
            let relative = src.strip_prefix(root).unwrap_or(src);
            let root_file = relative.to_string_lossy().replace('\\', "/");
            targets.push((!is_lib, Target { label, root_file }));
        }
        // A stable order: the library, then the others as cargo lists them.
        targets.sort_by_key(|(not_lib, _)| *not_lib);
        out.extend(targets.into_iter().map(|(_, t)| t));
    }
    if out.is_empty() {
        return Err("cargo metadata lists no targets".into());
    }
    Ok(out)
}

/// A module path from the crate root: `[]` is lib.rs, `["wasm", "fetch"]` is `crate::wasm::fetch`.
type ModPath = Vec<String>;

/// One reference to a path of the crate.
#[derive(Debug, Clone)]
struct Ref {
    /// The absolute path named (`["queue", "Queue", "bounded"]`), before re-exports are followed.
    target: Vec<String>,
    /// Where: the file (as the crate root's path is given) and line.
    file: String,
    line: usize,
}

impl Ref {
    fn describe(&self) -> String {
        format!(
            "{}:{} crate::{}",
            self.file,
            self.line,
            self.target.join("::")
        )
    }
}

/// One module as read from its file.
#[derive(Debug, Default)]
struct Module {
    children: BTreeSet<String>,
    /// Names brought in by `use` at the top of the file, to the absolute paths they stand for;
    /// `crate::Name` (or `crate::module::Name`) is followed through them.
    imports: BTreeMap<String, Vec<String>>,
    refs: Vec<Ref>,
}

/// The modules of one crate.
#[derive(Debug)]
struct Crate {
    modules: BTreeMap<ModPath, Module>,
}

/// The graph among the children of one module: node -> node it refers to -> the references.
type Graph = BTreeMap<String, BTreeMap<String, Vec<Ref>>>;

impl Crate {
    /// Reads the crate from its root file (`src/lib.rs`, `tests/deploy/main.rs`) down its `mod`
    /// declarations; `source` returns the text of a file given its path (the root's directory
    /// joined with the module's relative path, `..` resolved), or `None` when there is no such
    /// file.
    fn read(
        root_file: &str,
        mut source: impl FnMut(&str) -> Option<String>,
    ) -> Result<Crate, String> {
        let mut modules = BTreeMap::new();
        // (module, its file, whether the file owns its directory as a crate root or mod.rs does)
        let mut todo: Vec<(ModPath, String, bool)> = vec![(Vec::new(), normalize(root_file), true)];
        while let Some((path, file, owns_dir)) = todo.pop() {
            let text = source(&file).ok_or_else(|| format!("cannot read {file}"))?;
            let parsed = parse(&lex(&text));
            if let Some((line, what)) = parsed.unsupported {
                return Err(format!(
                    "{file}:{line}: {what} is not supported by the module graph check"
                ));
            }
            let here = match file.rfind('/') {
                Some(slash) => &file[..=slash],
                None => "",
            };
            // Where `mod a;` looks for `a.rs` and `a/mod.rs`.
            let dir = if owns_dir {
                here.to_owned()
            } else {
                format!("{}/", file.trim_end_matches(".rs"))
            };
            let children = if parsed.test_only {
                &[][..]
            } else {
                &parsed.children[..]
            };
            let mut module = Module {
                children: children.iter().map(|c| c.0.clone()).collect(),
                ..Module::default()
            };
            for (child, attr_path, line) in children {
                let (found, owns) = if let Some(attr_path) = attr_path {
                    let named = normalize(&format!("{here}{attr_path}"));
                    if source(&named).is_none() {
                        return Err(format!(
                            "{file}:{line} declares `mod {child}` in {named} (#[path]), which is \
                             missing"
                        ));
                    }
                    (named, true)
                } else {
                    let flat = format!("{dir}{child}.rs");
                    let nested = format!("{dir}{child}/mod.rs");
                    if source(&flat).is_some() {
                        (flat, false)
                    } else if source(&nested).is_some() {
                        (nested, true)
                    } else {
                        return Err(format!(
                            "{file}:{line} declares `mod {child}` but {flat} is missing"
                        ));
                    }
                };
                let mut child_path = path.clone();
                child_path.push(child.clone());
                todo.push((child_path, found, owns));
            }
            if !parsed.test_only {
                for (raw, bound, line, top) in &parsed.uses {
                    let Some(abs) = absolute(&path, &module.children, raw, true) else {
                        continue;
                    };
                    if *top && let Some(name) = bound.as_ref().filter(|n| *n != "_") {
                        module.imports.insert(name.clone(), abs.clone());
                    }
                    module.refs.push(Ref {
                        target: abs,
                        file: file.clone(),
                        line: *line,
                    });
                }
                for (raw, line) in &parsed.paths {
                    if let Some(abs) = absolute(&path, &module.children, raw, false) {
                        module.refs.push(Ref {
                            target: abs,
                            file: file.clone(),
                            line: *line,
                        });
                    }
                }
            }
            modules.insert(path, module);
        }
        Ok(Crate { modules })
    }

    /// The module an absolute path lands in: its longest prefix of modules, following the
    /// imports (re-exports) of the modules on the way.
    fn locate(&self, target: &[String], hops: u8) -> ModPath {
        let mut at = Vec::new();
        for segment in target {
            let Some(module) = self.modules.get(&at) else {
                break;
            };
            if module.children.contains(segment) {
                at.push(segment.clone());
            } else if let Some(imported) = module.imports.get(segment)
                && hops < 16
            {
                return self.locate(imported, hops + 1);
            } else {
                break;
            }
        }
        at
    }

    /// The graph among the children of each module that has two or more.
    fn graphs(&self) -> BTreeMap<ModPath, Graph> {
        let mut graphs: BTreeMap<ModPath, Graph> = BTreeMap::new();
        for (path, module) in &self.modules {
            if module.children.len() >= 2 {
                let graph = graphs.entry(path.clone()).or_default();
                for child in &module.children {
                    graph.entry(child.clone()).or_default();
                }
            }
        }
        for (from, module) in &self.modules {
            for r in &module.refs {
                let to = self.locate(&r.target, 0);
                let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
                if common < from.len() && common < to.len() {
                    let parent = from[..common].to_vec();
                    let graph = graphs.entry(parent).or_default();
                    graph
                        .entry(from[common].clone())
                        .or_default()
                        .entry(to[common].clone())
                        .or_default()
                        .push(r.clone());
                }
            }
        }
        graphs
    }

    /// The printed graphs, and one line per cycle found.
    fn report(&self, name: &str) -> (String, Vec<String>) {
        let mut out = String::new();
        let mut found = Vec::new();
        let graphs = self.graphs();
        if graphs.is_empty() {
            // Nothing can form a cycle: a single file, or modules that each hold at most one.
            let names: Vec<String> = self
                .modules
                .keys()
                .filter(|m| !m.is_empty())
                .map(|m| m.join("::"))
                .collect();
            let _ = match names.len() {
                0 => writeln!(out, "    {name}: one file, no cycle possible"),
                n => writeln!(
                    out,
                    "    {name}: {n} module{} ({}), no cycle possible",
                    if n == 1 { "" } else { "s" },
                    names.join(", ")
                ),
            };
        }
        for (parent, graph) in &graphs {
            let scope = if parent.is_empty() {
                name.to_owned()
            } else {
                format!("{name} in {}", parent.join("::"))
            };
            let cycles = cycles(graph);
            let verdict = match cycles.len() {
                0 => "no cycle".to_owned(),
                1 => "1 CYCLE".to_owned(),
                n => format!("{n} CYCLES"),
            };
            let _ = writeln!(out, "    {scope}: {} modules, {verdict}", graph.len());
            for (node, targets) in graph {
                let list: Vec<&str> = targets.keys().map(String::as_str).collect();
                if list.is_empty() {
                    let _ = writeln!(out, "      {node}");
                } else {
                    let _ = writeln!(out, "      {node} -> {}", list.join(", "));
                }
            }
            for cycle in cycles {
                let members: BTreeSet<&String> = cycle.iter().collect();
                let loop_text = example_loop(graph, &cycle).join(" -> ");
                let _ = writeln!(out, "      cycle: {loop_text}");
                for (node, targets) in graph.iter().filter(|(n, _)| members.contains(n)) {
                    for (target, refs) in targets.iter().filter(|(t, _)| members.contains(t)) {
                        let more = match refs.len() {
                            1 => String::new(),
                            n => format!(" (and {} more)", n - 1),
                        };
                        let _ = writeln!(
                            out,
                            "        {node} -> {target}: {}{more}",
                            refs[0].describe()
                        );
                    }
                }
                let prefix = if parent.is_empty() {
                    String::new()
                } else {
                    format!("in {}: ", parent.join("::"))
                };
                found.push(format!("{prefix}{loop_text}"));
            }
        }
        (out, found)
    }
}

/// The strongly connected components of two or more nodes, each sorted, in order.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let reach = |start: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start];
        while let Some(node) = todo.pop() {
            for next in graph.get(node).into_iter().flat_map(|t| t.keys()) {
                if seen.insert(next) {
                    todo.push(next);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<&String>> =
        graph.keys().map(|n| (n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for node in graph.keys() {
        if done.contains(node) || !reaches[node].contains(node) {
            continue;
        }
        let component: Vec<String> = reaches[node]
            .iter()
            .filter(|other| reaches[*other].contains(node))
            .map(|other| (*other).clone())
            .collect();
        done.extend(component.iter().cloned());
        out.push(component);
    }
    out
}

/// A shortest loop through the first node of a component, as the list of nodes (first repeated
/// at the end).
fn example_loop(graph: &Graph, component: &[String]) -> Vec<String> {
    let start = &component[0];
    let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
    let mut todo = VecDeque::from([start]);
    while let Some(node) = todo.pop_front() {
        for next in graph.get(node).into_iter().flat_map(|t| t.keys()) {
            if next == start {
                let mut path = vec![start.clone()];
                let mut at = node;
                while at != start {
                    path.push(at.clone());
                    at = came_from[at];
                }
                path.push(start.clone());
                path.reverse();
                return path;
            }
            if component.contains(next) && !came_from.contains_key(next) {
                came_from.insert(next, node);
                todo.push_back(next);
            }
        }
    }
    component.to_vec()
}

/// `a/b/../c.rs` as `a/c.rs`: a `#[path]` may climb out of the declaring file's directory.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "." => {}
            ".." if parts.last().is_some_and(|p| !p.is_empty() && *p != "..") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

/// The absolute path that `raw` names from module `here`, if it is a path of this crate.
/// `use` paths may also start with a child module's bare name (`use fetch::run` in mod.rs).
fn absolute(
    here: &[String],
    children: &BTreeSet<String>,
    raw: &[String],
    in_use: bool,
) -> Option<Vec<String>> {
    let (first, rest) = raw.split_first()?;
    match first.as_str() {
        "crate" => Some(rest.to_vec()),
        "self" => Some([here, rest].concat()),
        "super" => {
            let mut base = here.to_vec();
            let mut rest = raw;
            while let Some(("super", tail)) = rest.split_first().map(|(s, t)| (s.as_str(), t)) {
                base.pop()?;
                rest = tail;
            }
            Some([&base[..], rest].concat())
        }
        name if in_use && children.contains(name) => Some([here, raw].concat()),
        _ => None,
    }
}

/// A token: what the graph needs of Rust's lexical grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// The text between the quotes of a string literal, escapes left as written: what a
    /// `#[path = ".."]` names.
    Str(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// Tokens with their line numbers; comments, lifetimes and literals other than strings are
/// dropped.
fn lex(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips a quoted literal whose opening quote is at `i`; returns the index after it.
    let skip_quoted = |mut i: usize, quote: char, line: &mut usize| {
        i += 1;
        while i < c.len() && c[i] != quote {
            match c[i] {
                '\\' => i += 1,
                '\n' => *line += 1,
                _ => {}
            }
            i += 1;
        }
        i + 1
    };
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\n' => {
                line += 1;
                i += 1;
            }
            _ if ch.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => {
                let start = line;
                let end = skip_quoted(i, '"', &mut line);
                let text = c[i + 1..end.saturating_sub(1).clamp(i + 1, c.len())].iter();
                out.push((Tok::Str(text.collect()), start));
                i = end;
            }
            '\'' => {
                if at(i + 1) == '\\' {
                    // An escaped character: skip the backslash and the escaped character, then
                    // up to the closing quote (`'\u{1F600}'`).
                    i += 3;
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == '\'' {
                    i += 3;
                } else {
                    // A lifetime or a label.
                    i += 1;
                    while i < c.len() && is_ident(c[i]) {
                        i += 1;
                    }
                }
            }
            _ if ch.is_ascii_digit() => {
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
            }
            _ if is_ident(ch) => {
                let start = i;
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
                if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == '"' {
                    // A raw string: r#"..."#.
                    let start = (i + hashes + 1, line);
                    i += hashes + 1;
                    loop {
                        if i >= c.len() {
                            break;
                        }
                        if c[i] == '"'
                            && c[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes
                        {
                            if word == "r" {
                                let text = c[start.0..i].iter().collect();
                                out.push((Tok::Str(text), start.1));
                            }
                            i += 1 + hashes;
                            break;
                        }
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                    i = skip_quoted(i, '"', &mut line);
                } else if word == "b" && at(i) == '\'' {
                    i = skip_quoted(i, '\'', &mut line);
                } else if word == "r" && at(i) == '#' && is_ident(at(i + 1)) {
                    // A raw identifier: r#type.
                    let start = i + 1;
                    i = start;
                    while i < c.len() && is_ident(c[i]) {
                        i += 1;
                    }
                    out.push((Tok::Ident(c[start..i].iter().collect()), line));
                } else {
                    out.push((Tok::Ident(word), line));
                }
            }
            ':' if at(i + 1) == ':' => {
                out.push((Tok::PathSep, line));
                i += 2;
            }
            _ => {
                out.push((Tok::Punct(ch), line));
                i += 1;
            }
        }
    }
    out
}

/// What one file says, before paths are resolved.
#[derive(Debug, Default)]
struct Parsed {
    /// `#![cfg(test)]`: the whole file is test code.
    test_only: bool,
    /// The first thing the check cannot follow, with its line: a file module declared in a
    /// block, or a `path` set through `cfg_attr`.
    unsupported: Option<(usize, &'static str)>,
    /// `mod name;` at the top of the file, not under `#[cfg(test)]`: the name, the file a
    /// `#[path]` attribute names, and the line.
    children: Vec<(String, Option<String>, usize)>,
    /// Each path a `use` imports: the path, the name it binds (`None` for a glob), its line, and
    /// whether the `use` is at the top of the file (not in a block).
    uses: Vec<(Vec<String>, Option<String>, usize, bool)>,
    /// Paths outside `use` that start with `crate`, `super` or `self`.
    paths: Vec<(Vec<String>, usize)>,
}

fn parse(toks: &[(Tok, usize)]) -> Parsed {
    let ident = |i: usize| match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |i: usize, t: &Tok| toks.get(i).is_some_and(|(x, _)| x == t);
    let mut parsed = Parsed::default();
    let mut depth = 0usize;
    let mut test_item = false;
    // A `#[path = ".."]` waiting for the `mod` it is on.
    let mut path_attr: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        match tok {
            Tok::Punct('#') => {
                let inner = is(i + 1, &Tok::Punct('!'));
                let open = if inner { i + 2 } else { i + 1 };
                if !is(open, &Tok::Punct('[')) {
                    i += 1;
                    continue;
                }
                let end = matching(toks, open);
                let body: Vec<&Tok> = toks[open + 1..end].iter().map(|(t, _)| t).collect();
                let cfg_test = body
                    == [
                        &Tok::Ident("cfg".into()),
                        &Tok::Punct('('),
                        &Tok::Ident("test".into()),
                        &Tok::Punct(')'),
                    ];
                if let [Tok::Ident(path), Tok::Punct('='), Tok::Str(file)] = body[..]
                    && path == "path"
                {
                    path_attr = Some(file.clone());
                }
                let is_path = |t: &&Tok| **t == Tok::Ident("path".into());
                if body.first() == Some(&&Tok::Ident("cfg_attr".into())) && body.iter().any(is_path)
                {
                    parsed
                        .unsupported
                        .get_or_insert((*line, "#[cfg_attr(.., path = ..)]"));
                }
                if cfg_test && inner && depth == 0 {
                    parsed.test_only = true;
                    return parsed;
                }
                test_item |= cfg_test && !inner;
                i = end + 1;
                continue;
            }
            _ if test_item => {
                test_item = false;
                path_attr = None;
                i = skip_item(toks, i);
                continue;
            }
            Tok::Punct('{') => {
                depth += 1;
                path_attr = None;
            }
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                path_attr = None;
            }
            Tok::Punct(';') => path_attr = None,
            Tok::Ident(word) if word == "mod" => {
                if let Some(name) = ident(i + 1)
                    && is(i + 2, &Tok::Punct(';'))
                {
                    if depth == 0 {
                        parsed
                            .children
                            .push((name.to_owned(), path_attr.take(), *line));
                    } else {
                        let what = "a file module declared inside a block or an inline module";
                        parsed.unsupported.get_or_insert((*line, what));
                    }
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(word) if word == "use" && !is(i.wrapping_sub(1), &Tok::PathSep) => {
                i += 1;
                let mut found = Vec::new();
                while i < toks.len() && !is(i, &Tok::Punct(';')) {
                    let before = i;
                    use_tree(toks, &mut i, &[], &mut found);
                    if i == before {
                        i += 1;
                    }
                }
                for (path, bound) in found {
                    parsed.uses.push((path, bound, *line, depth == 0));
                }
                continue;
            }
            Tok::Ident(word)
                if matches!(word.as_str(), "crate" | "super" | "self")
                    && is(i + 1, &Tok::PathSep)
                    && !is(i.wrapping_sub(1), &Tok::PathSep) =>
            {
                let mut path = vec![word.clone()];
                let mut j = i + 1;
                while is(j, &Tok::PathSep) {
                    match ident(j + 1) {
                        Some(next) => path.push(next.to_owned()),
                        None => break,
                    }
                    j += 2;
                }
                parsed.paths.push((path, *line));
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parsed
}

/// The index of the bracket that closes the one at `open` (or the last token).
fn matching(toks: &[(Tok, usize)], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, (tok, _)) in toks.iter().enumerate().skip(open) {
        match tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    toks.len().saturating_sub(1)
}

/// The index after the item that starts at `start`: after its `;`, or after its body's `}`.
fn skip_item(toks: &[(Tok, usize)], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, (tok, _)) in toks.iter().enumerate().skip(start) {
        match tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct('}') if depth == 1 => return i + 1,
            Tok::Punct(')' | ']' | '}') => depth = depth.saturating_sub(1),
            Tok::Punct(';') if depth == 0 => return i + 1,
            _ => {}
        }
    }
    toks.len()
}

/// Reads one use tree at `*i` (`a::b`, `a::{b, c::d as e}`, `a::*`), appending each full path
/// with the name it binds.
fn use_tree(
    toks: &[(Tok, usize)],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i).map(|(t, _)| t) {
            Some(Tok::PathSep) => *i += 1,
            Some(Tok::Ident(segment)) => {
                path.push(segment.clone());
                *i += 1;
                if !matches!(toks.get(*i), Some((Tok::PathSep, _))) {
                    break;
                }
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                while *i < toks.len() && !matches!(toks[*i].0, Tok::Punct('}')) {
                    let before = *i;
                    use_tree(toks, i, &path, out);
                    if matches!(toks.get(*i), Some((Tok::Punct(','), _))) || *i == before {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
                out.push((path, None));
                return;
            }
            _ => break,
        }
    }
    if path.len() == prefix.len() {
        return;
    }
    let mut bound = path.last().cloned();
    if matches!(toks.get(*i), Some((Tok::Ident(s), _)) if s == "as") {
        bound = match toks.get(*i + 1) {
            Some((Tok::Ident(alias), _)) => Some(alias.clone()),
            _ => bound,
        };
        *i += 2;
    }
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
        if bound.as_deref() == Some("self") {
            bound = path.last().cloned();
        }
    }
    out.push((path, bound));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a crate from `src/lib.rs`, the files given relative to `src/`.
    fn read(files: &[(&str, &str)]) -> Crate {
        try_read("src/lib.rs", files).expect("the crate reads")
    }

    fn try_read(root_file: &str, files: &[(&str, &str)]) -> Result<Crate, String> {
        let files: Vec<(String, &str)> = files
            .iter()
            .map(|(name, text)| (format!("src/{name}"), *text))
            .collect();
        read_paths(root_file, &files)
    }

    /// Reads a crate from `root_file`, the files given by their full paths.
    fn read_paths(root_file: &str, files: &[(String, &str)]) -> Result<Crate, String> {
        let files: BTreeMap<&str, &str> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        Crate::read(root_file, |f| files.get(f).map(|s| (*s).to_owned()))
    }

    /// The graph among the children of `parent` as `a -> b` lines.
    fn edges(krate: &Crate, parent: &[&str]) -> Vec<String> {
        let parent: ModPath = parent.iter().map(|s| (*s).to_owned()).collect();
        let graphs = krate.graphs();
        let Some(graph) = graphs.get(&parent) else {
            return Vec::new();
        };
        graph
            .iter()
            .flat_map(|(from, to)| to.keys().map(move |to| format!("{from} -> {to}")))
            .collect()
    }

    fn found_cycles(krate: &Crate) -> Vec<String> {
        krate.report("k").1
    }

    #[test]
    fn a_cycle_between_two_modules_is_reported_with_its_lines() {
        let krate = read(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::B;\npub struct A;\n"),
            (
                "b.rs",
                "pub struct B;\n\npub fn f() -> crate::a::A { crate::a::A }\n",
            ),
        ]);
        assert_eq!(edges(&krate, &[]), ["a -> b", "b -> a"]);
        assert_eq!(found_cycles(&krate), ["a -> b -> a"]);
        let (text, _) = krate.report("k");
        assert!(text.contains("a -> b: src/a.rs:1 crate::b::B"), "{text}");
        assert!(
            text.contains("b -> a: src/b.rs:3 crate::a::A (and 1 more)"),
            "{text}"
        );
    }

    #[test]
    fn an_acyclic_graph_passes() {
        let krate = read(&[
            ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
            ("a.rs", "use crate::{b::B, c};\nfn f() { c::g(); }\n"),
            ("b.rs", "pub struct B(crate::c::C);\n"),
            ("c.rs", "pub struct C;\npub fn g() {}\n"),
        ]);
        assert_eq!(edges(&krate, &[]), ["a -> b", "a -> c", "b -> c"]);
        assert!(found_cycles(&krate).is_empty());
    }

    #[test]
    fn a_longer_cycle_is_found_whole() {
        let krate = read(&[
            ("lib.rs", "mod a; mod b; mod c; mod d;"),
            ("a.rs", "use crate::b::B;"),
            ("b.rs", "use crate::c::C;"),
            ("c.rs", "use crate::a::A; use crate::d::D;"),
            ("d.rs", ""),
        ]);
        assert_eq!(edges(&krate, &[]), ["a -> b", "b -> c", "c -> a", "c -> d"]);
        assert_eq!(found_cycles(&krate), ["a -> b -> c -> a"]);
    }

    #[test]
    fn crate_root_reexports_resolve_to_the_defining_module() {
        let krate = read(&[
            (
                "lib.rs",
                "mod error;\nmod parser;\npub use error::Error;\n\
                 pub use parser::{Feed as Iter, Parser};\npub struct Config;\n",
            ),
            ("error.rs", "pub struct Error;\nfn f(_: crate::Iter) {}\n"),
            (
                "parser.rs",
                "use crate::{Config, Error};\npub struct Parser;\npub struct Feed;\n",
            ),
        ]);
        // `crate::Iter` is parser's Feed, `Error` is error's; `Config` is lib.rs's own: no edge.
        assert_eq!(edges(&krate, &[]), ["error -> parser", "parser -> error"]);
        assert_eq!(found_cycles(&krate), ["error -> parser -> error"]);
    }

    #[test]
    fn comments_literals_and_test_modules_are_not_references() {
        let krate = read(&[
            (
                "lib.rs",
                "mod a;\nmod b;\nmod c;\n#[cfg(test)]\nmod testutil;\n",
            ),
            (
                "a.rs",
                r####"
//! See [`B`](crate::b::B).
// crate::b::B
/* crate::b /* nested */ crate::b */
/// [`x`](crate::b::X)
fn f<'a>(x: &'a str) -> char {
    let _ = ("crate::b", r#"crate::b "quoted" "#, b"crate::b", '\'', 'x', b'"');
    '"'
}
#[cfg(test)]
mod tests {
    use crate::b::B;
    fn t() { crate::b::f(); }
}
#[cfg(test)]
use crate::b::B;
fn later() {
    crate::c::g();
}
"####,
            ),
            ("b.rs", "use crate::a::f;"),
            ("c.rs", ""),
        ]);
        assert_eq!(edges(&krate, &[]), ["a -> c", "b -> a"]);
        assert!(found_cycles(&krate).is_empty());
    }

    #[test]
    fn a_file_that_is_test_code_is_skipped() {
        let krate = read(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "#![cfg(test)]\nuse crate::b::B;\n"),
            ("b.rs", "use crate::a::A;"),
        ]);
        assert_eq!(edges(&krate, &[]), ["b -> a"]);
    }

    #[test]
    fn submodules_of_a_directory_module_form_their_own_graph() {
        let krate = read(&[
            ("lib.rs", "mod stream;\nmod wasm;\n"),
            ("stream.rs", "fn f() { crate::wasm::fetch::run(); }\n"),
            (
                "wasm/mod.rs",
                "pub(crate) mod event_source;\npub(crate) mod fetch;\n\
                 pub(crate) use fetch::Run;\npub(crate) struct Timer;\n",
            ),
            (
                "wasm/fetch.rs",
                "use super::{Timer, event_source::Sub};\nuse crate::stream;\n",
            ),
            // `super::Run` is fetch's, re-exported by wasm/mod.rs.
            (
                "wasm/event_source.rs",
                "use super::Run;\nuse super::super::stream::S;\n",
            ),
        ]);
        assert_eq!(edges(&krate, &[]), ["stream -> wasm", "wasm -> stream"]);
        assert_eq!(
            edges(&krate, &["wasm"]),
            ["event_source -> fetch", "fetch -> event_source"]
        );
        assert_eq!(
            found_cycles(&krate),
            [
                "stream -> wasm -> stream",
                "in wasm: event_source -> fetch -> event_source"
            ]
        );
    }

    #[test]
    fn a_missing_module_file_is_an_error() {
        let error = try_read("src/lib.rs", &[("lib.rs", "mod gone;")]).unwrap_err();
        assert!(error.contains("mod gone"), "{error}");
        assert!(error.contains("src/gone.rs is missing"), "{error}");
    }

    fn owned(files: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        files.iter().map(|(p, t)| ((*p).to_owned(), *t)).collect()
    }

    #[test]
    fn a_binary_finds_modules_in_folders_the_way_rustc_does() {
        // main.rs owns src/; a.rs's children live in src/a/; c/mod.rs owns src/c/.
        let files = owned(&[
            ("src/main.rs", "mod a;\nmod c;\nfn main() {}\n"),
            ("src/a.rs", "mod b;\nmod e;\n"),
            ("src/a/b.rs", "use super::e::E;\n"),
            ("src/a/e.rs", "pub struct E(crate::c::d::D);\n"),
            ("src/c/mod.rs", "pub mod d;\n"),
            ("src/c/d.rs", "pub struct D;\n"),
        ]);
        let krate = read_paths("src/main.rs", &files).expect("the crate reads");
        assert_eq!(edges(&krate, &[]), ["a -> c"]);
        assert_eq!(edges(&krate, &["a"]), ["b -> e"]);
    }

    #[test]
    fn a_path_attribute_names_a_file_from_the_declaring_files_directory() {
        // The layout of a test target that shares a support module with another one.
        let files = owned(&[
            (
                "tests/deploy/main.rs",
                "#[path = \"../server/support.rs\"]\nmod support;\nmod cluster;\n",
            ),
            ("tests/deploy/cluster.rs", "use crate::support::spawn;\n"),
            ("tests/server/support.rs", "mod net;\npub fn spawn() {}\n"),
            // The #[path] file owns its directory: its `mod net;` is a sibling file.
            ("tests/server/net.rs", "use crate::cluster::C;\n"),
        ]);
        let krate = read_paths("tests/deploy/main.rs", &files).expect("the crate reads");
        assert_eq!(
            edges(&krate, &[]),
            ["cluster -> support", "support -> cluster"]
        );
        let (text, found) = krate.report("k");
        assert_eq!(found, ["cluster -> support -> cluster"]);
        assert!(
            text.contains("support -> cluster: tests/server/net.rs:1 crate::cluster::C"),
            "{text}"
        );
    }

    #[test]
    fn modules_under_any_cfg_but_test_are_in_the_graph() {
        let krate = read(&[
            (
                "lib.rs",
                "#[cfg(feature = \"fetch\")]\nmod a;\n\
                 #[cfg(target_arch = \"wasm32\")]\n#[allow(dead_code)]\npub(crate) mod b;\n",
            ),
            ("a.rs", "use crate::b::B;"),
            ("b.rs", "use crate::a::A;"),
        ]);
        assert_eq!(found_cycles(&krate), ["a -> b -> a"]);
    }

    #[test]
    fn what_the_check_cannot_follow_is_an_error() {
        let inline = try_read(
            "src/lib.rs",
            &[("lib.rs", "mod outer {\n    mod inner;\n}\n")],
        );
        let error = inline.unwrap_err();
        assert!(
            error.starts_with("src/lib.rs:2: a file module declared inside"),
            "{error}"
        );
        let cfg_attr = try_read(
            "src/lib.rs",
            &[("lib.rs", "#[cfg_attr(unix, path = \"u.rs\")]\nmod a;\n")],
        );
        let error = cfg_attr.unwrap_err();
        assert!(error.contains("cfg_attr(.., path = ..)"), "{error}");
        let missing = try_read("src/lib.rs", &[("lib.rs", "#[path = \"gone.rs\"] mod a;")]);
        let error = missing.unwrap_err();
        assert!(
            error.contains("src/gone.rs (#[path]), which is missing"),
            "{error}"
        );
    }

    #[test]
    fn paths_climb_out_of_directories() {
        assert_eq!(
            normalize("tests/deploy/../server/support.rs"),
            "tests/server/support.rs"
        );
        assert_eq!(normalize("./src/./a.rs"), "src/a.rs");
        assert_eq!(normalize("../x.rs"), "../x.rs");
        assert_eq!(normalize("/w/a/../b.rs"), "/w/b.rs");
    }

    #[test]
    fn every_target_of_every_member_is_checked_library_first() {
        let metadata = r#"{
            "workspace_members": ["a-id", "b-id"],
            "packages": [
                {"id": "b-id", "name": "b", "targets": [
                    {"kind": ["bin"], "name": "b", "src_path": "/w/b/src/main.rs"},
                    {"kind": ["cdylib", "rlib"], "name": "b", "src_path": "/w/b/src/lib.rs"}
                ]},
                {"id": "a-id", "name": "a", "targets": [
                    {"kind": ["lib"], "name": "a", "src_path": "/w/crates/a/src/lib.rs"},
                    {"kind": ["test"], "name": "deploy", "src_path": "/w/crates/a/tests/deploy/main.rs"},
                    {"kind": ["custom-build"], "name": "build-script-build", "src_path": "/w/crates/a/build.rs"}
                ]}
            ]
        }"#;
        let got: Vec<(String, String)> = targets(Path::new("/w"), metadata)
            .expect("targets")
            .into_iter()
            .map(|t| (t.label, t.root_file))
            .collect();
        let want = [
            ("a (lib)", "crates/a/src/lib.rs"),
            ("a (test deploy)", "crates/a/tests/deploy/main.rs"),
            ("a (build script)", "crates/a/build.rs"),
            ("b (lib)", "b/src/lib.rs"),
            ("b (bin b)", "b/src/main.rs"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(l, f)| ((*l).to_owned(), (*f).to_owned()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn use_trees_bind_the_names_they_import() {
        let toks = lex("use crate::{a::{self, B as C}, d::*, e};");
        let parsed = parse(&toks);
        let got: Vec<(String, Option<String>)> = parsed
            .uses
            .into_iter()
            .map(|(path, bound, ..)| (path.join("::"), bound))
            .collect();
        let want = [
            ("crate::a", Some("a")),
            ("crate::a::B", Some("C")),
            ("crate::d", None),
            ("crate::e", Some("e")),
        ];
        let want: Vec<(String, Option<String>)> = want
            .iter()
            .map(|(p, b)| ((*p).to_owned(), b.map(str::to_owned)))
            .collect();
        assert_eq!(got, want);
    }
}
