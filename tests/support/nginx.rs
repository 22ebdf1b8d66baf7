//! Real nginx (Debian's package; `./scripts/test.sh` installs it) as a child process on a free
//! loopback port, running a site configuration from `deploy/nginx/`.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::tls::TempDir;

pub const NGINX: &str = "/usr/sbin/nginx";

pub struct NginxProcess {
    _child: Child,
    pub addr: SocketAddr,
    /// Its prefix: configuration, pid, logs and temp files.
    pub dir: TempDir,
}

impl NginxProcess {
    /// Runs `site` (an `http {}`-level configuration that listens on `port`) in nginx's own
    /// prefix directory, in the foreground.
    pub async fn start(site: &str, port: u16) -> NginxProcess {
        let dir = TempDir::new("nginx");
        let p = dir.0.display();
        let main = format!(
            // One process: killed with the test (a master's workers would outlive it).
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\n\
             error_log {p}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  \
             uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  include {p}/site.conf;\n}}\n"
        );
        std::fs::write(dir.path("nginx.conf"), main).unwrap();
        std::fs::write(dir.path("site.conf"), site).unwrap();
        let child = Command::new(NGINX)
            // Its own error log from the start (the packaged one is root's).
            .arg("-e")
            .arg(dir.path("error.log"))
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(dir.path("nginx.conf"))
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx starts (./scripts/test.sh installs nginx-light)");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        super::bounded("nginx accepts connections", async {
            while tokio::net::TcpStream::connect(addr).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        NginxProcess {
            _child: child,
            addr,
            dir,
        }
    }
}
