//! The real `deskprov` binary as a child process: one-shot commands, and a server whose stderr
//! is collected line by line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

/// The binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_deskprov");

/// A `deskprov` command in `dir`, with no `DESKPROV_*` variable inherited and `RUST_LOG=info`.
pub fn command(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args).env("RUST_LOG", "info");
    for (name, _) in std::env::vars() {
        if name.starts_with("DESKPROV_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(envs.iter().copied());
    cmd
}

/// Runs `deskprov args…` in `dir` to completion.
pub fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    command(dir, args, envs)
        .stdin(Stdio::null())
        .output()
        .expect("the deskprov binary runs")
}

/// Stdout of a finished command, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr of a finished command, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `deskprov token create --role admin --db <db>` and returns the token.
pub fn admin_token(dir: &Path, db: &Path) -> String {
    let out = run(
        dir,
        &[
            "token",
            "create",
            "--role",
            "admin",
            "--db",
            db.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().last().unwrap().trim().to_owned()
}

/// A running `deskprov serve`.
pub struct ServerProcess {
    pub child: Child,
    pub phone: SocketAddr,
    pub admin: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `deskprov serve <args>` in `dir` and waits until it logs where it serves.
    pub fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        Self::spawn(command(dir, &all, envs))
    }

    /// [`ServerProcess::on_db_with`], run under a limit of `nofile` open files (`ulimit -n`).
    pub fn on_db_limited(dir: &Path, db: &Path, envs: &[(&str, &str)], nofile: u32) -> Self {
        let script = format!("ulimit -n {nofile} && exec \"$0\" \"$@\"");
        let args = [
            "-c",
            &script,
            BIN,
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--phone-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ];
        let mut sh = Command::new("sh");
        sh.current_dir(dir).args(args).env("RUST_LOG", "info");
        for (name, _) in std::env::vars() {
            if name.starts_with("DESKPROV_") {
                sh.env_remove(name);
            }
        }
        sh.envs(envs.iter().copied());
        Self::spawn(sh)
    }

    /// Runs `cmd` (a `deskprov serve`) and waits until it logs where it serves.
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("deskprov serve starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (ready, serving) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("deskprov is serving") {
                    let _ = ready.send(line.clone());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let line = match serving.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "deskprov serve did not start; stderr:\n{}",
                    lines.lock().unwrap().join("\n")
                )
            }
        };
        Self {
            phone: addr_in(&line, "phone"),
            admin: addr_in(&line, "admin"),
            child,
            lines,
        }
    }

    /// Starts a server on `db` on loopback ports the OS picks, logging JSON.
    pub fn on_db(dir: &Path, db: &Path) -> Self {
        Self::on_db_with(dir, db, &[])
    }

    /// [`ServerProcess::on_db`] with extra environment variables.
    pub fn on_db_with(dir: &Path, db: &Path, envs: &[(&str, &str)]) -> Self {
        let db = db.to_str().unwrap();
        let args = [
            "--db",
            db,
            "--phone-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ];
        Self::start(dir, &args, envs)
    }

    /// The users of `testsite.com`, through the API.
    pub async fn users(&self, token: &str) -> Vec<Value> {
        let body: Value = reqwest::Client::new()
            .get(format!(
                "http://{}/api/v1/tenants/testsite.com/users",
                self.admin
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["users"].as_array().unwrap().clone()
    }

    /// The stderr lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The stderr lines so far, each parsed as JSON (panics on a line that is not).
    pub fn json_lines(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a graceful exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `name=ADDR` (text) or `"name":"ADDR"` (JSON) address in a log line.
fn addr_in(line: &str, name: &str) -> SocketAddr {
    if let Ok(json) = serde_json::from_str::<Value>(line) {
        return json[name].as_str().unwrap().parse().unwrap();
    }
    let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
    line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
