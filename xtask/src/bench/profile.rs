//! The release profile that a bench's own workspace must mirror, so that what it measures is the
//! build an app ships. Shared by the benches that build wasm; depends on nothing else in xtask.

use std::path::Path;

use crate::Result;

/// The benches that build wasm must build it as an app ships: a bench workspace's
/// `[profile.release]` and `[profile.release.*]` sections must be the root Cargo.toml's lines,
/// less the `[profile.release.package.X]` overrides for packages the bench does not build (its
/// Cargo.lock does not name them; cargo warns about an override that matches nothing). Returns
/// the bench's sections.
pub fn check_mirrored(root: &Path, dir: &Path) -> Result<Vec<String>> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let lock = read(&dir.join("Cargo.lock"))?;
    let ours = release_profile(&read(&root.join("Cargo.toml"))?, |package| {
        lock.lines()
            .any(|line| line.trim() == format!("name = \"{package}\""))
    });
    let bench = release_profile(&read(&dir.join("Cargo.toml"))?, |_| true);
    if ours != bench {
        return Err(format!(
            "{}/Cargo.toml must mirror the root's release profile (the build an app ships): copy \
             the root's [profile.release*] sections there, less the overrides of packages it \
             does not build\n  root:  {ours:?}\n  bench: {bench:?}",
            dir.display()
        ));
    }
    Ok(bench)
}

/// The lines of a manifest's `[profile.release]` and `[profile.release.*]` sections, comments
/// and blank lines left out, and the `[profile.release.package.X]` sections kept only where
/// `builds(X)`.
fn release_profile(manifest: &str, builds: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            inside = match line.strip_prefix("[profile.release.package.") {
                Some(rest) => builds(rest.trim_end_matches(']').trim_matches('"')),
                None => line == "[profile.release]" || line.starts_with("[profile.release."),
            };
        }
        if inside && !line.is_empty() {
            out.push(line.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::release_profile;

    #[test]
    fn release_profile_sections_without_comments() {
        let manifest = "[package]\nname = \"x\"\n\n[profile.release]\n# small\nopt-level = \"z\" # yes\n\
                        lto = true\n\n[profile.release.package.websse-core]\nopt-level = 3\n\n\
                        [profile.release.package.serde_json]\nopt-level = 3\n\n\
                        [profile.bench]\nopt-level = 3\n";
        assert_eq!(
            release_profile(manifest, |package| package == "websse-core"),
            [
                "[profile.release]",
                "opt-level = \"z\"",
                "lto = true",
                "[profile.release.package.websse-core]",
                "opt-level = 3"
            ]
        );
        assert_eq!(release_profile(manifest, |_| true).len(), 7);
    }
}
