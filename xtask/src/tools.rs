//! Prerequisites: found when present at the right version, installed when missing.
//!
//! Cargo-installed tools go to cargo's install root (`$CARGO_INSTALL_ROOT`, else `$CARGO_HOME`, else
//! `~/.cargo`) and are always run by absolute path, so a PATH without them still works. Versions are
//! pinned: `wasm-bindgen-cli` to the `wasm-bindgen` in Cargo.lock (the CLI and the crate must
//! match), `trunk` to 0.21.14 (0.22 needs a newer rustc than ours), `geckodriver` to 0.37.1, and
//! every install is `--locked`. Browsers come from apt (as root): `chromium chromium-driver`,
//! `firefox-esr`, and for WebKit `webkit2gtk-driver xvfb` (WebKitWebDriver, WebKitGTK's
//! MiniBrowser, and the X server it runs on).
//!
//! `wasm-opt` is binaryen's, from the npm package `binaryen` (pinned, [`BINARYEN_VERSION`]): a
//! build that runs on Node, installed by `npm` into `target/tools/` in seconds, where building
//! binaryen from source (`cargo install wasm-opt`) takes many minutes on two cores and Debian's
//! binaryen is too old for today's wasm. Trunk finds it on the children's PATH ([`Tools::child_env`])
//! and `Trunk.toml` pins its version, so Trunk never downloads one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::engines::Engine;
use crate::proc::{Cmd, find_on_path, find_program};

const TRUNK_VERSION: &str = "0.21.14";
const WASM_PACK_VERSION: &str = "0.15.1";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const GECKODRIVER_VERSION: &str = "0.37.1";
/// The npm `binaryen` package; its `wasm-opt --version` says `version 132`. `Trunk.toml`'s
/// `[tools] wasm_opt = "version_132"` must name the same one.
pub const BINARYEN_VERSION: &str = "132.0.0";
const TWIGGY_VERSION: &str = "0.8.0";
/// WebKitGTK's MiniBrowser as Debian/Ubuntu's `webkit2gtk-driver` installs it.
const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/// Which prerequisites a command needs.
#[derive(Clone, Copy, Debug)]
pub struct Need {
    wasm: bool,
    trunk: bool,
    wasm_pack: bool,
    browser: bool,
    firefox: bool,
    webkit: bool,
    fuzz: bool,
    wasm_opt: bool,
    twiggy: bool,
    services: bool,
}

impl Need {
    /// Everything `cargo xtask test` and `bench` use.
    pub fn all() -> Need {
        Need {
            wasm: true,
            trunk: true,
            wasm_pack: true,
            browser: true,
            firefox: false,
            webkit: false,
            fuzz: false,
            wasm_opt: true,
            twiggy: false,
            services: true,
        }
    }
    /// The same, plus the browsers and drivers of `engines` beyond Chromium.
    pub fn with_engines(self, engines: &[Engine]) -> Need {
        Need {
            firefox: self.firefox || engines.contains(&Engine::Firefox),
            webkit: self.webkit || engines.contains(&Engine::Webkit),
            ..self
        }
    }
    /// What building and serving the app needs.
    pub fn app() -> Need {
        Need {
            wasm: true,
            trunk: true,
            wasm_pack: false,
            browser: false,
            firefox: false,
            webkit: false,
            fuzz: false,
            wasm_opt: true,
            twiggy: false,
            services: false,
        }
    }
    /// The same, plus Redis and nginx (`cargo xtask demo --instances`, the native tests).
    pub fn with_services(self) -> Need {
        Need {
            services: true,
            ..self
        }
    }
    /// What the size bench needs: the app's tools, and twiggy when asked for a profile.
    pub fn size(twiggy: bool) -> Need {
        Need {
            twiggy,
            ..Need::app()
        }
    }
    /// What the parser benches need (no browser, no wasm).
    pub fn none() -> Need {
        Need {
            wasm: false,
            trunk: false,
            wasm_pack: false,
            browser: false,
            firefox: false,
            webkit: false,
            fuzz: false,
            wasm_opt: false,
            twiggy: false,
            services: false,
        }
    }
    /// Only the wasm32 target (the V8 bench builds with plain cargo and runs in Node).
    pub fn wasm_target() -> Need {
        Need {
            wasm: true,
            ..Need::none()
        }
    }
    /// What `cargo xtask fuzz` needs.
    pub fn fuzz() -> Need {
        Need {
            fuzz: true,
            ..Need::none()
        }
    }
}

/// Resolved absolute paths of the tools.
#[derive(Debug)]
pub struct Tools {
    pub bin_dir: PathBuf,
    pub rustup: PathBuf,
    pub trunk: PathBuf,
    pub wasm_pack: PathBuf,
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
    pub geckodriver: PathBuf,
    pub firefox: PathBuf,
    pub webkit_driver: PathBuf,
    pub minibrowser: PathBuf,
    pub xvfb: PathBuf,
    /// binaryen's `wasm-opt` (a Node script); its directory goes first on the children's PATH.
    pub wasm_opt: PathBuf,
    pub twiggy: PathBuf,
}

impl Tools {
    /// The wasm-bindgen CLI that `ensure` installed (the lockfile's version), or the one on `PATH`
    /// when it found that one already right.
    pub fn wasm_bindgen(&self) -> PathBuf {
        let cli = self.bin_dir.join("wasm-bindgen");
        if cli.is_file() {
            cli
        } else {
            PathBuf::from("wasm-bindgen")
        }
    }

    /// Checks each prerequisite, installing what is missing and saying so.
    pub fn ensure(root: &Path, need: Need) -> Result<Tools> {
        let bin_dir = install_root().join("bin");
        let mut tools = Tools {
            rustup: find_on_path("rustup").unwrap_or_else(|| bin_dir.join("rustup")),
            bin_dir,
            trunk: PathBuf::new(),
            wasm_pack: PathBuf::new(),
            chromedriver: PathBuf::new(),
            chromium: PathBuf::new(),
            geckodriver: PathBuf::new(),
            firefox: PathBuf::new(),
            webkit_driver: PathBuf::new(),
            minibrowser: PathBuf::new(),
            xvfb: PathBuf::new(),
            wasm_opt: PathBuf::new(),
            twiggy: PathBuf::new(),
        };
        if need.wasm {
            tools.ensure_wasm_target()?;
            let v = wasm_bindgen_version(root)?;
            tools.ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &v)?;
            if !tools.bin_dir.join("wasm-bindgen-test-runner").exists()
                && find_on_path("wasm-bindgen-test-runner").is_none()
            {
                return Err("wasm-bindgen-test-runner is missing next to wasm-bindgen".into());
            }
        }
        if need.trunk {
            tools.trunk = tools.ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION)?;
        }
        if need.wasm_opt {
            tools.wasm_opt = ensure_wasm_opt(root)?;
        }
        if need.twiggy {
            tools.twiggy = tools.ensure_cargo_tool("twiggy", "twiggy", TWIGGY_VERSION)?;
        }
        if need.wasm_pack {
            tools.wasm_pack =
                tools.ensure_cargo_tool("wasm-pack", "wasm-pack", WASM_PACK_VERSION)?;
        }
        if need.browser {
            tools.ensure_browser()?;
        }
        if need.firefox {
            tools.ensure_firefox()?;
        }
        if need.webkit {
            tools.ensure_webkit()?;
        }
        if need.services {
            ensure_services()?;
        }
        if need.fuzz {
            tools.ensure_fuzz()?;
        }
        Ok(tools)
    }

    /// Environment for children: binaryen's and our install root's bin directories first on PATH
    /// (Trunk and wasm-pack look for `wasm-bindgen` and `wasm-opt` there instead of downloading
    /// them), and the driver's location.
    pub fn child_env(&self) -> Vec<(OsString, OsString)> {
        let mut paths: Vec<PathBuf> = self
            .wasm_opt
            .parent()
            .map(Path::to_path_buf)
            .into_iter()
            .collect();
        paths.push(self.bin_dir.clone());
        if let Some(p) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&p));
        }
        let mut env = vec![(
            "PATH".into(),
            std::env::join_paths(paths).unwrap_or_default(),
        )];
        if !self.chromedriver.as_os_str().is_empty() {
            env.push(("CHROMEDRIVER".into(), self.chromedriver.clone().into()));
        }
        if !self.chromium.as_os_str().is_empty() {
            env.push(("CHROME_BIN".into(), self.chromium.clone().into()));
        }
        env
    }

    fn ensure_wasm_target(&self) -> Result {
        let installed = Cmd::new(&self.rustup)
            .args(["target", "list", "--installed"])
            .output("rustup target list")
            .unwrap_or_default();
        if installed.lines().any(|l| l.trim() == WASM_TARGET) || sysroot_has_wasm_target() {
            println!("    ok: rust target {WASM_TARGET}");
            return Ok(());
        }
        println!("    installing: rust target {WASM_TARGET} (rustup target add)");
        Cmd::new(&self.rustup)
            .args(["target", "add", WASM_TARGET])
            .run("rustup target add")
    }

    /// Finds `bin` at `version` on PATH or in the install root, else `cargo install --locked`s it.
    fn ensure_cargo_tool(&self, bin: &str, krate: &str, version: &str) -> Result<PathBuf> {
        let candidates = [self.bin_dir.join(bin)]
            .into_iter()
            .chain(find_on_path(bin))
            .collect::<Vec<_>>();
        for c in &candidates {
            if reports_version(c, version) {
                println!("    ok: {bin} {version} ({})", c.display());
                return Ok(c.clone());
            }
        }
        println!(
            "    installing: {krate} {version} (cargo install --locked; this takes a few minutes once)"
        );
        Cmd::new("cargo")
            .args(["install", "--locked", krate, "--version", version])
            .run(&format!("cargo install {krate}"))?;
        let installed = self.bin_dir.join(bin);
        if reports_version(&installed, version) {
            Ok(installed)
        } else {
            Err(format!(
                "installed {krate} {version} but {} does not report that version",
                installed.display()
            ))
        }
    }

    fn ensure_browser(&mut self) -> Result {
        let find = || {
            let chromium = [
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ]
            .iter()
            .find_map(|b| find_on_path(b));
            let driver = std::env::var_os("CHROMEDRIVER")
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .or_else(|| find_on_path("chromedriver"));
            (chromium, driver)
        };
        let (mut chromium, mut driver) = find();
        if chromium.is_none() || driver.is_none() {
            let apt = find_on_path("apt-get");
            if apt.is_some() && is_root() {
                println!("    installing: chromium chromium-driver (apt-get)");
                Cmd::new("apt-get")
                    .args(["update", "-qq"])
                    .run("apt-get update")?;
                Cmd::new("apt-get")
                    .args(["install", "-y", "-qq", "chromium", "chromium-driver"])
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .run("apt-get install chromium chromium-driver")?;
                (chromium, driver) = find();
            }
        }
        match (chromium, driver) {
            (Some(c), Some(d)) => {
                println!("    ok: {} and {}", c.display(), d.display());
                self.chromium = c;
                self.chromedriver = d;
                Ok(())
            }
            _ => Err("Chromium and ChromeDriver are needed for the browser tests; install them \
                      (Debian/Ubuntu: `sudo apt-get install chromium chromium-driver`) and run again"
                .into()),
        }
    }

    fn ensure_firefox(&mut self) -> Result {
        let find = || {
            std::env::var_os("FIREFOX")
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .or_else(|| {
                    ["firefox-esr", "firefox"]
                        .iter()
                        .find_map(|b| find_on_path(b))
                })
        };
        let mut firefox = find();
        if firefox.is_none() {
            apt_install(&["firefox-esr"])?;
            firefox = find();
        }
        self.firefox = firefox.ok_or(
            "Firefox is needed for the Firefox steps; install it (Debian: `sudo apt-get install \
             firefox-esr`), or leave firefox out of --browsers",
        )?;
        println!("    ok: {}", self.firefox.display());
        self.geckodriver =
            self.ensure_cargo_tool("geckodriver", "geckodriver", GECKODRIVER_VERSION)?;
        Ok(())
    }

    fn ensure_webkit(&mut self) -> Result {
        let find = || {
            let driver = find_on_path("WebKitWebDriver");
            let browser = Some(PathBuf::from(MINIBROWSER)).filter(|p| p.is_file());
            let xvfb = find_on_path("Xvfb");
            (driver, browser, xvfb)
        };
        let mut found = find();
        if found.0.is_none() || found.1.is_none() || found.2.is_none() {
            apt_install(&["webkit2gtk-driver", "xvfb"])?;
            found = find();
        }
        match found {
            (Some(d), Some(b), Some(x)) => {
                println!(
                    "    ok: {}, {} and {}",
                    d.display(),
                    b.display(),
                    x.display()
                );
                self.webkit_driver = d;
                self.minibrowser = b;
                self.xvfb = x;
                Ok(())
            }
            _ => Err(format!(
                "WebKitWebDriver, MiniBrowser ({MINIBROWSER}) and Xvfb are needed for the WebKit \
                 steps; install them (Debian: `sudo apt-get install webkit2gtk-driver xvfb`), or \
                 leave webkit out of --browsers"
            )),
        }
    }

    fn ensure_fuzz(&self) -> Result {
        let toolchains = Cmd::new(&self.rustup)
            .args(["toolchain", "list"])
            .output("rustup toolchain list")?;
        if !toolchains.lines().any(|l| l.starts_with("nightly")) {
            return Err(
                "cargo fuzz needs a nightly toolchain: `rustup toolchain install nightly`".into(),
            );
        }
        let has = Cmd::new(&self.rustup)
            .args(["run", "nightly", "cargo", "fuzz", "--version"])
            .envs(self.child_env())
            .output("cargo fuzz --version")
            .is_ok();
        if has {
            println!("    ok: cargo-fuzz");
            return Ok(());
        }
        println!("    installing: cargo-fuzz (cargo install --locked)");
        Cmd::new("cargo")
            .args(["install", "--locked", "cargo-fuzz"])
            .run("cargo install cargo-fuzz")
    }
}

/// `redis-server`, `nginx` and `openssl` for the deployment tests and the two-instance demo,
/// from apt when absent and we are root. Only the programs are used: the tests and the demo start
/// their own processes on loopback ports, never the packages' system services.
fn ensure_services() -> Result {
    let missing = || {
        ["redis-server", "nginx", "openssl"]
            .into_iter()
            .filter(|b| find_program(b).is_none())
            .collect::<Vec<_>>()
    };
    if missing().is_empty() {
        return Ok(());
    }
    println!("    redis-server and nginx are needed for the Redis and proxy tests");
    apt_install(&["redis-server", "nginx", "openssl"])?;
    let still = missing();
    if still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} missing; install them (Debian/Ubuntu: `sudo apt-get install redis-server nginx \
             openssl`) and run again",
            still.join(", ")
        ))
    }
}

/// Node.js and npm, from apt when absent and we are root; `why` says who needs them.
fn ensure_npm(why: &str) -> Result {
    if find_on_path("npm").is_none() || find_on_path("node").is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    if find_on_path("npm").is_none() || find_on_path("node").is_none() {
        return Err(format!(
            "{why}: install Node.js and npm (Debian/Ubuntu: `sudo apt-get install nodejs npm`) \
             and run again"
        ));
    }
    Ok(())
}

/// `npm ci` of the `package.json` and `package-lock.json` in `dir` (a bench's JS dependencies)
/// into `work`, unless `work` already holds that exact lockfile's install. Returns `work`.
pub fn npm_ci(dir: &Path, work: &Path) -> Result<PathBuf> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let lock = read(&dir.join("package-lock.json"))?;
    if work.join("node_modules/.package-lock.json").is_file()
        && read(&work.join("package-lock.json")).ok() == Some(lock)
    {
        println!("    ok: npm ci already done for {}", dir.display());
        return Ok(work.to_path_buf());
    }
    ensure_npm(&format!("{} needs npm packages", dir.display()))?;
    std::fs::create_dir_all(work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), work.join(file))
            .map_err(|e| format!("cannot copy {}/{file}: {e}", dir.display()))?;
    }
    Cmd::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(work)
        .run(&format!("npm ci ({})", dir.display()))?;
    Ok(work.to_path_buf())
}

/// binaryen's `wasm-opt` at [`BINARYEN_VERSION`] under `target/tools/`, `npm install`ed there
/// when missing (Node and npm come from apt when absent and we are root).
fn ensure_wasm_opt(root: &Path) -> Result<PathBuf> {
    let dir = crate::target_dir(root)
        .join("tools")
        .join(format!("binaryen-{BINARYEN_VERSION}"));
    let bin = dir.join("node_modules").join(".bin").join("wasm-opt");
    let major = BINARYEN_VERSION
        .split('.')
        .next()
        .unwrap_or(BINARYEN_VERSION);
    if reports_version(&bin, major) {
        println!("    ok: wasm-opt {major} ({})", bin.display());
        return Ok(bin);
    }
    ensure_npm("wasm-opt comes from the npm package binaryen")?;
    println!(
        "    installing: wasm-opt (npm binaryen@{BINARYEN_VERSION} into {})",
        dir.display()
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Cmd::new("npm")
        .args(["install", "--prefix"])
        .arg(&dir)
        .args(["--no-save", "--no-audit", "--no-fund", "--loglevel=error"])
        .arg(format!("binaryen@{BINARYEN_VERSION}"))
        .run("npm install binaryen")?;
    if reports_version(&bin, major) {
        Ok(bin)
    } else {
        Err(format!(
            "installed binaryen {BINARYEN_VERSION} but {} does not report version {major}",
            bin.display()
        ))
    }
}

/// `apt-get install -y PACKAGES` when we are root on a machine with apt; otherwise nothing (the
/// caller then says what is missing).
fn apt_install(packages: &[&str]) -> Result {
    if find_on_path("apt-get").is_none() || !is_root() {
        return Ok(());
    }
    let list = packages.join(" ");
    println!("    installing: {list} (apt-get)");
    Cmd::new("apt-get")
        .args(["update", "-qq"])
        .run("apt-get update")?;
    Cmd::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages.iter().copied())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run(&format!("apt-get install {list}"))
}

fn install_root() -> PathBuf {
    if let Some(r) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return PathBuf::from(r);
    }
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(h);
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo"))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

fn reports_version(bin: &Path, version: &str) -> bool {
    if !bin.is_file() {
        return false;
    }
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|w| w.trim_start_matches('v') == version)
        })
}

fn sysroot_has_wasm_target() -> bool {
    std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|s| s.join("lib/rustlib").join(WASM_TARGET).exists())
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The `wasm-bindgen` version in Cargo.lock: the CLI must be exactly this version.
pub fn wasm_bindgen_version(root: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() != "name = \"wasm-bindgen\"" {
            continue;
        }
        if let Some(v) = lines
            .next()
            .and_then(|v| v.trim().strip_prefix("version = \""))
            .and_then(|v| v.strip_suffix('"'))
        {
            return Ok(v.to_string());
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}
