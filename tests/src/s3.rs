//! [`S3Server`]: an S3-compatible server on loopback over TLS, for pgBackRest's `s3` repos.
//!
//! pgBackRest speaks only HTTPS to S3 and needs a clean TLS shutdown, which `moto_server`'s own
//! ad-hoc TLS does not give. So the server is two processes, each on its own free loopback
//! port, in a private temporary directory (`$TMPDIR/pitr-s3-<random>/`):
//!
//! | process | listens on | role |
//! |---|---|---|
//! | `moto_server` (from the repo's `.venv`, else `PATH`) | `127.0.0.1:<moto port>`, plain HTTP | the S3 API, in memory |
//! | `nginx` (`nginx.conf` in the directory) | `127.0.0.1:<port>`, HTTPS | terminates TLS, proxies to moto |
//!
//! The certificate is self-signed for `127.0.0.1` (subject alternative names `IP:127.0.0.1`,
//! `DNS:127.0.0.1` — pgBackRest 2.45 checks DNS names only — and `DNS:localhost`); repos can
//! verify it with [`S3Server::ca_file`] (`storage_ca_file`) or skip verification
//! (`storage_verify_tls: false`). Use path-style URIs (`s3_uri_style: path`). The access key and
//! secret are random per server; moto accepts any pair. [`S3Server::start`] creates the bucket
//! [`S3Server::bucket`].
//!
//! Everything is started with argv vectors, no shell. Missing prerequisites (`moto_server`,
//! `nginx`, `openssl`) are a panic that says to run `make setup`: tests never skip.
//!
//! [`S3Server::stop_endpoint`] / [`S3Server::start_endpoint`] stop and start nginx, so the
//! endpoint refuses connections (and comes back on the same port); [`S3Server::pause`] /
//! [`S3Server::resume`] freeze moto (`SIGSTOP`/`SIGCONT`), so connections are accepted but
//! requests hang. Dropping the server stops both processes and removes the directory, unless
//! `PITR_KEEP_TEST_DIRS` is set.
//!
//! ```no_run
//! use pitr_tests::S3Server;
//!
//! let s3 = S3Server::start();
//! // A `pgbackrest_repo` entry for a cluster spec, named `s3`:
//! let yaml = s3.repo_yaml("s3", "/pgbackrest");
//! assert!(yaml.contains("s3_uri_style: path"));
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::cluster::KEEP_DIRS_ENV;
use crate::tools::describe;

/// How often a process is started on another port when its port turns out to be taken.
const PORT_ATTEMPTS: usize = 5;

/// How long moto may take to answer its first request (importing moto is slow).
const MOTO_READY: Duration = Duration::from_secs(90);

/// How long nginx may take to accept connections, or to go away when stopped.
const NGINX_READY: Duration = Duration::from_secs(20);

/// An `Authorization` header moto takes as the default account's (it does not check
/// signatures): without one, moto treats a request as anonymous and refuses to read objects.
const UNSIGNED_AUTH: &str = "AWS4-HMAC-SHA256 \
    Credential=AKIAPITRHARNESS/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, \
    Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// The region repos use; moto accepts any.
pub const S3_REGION: &str = "us-east-1";

/// An S3-compatible server over TLS on loopback: `moto_server` behind `nginx`. See the module
/// docs.
#[derive(Debug)]
pub struct S3Server {
    root: PathBuf,
    /// `None` once the directory has been handed over (kept on disk).
    dir: Option<TempDir>,
    moto: Option<Child>,
    moto_port: u16,
    port: u16,
    bucket: String,
    key: String,
    secret: String,
    nginx_running: bool,
    paused: bool,
}

impl S3Server {
    /// Starts moto and nginx on free loopback ports and creates the bucket.
    ///
    /// # Panics
    ///
    /// When a prerequisite is missing (the message says to run `make setup`) or a process does
    /// not start; the message includes its log.
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("pitr-s3-")
            .tempdir_in(std::env::temp_dir())
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let root = dir.path().to_path_buf();
        // pgBackRest (as `postgres`) reads the CA file; nginx workers need to traverse it.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", root.display()));
        let token = random_hex(8);
        let mut server = S3Server {
            root,
            dir: Some(dir),
            moto: None,
            moto_port: 0,
            port: 0,
            bucket: "pitr-e2e".to_owned(),
            key: format!("AKIAPITR{}", token.to_ascii_uppercase()),
            secret: format!("s3-secret-{}", random_hex(16)),
            nginx_running: false,
            paused: false,
        };
        server.make_certificate();
        server.start_moto();
        server.start_nginx_on_free_port();
        let bucket = server.bucket.clone();
        server.create_bucket(&bucket);
        server
    }

    fn make_certificate(&self) {
        let openssl = which::which("openssl").unwrap_or_else(|_| {
            panic!("openssl not found on PATH; run `make setup` (installs openssl)")
        });
        let mut cmd = Command::new(openssl);
        cmd.args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
            .arg(self.path("s3.key"))
            .arg("-out")
            .arg(self.ca_file())
            .args([
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost",
            ])
            .stdin(Stdio::null());
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        fs::set_permissions(self.ca_file(), fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", self.ca_file().display()));
    }

    fn start_moto(&mut self) {
        let bin = moto_bin();
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let log_path = self.path("moto.log");
            let log = fs::File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
            let err = log
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot dup {}: {e}", log_path.display()));
            let mut cmd = Command::new(&bin);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(&self.root)
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(err));
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", describe(&cmd)));
            let deadline = Instant::now() + MOTO_READY;
            loop {
                if let Ok((200, _)) = http(port, "GET", "/") {
                    self.moto = Some(child);
                    self.moto_port = port;
                    return;
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    if log.contains("Address already in use") && attempt < PORT_ATTEMPTS {
                        break;
                    }
                    panic!(
                        "{} exited ({status}) before answering:\n{log}",
                        describe(&cmd)
                    );
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{} did not answer within {MOTO_READY:?}:\n{}",
                        describe(&cmd),
                        fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto_server found no free port in {PORT_ATTEMPTS} attempts");
    }

    fn nginx_conf(&self) -> String {
        let root = self.root.display();
        let mut conf = String::new();
        writeln!(
            conf,
            "# nginx terminating TLS for moto_server, written by pitr-tests\n\
             daemon on;\nworker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/nginx.err;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_max_body_size 0;\n\
             \x20 client_body_temp_path {root}/tmp/body;\n  proxy_temp_path {root}/tmp/proxy;\n\
             \x20 fastcgi_temp_path {root}/tmp/fastcgi;\n  uwsgi_temp_path {root}/tmp/uwsgi;\n\
             \x20 scgi_temp_path {root}/tmp/scgi;\n\
             \x20 server {{\n    listen 127.0.0.1:{port} ssl;\n\
             \x20   ssl_certificate {root}/s3.crt;\n    ssl_certificate_key {root}/s3.key;\n\
             \x20   location / {{\n      proxy_pass http://127.0.0.1:{moto};\n\
             \x20     proxy_set_header Host $http_host;\n      proxy_request_buffering off;\n\
             \x20     proxy_buffering off;\n      proxy_http_version 1.1;\n    }}\n  }}\n}}",
            port = self.port,
            moto = self.moto_port,
        )
        .expect("write to String");
        conf
    }

    fn nginx_command(&self) -> Command {
        let mut cmd = Command::new(nginx_bin());
        cmd.arg("-p")
            .arg(&self.root)
            .arg("-e")
            .arg(self.path("nginx.err"))
            .arg("-c")
            .arg(self.path("nginx.conf"))
            .current_dir(&self.root)
            .stdin(Stdio::null());
        cmd
    }

    /// Writes nginx.conf for `self.port` and starts nginx. Returns its stderr when it fails.
    fn try_start_nginx(&mut self) -> Result<(), String> {
        let tmp = self.path("tmp");
        fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("cannot create {}: {e}", tmp.display()));
        let conf = self.path("nginx.conf");
        fs::write(&conf, self.nginx_conf())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
        let mut cmd = self.nginx_command();
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)));
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}):\n{}\n{}",
                describe(&cmd),
                out.status,
                String::from_utf8_lossy(&out.stderr),
                fs::read_to_string(self.path("nginx.err")).unwrap_or_default()
            ));
        }
        self.nginx_running = true;
        let deadline = Instant::now() + NGINX_READY;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx does not accept connections on 127.0.0.1:{} after {NGINX_READY:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn start_nginx_on_free_port(&mut self) {
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port();
            match self.try_start_nginx() {
                Ok(()) => return,
                Err(e) if e.contains("Address already in use") => last = e,
                Err(e) => panic!("cannot start nginx in front of moto_server: {e}"),
            }
        }
        panic!("nginx found no free port in {PORT_ATTEMPTS} attempts:\n{last}");
    }

    /// Stops nginx: the endpoint refuses connections until [`S3Server::start_endpoint`]. Waits
    /// until the nginx processes are gone. A no-op when it is stopped already.
    ///
    /// # Panics
    ///
    /// When nginx cannot be stopped.
    pub fn stop_endpoint(&mut self) {
        if !self.nginx_running {
            return;
        }
        let pid = fs::read_to_string(self.path("nginx.pid"))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok());
        let mut cmd = self.nginx_command();
        cmd.args(["-s", "stop"]);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)));
        assert!(
            out.status.success(),
            "{} failed ({}): {}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        self.nginx_running = false;
        let deadline = Instant::now() + NGINX_READY;
        while pid.is_some_and(|p| kill(Pid::from_raw(p), None).is_ok())
            || TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        {
            assert!(
                Instant::now() < deadline,
                "nginx on port {} did not stop within {NGINX_READY:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts nginx again on the same port after [`S3Server::stop_endpoint`]. A no-op when it
    /// runs.
    ///
    /// # Panics
    ///
    /// When nginx does not start (e.g. something else took the port meanwhile).
    pub fn start_endpoint(&mut self) {
        if self.nginx_running {
            return;
        }
        let mut last = String::new();
        // The port was ours a moment ago; give lingering sockets a moment.
        for _ in 0..PORT_ATTEMPTS {
            match self.try_start_nginx() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("cannot start nginx again on port {}: {last}", self.port);
    }

    /// Freezes moto (`SIGSTOP`): the endpoint accepts connections but requests hang until
    /// [`S3Server::resume`].
    ///
    /// # Panics
    ///
    /// When the signal cannot be sent.
    pub fn pause(&mut self) {
        self.signal_moto(Signal::SIGSTOP);
        self.paused = true;
    }

    /// Lets moto run again after [`S3Server::pause`].
    ///
    /// # Panics
    ///
    /// When the signal cannot be sent.
    pub fn resume(&mut self) {
        self.signal_moto(Signal::SIGCONT);
        self.paused = false;
    }

    fn signal_moto(&self, signal: Signal) {
        let child = self.moto.as_ref().expect("moto_server runs");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
        kill(pid, signal).unwrap_or_else(|e| panic!("cannot send {signal} to moto_server: {e}"));
    }

    /// Creates a bucket (an unsigned `PUT /<name>` straight to moto).
    ///
    /// # Panics
    ///
    /// When moto does not answer 200.
    pub fn create_bucket(&self, name: &str) {
        let (status, body) = http(self.moto_port, "PUT", &format!("/{name}"))
            .unwrap_or_else(|e| panic!("cannot create bucket {name}: {e}"));
        assert_eq!(status, 200, "creating bucket {name}: HTTP {status}\n{body}");
    }

    /// The keys of the objects in the bucket whose key starts with `prefix` (no leading `/`),
    /// sorted.
    ///
    /// # Panics
    ///
    /// When moto does not answer 200.
    pub fn list_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/{}?list-type=2&prefix={}", self.bucket, url_encode(prefix));
            if let Some(t) = &token {
                write!(path, "&continuation-token={}", url_encode(t)).expect("write to String");
            }
            let (status, body) = http(self.moto_port, "GET", &path)
                .unwrap_or_else(|e| panic!("cannot list bucket {}: {e}", self.bucket));
            assert_eq!(status, 200, "listing {path}: HTTP {status}\n{body}");
            keys.extend(xml_values(&body, "Key"));
            token = xml_values(&body, "NextContinuationToken")
                .into_iter()
                .next();
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        keys
    }

    /// The content of an object, as stored (encrypted repos store ciphertext).
    ///
    /// # Panics
    ///
    /// When moto does not answer 200.
    pub fn get_object(&self, key: &str) -> Vec<u8> {
        let path = format!("/{}/{}", self.bucket, url_encode_path(key));
        let (status, body) = http_bytes(self.moto_port, "GET", &path, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("cannot get {key}: {e}"));
        assert_eq!(
            status,
            200,
            "getting {key}: HTTP {status}\n{}",
            String::from_utf8_lossy(&body)
        );
        body
    }

    /// Deletes an object.
    ///
    /// # Panics
    ///
    /// When moto does not answer 204 (or 200).
    pub fn delete_object(&self, key: &str) {
        let path = format!("/{}/{}", self.bucket, url_encode_path(key));
        let (status, body) = http(self.moto_port, "DELETE", &path)
            .unwrap_or_else(|e| panic!("cannot delete {key}: {e}"));
        assert!(
            status == 204 || status == 200,
            "deleting {key}: HTTP {status}\n{body}"
        );
    }

    /// A `pgbackrest_repo` entry for a cluster spec (YAML, indented for the mapping under
    /// `pgbackrest_repo:`): an `s3` repo named `name` on this server, in `path`, path-style,
    /// verifying TLS with [`S3Server::ca_file`]. Append more options indented by four spaces.
    pub fn repo_yaml(&self, name: &str, path: &str) -> String {
        format!(
            "  {name}:\n    type: s3\n    s3_endpoint: {endpoint}\n    storage_port: {port}\n\
             \x20   s3_bucket: {bucket}\n    s3_region: {S3_REGION}\n    s3_key: {key}\n\
             \x20   s3_key_secret: {secret}\n    s3_uri_style: path\n    storage_ca_file: {ca}\n\
             \x20   path: {path}\n",
            endpoint = self.endpoint(),
            port = self.port,
            bucket = self.bucket,
            key = self.key,
            secret = self.secret,
            ca = self.ca_file().display(),
        )
    }

    /// Whether the endpoint works: nginx accepts a connection and moto answers a request,
    /// both within `timeout`.
    pub fn answers_within(&self, timeout: Duration) -> bool {
        TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), timeout).is_ok()
            && matches!(
                http_bytes(self.moto_port, "GET", "/", timeout),
                Ok((200, _))
            )
    }

    /// The S3 endpoint host, `127.0.0.1`.
    pub fn endpoint(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The HTTPS port (nginx).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}:{}", self.endpoint(), self.port)
    }

    /// The plain-HTTP port of moto itself (no TLS; for the harness, not for pgBackRest).
    pub fn moto_port(&self) -> u16 {
        self.moto_port
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The self-signed certificate, to use as CA file (`storage_ca_file`).
    pub fn ca_file(&self) -> PathBuf {
        self.path("s3.crt")
    }

    /// The access key id.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The secret access key. Never print it: tests check that it appears nowhere.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The server's temporary directory (certificate, nginx.conf, logs).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Stops nginx and moto. Dropping the server does the same.
    pub fn stop(&mut self) {
        if self.nginx_running {
            // Never panic here: this also runs from Drop.
            let pid = fs::read_to_string(self.path("nginx.pid"))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            let mut cmd = self.nginx_command();
            cmd.args(["-s", "stop"]);
            match cmd.output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!(
                    "s3 server: {} failed: {}",
                    describe(&cmd),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("s3 server: cannot run {}: {e}", describe(&cmd)),
            }
            // Let it go before its directory does.
            let deadline = Instant::now() + NGINX_READY;
            while pid.is_some_and(|p| kill(Pid::from_raw(p), None).is_ok())
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            self.nginx_running = false;
        }
        if let Some(mut child) = self.moto.take() {
            if self.paused {
                let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
                let _ = kill(pid, Signal::SIGCONT);
                self.paused = false;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- s3 server ({}): moto.log tail ---", self.root.display());
            let log = fs::read_to_string(self.path("moto.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        if let Some(dir) = self.dir.take() {
            if std::env::var_os(KEEP_DIRS_ENV).is_some_and(|v| !v.is_empty()) {
                let kept = dir.keep();
                eprintln!(
                    "s3 server: kept {} ({KEEP_DIRS_ENV} is set)",
                    kept.display()
                );
            } else if let Err(e) = dir.close() {
                eprintln!("s3 server: cannot remove {}: {e}", self.root.display());
            }
        }
    }
}

/// `moto_server` of the repo's virtualenv (`<repo>/.venv/bin`), else the one on `PATH`.
fn moto_bin() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    which::which("moto_server").unwrap_or_else(|_| {
        panic!(
            "moto_server not found in {} nor on PATH; run `make setup` (installs moto[server] \
             into .venv)",
            venv.display()
        )
    })
}

/// `nginx` on `PATH`, else `/usr/sbin/nginx`.
fn nginx_bin() -> PathBuf {
    which::which("nginx")
        .ok()
        .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!("nginx not found on PATH nor at /usr/sbin/nginx; run `make setup` (installs nginx-light)")
        })
}

/// A loopback port nothing listens on right now (the kernel's choice).
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_or_else(
            |e| panic!("cannot find a free loopback port: {e}"),
            |a| a.port(),
        )
}

/// `n` random bytes from the kernel, as hex.
fn random_hex(n: usize) -> String {
    let mut bytes = vec![0_u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .unwrap_or_else(|e| panic!("cannot read /dev/urandom: {e}"));
    let mut hex = String::with_capacity(2 * n);
    for b in bytes {
        write!(hex, "{b:02x}").expect("write to String");
    }
    hex
}

/// One HTTP/1.1 request (not signed) to moto's plain port; the status and body as text.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_bytes(port, method, path, Duration::from_secs(30))
        .map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned()))
}

/// One HTTP/1.1 request (not signed) (`Connection: close`); the status and the raw body.
fn http_bytes(
    port: u16,
    method: &str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Authorization: {UNSIGNED_AUTH}\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let _ = stream.shutdown(Shutdown::Both);
    let bad = || std::io::Error::other("malformed HTTP response");
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut body = response[head_end + 4..].to_vec();
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        body = dechunk(&body).ok_or_else(bad)?;
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The text of every `<tag>…</tag>` in `xml`, unescaped.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| v))
        .map(|v| {
            v.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

/// Percent-encodes everything but unreserved characters (for query values).
fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            write!(out, "%{b:02X}").expect("write to String");
        }
    }
    out
}

/// Percent-encodes an object key for a path, keeping `/`.
fn url_encode_path(s: &str) -> String {
    s.split('/').map(url_encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::{dechunk, url_encode_path, xml_values};

    #[test]
    fn helpers_read_what_moto_sends() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"5\r\nab").is_none());
        assert_eq!(
            xml_values(
                "<L><Key>a/b</Key><Key>c&amp;d</Key><Next>x</Next></L>",
                "Key"
            ),
            ["a/b", "c&d"]
        );
        assert_eq!(url_encode_path("a b/c+d"), "a%20b/c%2Bd");
    }
}
