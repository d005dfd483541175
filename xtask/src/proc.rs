//! Child processes: commands that must succeed, test runners whose results are counted, the
//! websse-server that tests run against and the services it may need (each killed when its guard
//! drops), and finding the programs to start.
//!
//! Nothing here knows which tools xtask installs: callers pass the environment a child needs
//! (for instance `Tools::child_env`), so this module depends on nothing else in xtask.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::Result;

/// A command to run, with the name it is reported under.
pub struct Cmd {
    inner: Command,
    shown: String,
}

/// What a test runner reported in its `test result:` lines.
#[derive(Debug)]
pub struct TestOutcome {
    pub runs: u64,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub status: Result,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let program = program.as_ref();
        Cmd {
            inner: Command::new(program),
            shown: Path::new(program)
                .file_name()
                .unwrap_or(program)
                .to_string_lossy()
                .into_owned(),
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&a.as_ref().to_string_lossy());
        self.inner.arg(a);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.inner.env(k, v);
        self
    }

    pub fn envs(mut self, vars: Vec<(OsString, OsString)>) -> Self {
        self.inner.envs(vars);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.inner.current_dir(dir);
        self
    }

    /// Runs to completion with inherited stdio; a non-zero exit is an error naming `what`.
    pub fn run(mut self, what: &str) -> Result {
        println!("    $ {}", self.shown);
        let status = self
            .inner
            .status()
            .map_err(|e| format!("{what}: could not start `{}`: {e}", self.shown))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{what}: `{}` exited with {status}", self.shown))
        }
    }

    /// Runs to completion and returns its stdout (stderr inherited).
    pub fn output(mut self, what: &str) -> Result<String> {
        let out = self
            .inner
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("{what}: could not start `{}`: {e}", self.shown))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{what}: `{}` exited with {}",
                self.shown, out.status
            ))
        }
    }

    /// Runs a test runner: its stdout is echoed line by line and every libtest-style
    /// `test result: ok. N passed; M failed; K ignored` line is added up.
    pub fn run_counting(mut self, what: &str) -> Result<TestOutcome> {
        println!("    $ {}", self.shown);
        let mut child = self
            .inner
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{what}: could not start `{}`: {e}", self.shown))?;
        let mut outcome = TestOutcome {
            runs: 0,
            passed: 0,
            failed: 0,
            ignored: 0,
            status: Ok(()),
        };
        if let Some(out) = child.stdout.take() {
            let stdout = std::io::stdout();
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                {
                    let mut lock = stdout.lock();
                    let _ = writeln!(lock, "{line}");
                }
                if let Some(counts) = parse_test_result(&line) {
                    outcome.runs += 1;
                    outcome.passed += counts.0;
                    outcome.failed += counts.1;
                    outcome.ignored += counts.2;
                }
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("{what}: waiting for `{}`: {e}", self.shown))?;
        outcome.status = if status.success() {
            Ok(())
        } else {
            Err(format!("{what}: `{}` exited with {status}", self.shown))
        };
        Ok(outcome)
    }
}

/// Reads `test result: ok. 12 passed; 0 failed; 1 ignored; ...` into (passed, failed, ignored).
pub fn parse_test_result(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.trim().strip_prefix("test result:")?;
    let mut counts = (None, None, 0);
    for part in rest.split([';', '.']) {
        let mut words = part.split_whitespace();
        let (Some(n), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match label {
            "passed" => counts.0 = Some(n),
            "failed" => counts.1 = Some(n),
            "ignored" => counts.2 = n,
            _ => {}
        }
    }
    Some((counts.0?, counts.1?, counts.2))
}

/// A websse-server child process; dropping the guard kills it.
pub struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts the server binary with `env` added to its environment and waits (at most 60 s) for
    /// its `websse-server listening on http://ADDR` line.
    pub fn start(env: Vec<(OsString, OsString)>, bin: &PathBuf, args: &[&str]) -> Result<Server> {
        let mut child = Command::new(bin)
            .args(args)
            .envs(env)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout from websse-server")?;
        let (tx, rx) = mpsc::channel();
        // Keep draining the server's stdout so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("websse-server listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim().to_string());
                    }
                } else {
                    println!("    [server] {line}");
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => {
                server.url = url;
                Ok(server)
            }
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                Err(match status {
                    Some(s) => format!("websse-server exited ({s}) before it was listening"),
                    None => "websse-server did not say where it listens within 60 s".into(),
                })
            }
        }
    }

    /// Starts the server for tests: on a free loopback port, with the scriptable test endpoints,
    /// serving `static_dir` if given.
    pub fn start_test(
        env: Vec<(OsString, OsString)>,
        bin: &PathBuf,
        static_dir: Option<&Path>,
    ) -> Result<Server> {
        let dir = static_dir.map(|d| d.to_string_lossy().into_owned());
        let mut args = vec!["--test-endpoints", "--addr", "127.0.0.1:0"];
        if let Some(dir) = &dir {
            args.extend(["--static-dir", dir.as_str()]);
        }
        Server::start(env, bin, &args)
    }

    /// The base URL, e.g. `http://127.0.0.1:43121`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until the server exits (the demo: until Ctrl-C).
    pub fn wait(&mut self) -> Result {
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for websse-server: {e}"))?;
        // Ctrl-C reaches the whole process group; the server stops gracefully.
        if status.success() || status.code().is_none() {
            Ok(())
        } else {
            Err(format!("websse-server exited with {status}"))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// Waits (at most 10 s) until something accepts connections on the loopback `port`.
fn wait_for_port(port: u16, what: &str, child: &mut Child) -> Result {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before it was listening"));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{what} did not listen on 127.0.0.1:{port} within 10 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// A child process killed when the guard drops: redis-server or nginx.
pub struct Service {
    child: Child,
    pub port: u16,
    what: &'static str,
}

impl Service {
    /// `redis-server` on a free loopback port, nothing saved to disk.
    pub fn redis() -> Result<Service> {
        let bin = find_program("redis-server").ok_or("redis-server is missing")?;
        let port = free_port()?;
        println!("==> starting redis-server on 127.0.0.1:{port}");
        let mut child = Command::new(bin)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start redis-server: {e}"))?;
        wait_for_port(port, "redis-server", &mut child)?;
        Ok(Service {
            child,
            port,
            what: "redis-server",
        })
    }

    /// nginx in the foreground, one process, on `listen` (`127.0.0.1:8080`), proxying to
    /// `upstreams` round robin with the settings an event stream needs; its files in `dir`.
    pub fn nginx(dir: &Path, listen: &str, upstreams: &[String]) -> Result<Service> {
        let bin = find_program("nginx").ok_or("nginx is missing")?;
        let port: u16 = listen
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .ok_or_else(|| format!("{listen:?} is not HOST:PORT"))?;
        std::fs::create_dir_all(dir.join("tmp"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let d = dir.display();
        let servers: String = upstreams
            .iter()
            .map(|u| format!("    server {u};\n"))
            .collect();
        let conf = format!(
            "master_process off;\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n\
             proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fcgi;\n\
             uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
             upstream websse {{\n{servers}  }}\n  server {{\n    listen {listen};\n\
             location / {{\n      proxy_pass http://websse;\n      proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\";\n      proxy_read_timeout 1h;\n    }}\n  }}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("==> starting nginx on {listen} (config {})", path.display());
        let mut child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start nginx: {e}"))?;
        wait_for_port(port, "nginx", &mut child)?;
        Ok(Service {
            child,
            port,
            what: "nginx",
        })
    }

    /// `redis://127.0.0.1:PORT`, for redis-server.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            println!("==> stopping {}", self.what);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A program on `PATH` or in the sbin directories (nginx installs to /usr/sbin, which a
/// non-root PATH may lack).
pub fn find_program(bin: &str) -> Option<PathBuf> {
    find_on_path(bin).or_else(|| {
        ["/usr/sbin", "/usr/local/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(bin))
            .find(|p| p.is_file())
    })
}

/// A program in one of the directories of `PATH`.
pub fn find_on_path(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::{Service, find_program, free_port, parse_test_result};

    #[test]
    fn demo_nginx_config_is_accepted_and_listens() {
        if find_program("nginx").is_none() {
            eprintln!("skipped: nginx is not installed (cargo xtask test installs it)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-nginx-{}", std::process::id()));
        let port = free_port().expect("port");
        let nginx = Service::nginx(&dir, &format!("127.0.0.1:{port}"), &["127.0.0.1:9".into()])
            .expect("nginx starts with the demo config");
        assert_eq!(nginx.port, port);
        drop(nginx);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_libtest_closing_lines() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0, 1))
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
            Some((3, 2, 0))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
        assert_eq!(parse_test_result("test result: garbage"), None);
    }
}
