//! The release profile that a bench's own workspace must mirror, so that what it measures is the
//! build an app ships. Shared by the benches that build wasm; depends on nothing else in xtask.

use std::path::Path;

use crate::Result;

/// The benches that build wasm must build it as an app ships: a bench workspace's
/// `[profile.release]` and `[profile.release.*]` sections must be the root Cargo.toml's lines.
/// Returns them.
pub fn check_mirrored(root: &Path, dir: &Path) -> Result<Vec<String>> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let ours = release_profile(&read(&root.join("Cargo.toml"))?);
    let bench = release_profile(&read(&dir.join("Cargo.toml"))?);
    if ours != bench {
        return Err(format!(
            "{}/Cargo.toml must mirror the root's release profile (the build an app ships): copy \
             the root's [profile.release*] sections there\n  root:  {ours:?}\n  bench: {bench:?}",
            dir.display()
        ));
    }
    Ok(ours)
}

/// The lines of a manifest's `[profile.release]` and `[profile.release.*]` sections, comments
/// and blank lines left out.
fn release_profile(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            inside = line == "[profile.release]" || line.starts_with("[profile.release.");
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
                        [profile.bench]\nopt-level = 3\n";
        assert_eq!(
            release_profile(manifest),
            [
                "[profile.release]",
                "opt-level = \"z\"",
                "lto = true",
                "[profile.release.package.websse-core]",
                "opt-level = 3"
            ]
        );
    }
}
