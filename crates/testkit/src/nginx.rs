//! A real nginx serving one directory on a free port (of loopback, or of a
//! given local address), for tests.
//!
//! Each instance has its own temp prefix (config, logs, temp paths, pid), runs
//! in the foreground as a single process (`master_process off`, so it never
//! switches user and can read a 0700 temp dir), and is killed on `Drop`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the nginx binary is; `TARMAC_NGINX` overrides it.
fn nginx_binary() -> PathBuf {
    std::env::var_os("TARMAC_NGINX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

/// A running nginx; stopped when dropped.
pub struct Nginx {
    child: Child,
    addrs: Vec<SocketAddr>,
    scheme: &'static str,
    prefix: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx serving `root` at `http://127.0.0.1:<port>/` and waits
    /// until it accepts connections. Panics (a test setup failure) with the
    /// error log if it does not come up.
    pub fn serve(root: &Path) -> Nginx {
        Nginx::serve_at(root, IpAddr::from([127, 0, 0, 1]))
    }

    /// Like [`Nginx::serve`], listening on `ip` (an address of this host,
    /// e.g. a bridge that network namespaces reach) on a free port.
    pub fn serve_at(root: &Path, ip: IpAddr) -> Nginx {
        Nginx::start(root, ip, 1, None)
    }

    /// Like [`Nginx::serve`] over HTTPS (`https://127.0.0.1:<port>/`) with
    /// the server certificate and key of `cert` (see [`crate::tls`]).
    pub fn serve_tls(root: &Path, cert: &crate::tls::ServerCert) -> Nginx {
        Nginx::start(root, IpAddr::from([127, 0, 0, 1]), 1, Some(cert))
    }

    /// Like [`Nginx::serve_at`], listening on `count` free ports of `ip`
    /// ([`Nginx::urls`]); each access log line ends with the port the
    /// request came in on, so clients sharing an address (proxies on one
    /// machine) can be told apart by the URL each was given.
    pub fn serve_on_ports(root: &Path, ip: IpAddr, count: usize) -> Nginx {
        Nginx::start(root, ip, count, None)
    }

    fn start(root: &Path, ip: IpAddr, count: usize, tls: Option<&crate::tls::ServerCert>) -> Nginx {
        let prefix = tempfile::tempdir().expect("nginx prefix");
        let addrs: Vec<SocketAddr> = (0..count.max(1))
            .map(|_| SocketAddr::new(ip, free_port_at(ip)))
            .collect();
        let conf = prefix.path().join("nginx.conf");
        let p = prefix.path().display();
        let ssl = match tls {
            Some(cert) => format!(
                " ssl;\n                 ssl_certificate {};\n                 ssl_certificate_key {}",
                cert.cert.display(),
                cert.key.display()
            ),
            None => String::new(),
        };
        let listens: String = addrs
            .iter()
            .map(|a| format!("listen {a}{ssl};\n"))
            .collect();
        // The combined format, plus the port when there are several.
        let format = if count > 1 {
            "log_format ports '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $server_port';\n"
        } else {
            ""
        };
        let log = if count > 1 { " ports" } else { "" };
        let text = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {p}/nginx.pid;\n\
             error_log {p}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               {format}\
               access_log {p}/access.log{log};\n\
               default_type application/octet-stream;\n\
               sendfile on;\n\
               client_body_temp_path {p}/client_body;\n\
               proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fastcgi;\n\
               uwsgi_temp_path {p}/uwsgi;\n\
               scgi_temp_path {p}/scgi;\n\
               server {{\n\
                 {listens}\
                 root {root};\n\
                 location / {{ }}\n\
               }}\n\
             }}\n",
            root = root.display(),
        );
        std::fs::File::create(&conf)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write nginx.conf");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(prefix.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(prefix.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx (is it installed at /usr/sbin/nginx?)");
        let mut nginx = Nginx {
            child,
            addrs,
            scheme: if tls.is_some() { "https" } else { "http" },
            prefix,
        };
        nginx.wait_ready();
        nginx
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited with {status}: {}", self.error_log());
            }
            if self
                .addrs
                .iter()
                .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(100)).is_ok())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nginx did not start listening on {:?}: {}",
            self.addrs,
            self.error_log()
        );
    }

    /// `http://<ip>:<port>` (`https://` for [`Nginx::serve_tls`]; no
    /// trailing slash).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addrs[0])
    }

    /// One URL per port ([`Nginx::serve_on_ports`]), in order.
    pub fn urls(&self) -> Vec<String> {
        self.addrs
            .iter()
            .map(|a| format!("{}://{a}", self.scheme))
            .collect()
    }

    /// The access log so far (one line per request), for asserting what
    /// was requested, e.g. Range requests.
    ///
    /// Read once it has stopped growing: nginx writes a request's line after
    /// the response's last byte is sent, so a client can exit before its line
    /// is in the log. A count taken right then would miss it, and a later
    /// count would see a request that seems new. Waits until three reads
    /// 50 ms apart agree (at most 2 s).
    pub fn access_log(&self) -> String {
        let read =
            || std::fs::read_to_string(self.prefix.path().join("access.log")).unwrap_or_default();
        let mut last = read();
        let mut agreeing = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while agreeing < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let now = read();
            if now == last {
                agreeing += 1;
            } else {
                agreeing = 0;
                last = now;
            }
        }
        last
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    free_port_at(IpAddr::from([127, 0, 0, 1]))
}

/// A port of `ip` that was free a moment ago.
pub fn free_port_at(ip: IpAddr) -> u16 {
    TcpListener::bind(SocketAddr::new(ip, 0))
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A URL on loopback where nothing listens: connections are refused at once
/// (a dead mirror).
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}
