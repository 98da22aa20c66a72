//! The real `vidgate` binary as a child process, for tests of the command line and of crashes.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_vidgate");

/// A free local port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `vidgate args…` to completion with `data_dir` as its data directory.
pub fn vidgate(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("VIDGATE_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("VIDGATE_BOOTSTRAP_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run vidgate")
}

pub struct Server {
    child: Child,
    is_emulator: bool,
    pub base: String,
    /// Lines the server printed on stdout.
    stdout: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `vidgate serve` and waits until `/healthz` answers.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Self::spawn(&["serve"], data_dir, env, None)
    }

    /// Starts `vidgate serve` with its log (stderr) written to `log`.
    pub fn start_logged(data_dir: &Path, env: &[(&str, &str)], log: &Path) -> Server {
        Self::spawn(&["serve"], data_dir, env, Some(log))
    }

    /// Starts `vidgate serve` over HTTPS with this certificate and key.
    pub fn start_tls(data_dir: &Path, env: &[(&str, &str)], cert: &Path, key: &Path) -> Server {
        let (cert, key) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
        Self::spawn(&["serve", "--tls-cert", &cert, "--tls-key", &key], data_dir, env, None)
    }

    /// Starts `vidgate emulate tencent-vod` with `config`.
    pub fn emulator(data_dir: &Path, config: &Path) -> Server {
        let config = config.to_string_lossy().into_owned();
        Self::spawn(
            &["emulate", "tencent-vod", "--config", &config, "--data-dir"],
            data_dir,
            &[],
            None,
        )
    }

    fn spawn(args: &[&str], data_dir: &Path, env: &[(&str, &str)], log: Option<&Path>) -> Server {
        let port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        if args[0] == "emulate" {
            cmd.arg(data_dir);
        }
        cmd.args(["--listen", &format!("127.0.0.1:{port}")])
            .env("VIDGATE_DATA_DIR", data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("TENCENTCLOUD_SECRET_ID")
            .env_remove("TENCENTCLOUD_SECRET_KEY")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::inherit(),
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start vidgate serve");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let tls = args.contains(&"--tls-cert");
        let scheme = if tls { "https" } else { "http" };
        let server = Server {
            child,
            // Neither the emulator nor a TLS listener answers the plain-HTTP readiness probe.
            is_emulator: args[0] == "emulate" || tls,
            base: format!("{scheme}://127.0.0.1:{port}"),
            stdout: rx,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        if self.is_emulator {
            return self.wait_port();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(self.base.trim_start_matches("http://"))
            {
                use std::io::{Read, Write};
                let _ =
                    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("vidgate serve did not become ready");
    }

    fn wait_port(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let addr = self.base.split("://").nth(1).unwrap_or_default();
            if std::net::TcpStream::connect(addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the emulator did not start listening");
    }

    /// The next stdout line, waiting up to 10 s.
    pub fn stdout_line(&self) -> Option<String> {
        self.stdout.recv_timeout(Duration::from_secs(10)).ok()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().expect("wait for vidgate")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
