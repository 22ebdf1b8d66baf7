//! A real `redis-server` as a child process on a free loopback port, with no persistence.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct RedisProcess {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl RedisProcess {
    pub async fn start() -> RedisProcess {
        Self::start_on(super::free_port()).await
    }

    /// On `port` (a restart on the port it had: empty, since nothing is persisted).
    pub async fn start_on(port: u16) -> RedisProcess {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts (./scripts/test.sh installs it)");
        super::bounded("redis-server accepts connections", async {
            while tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        RedisProcess {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            port,
        }
    }

    /// SIGKILL, and wait until it is gone (its data with it).
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill -9 redis-server");
    }
}
