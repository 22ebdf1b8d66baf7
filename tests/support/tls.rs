//! TLS for the tests: a throwaway CA (rcgen) whose leaves the server is given, and clients
//! (tokio-rustls) that trust only the CAs they are told to, so a test sees which
//! certificate a connection got.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use fastwebsockets::{WebSocket, handshake};
use http_body_util::Empty;
use hyper::Request;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost: (chain PEM, key PEM).
    pub fn leaf(&self) -> (String, String) {
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ticksync-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a fresh leaf of `ca` as `cert.pem` and `key.pem` in `dir` (each replaced whole, by
/// rename, as a certificate tool would) and returns their paths.
pub fn write_leaf(ca: &TestCa, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = ca.leaf();
    let write = |name: &str, text: &str| {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        let path = dir.join(name);
        std::fs::rename(&tmp, &path).unwrap();
        path
    };
    (write("cert.pem", &cert), write("key.pem", &key))
}

/// A client that trusts `cas` and nothing else.
pub fn client_config(cas: &[&TestCa]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add(ca.cert.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A resumed session skips the certificate: each connection here must see the current one.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// A TLS connection to `addr` (from `source`, if given: loopback has all of 127/8).
pub async fn tls_connect(
    addr: SocketAddr,
    source: Option<IpAddr>,
    config: &Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = connect_from(addr, source).await?;
    let name = ServerName::IpAddress(addr.ip().into());
    TlsConnector::from(config.clone()).connect(name, tcp).await
}

/// A TCP connection to `addr`, from `source` if given.
pub async fn connect_from(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    socket.connect(addr).await
}

/// The leaf certificate a TLS connection was given.
pub fn peer_leaf(s: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref()
        .1
        .peer_certificates()
        .expect("a server certificate")[0]
        .clone()
}

/// `GET path` over TLS; the status and body.
pub async fn https_get(
    addr: SocketAddr,
    path: &str,
    config: &Arc<rustls::ClientConfig>,
) -> std::io::Result<(u16, String)> {
    let mut s = tls_connect(addr, None, config).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    // A peer may end TLS without close_notify after `Connection: close`: keep what came.
    let _ = s.read_to_end(&mut buf).await;
    Ok(super::status_and_body(&buf))
}

/// A WebSocket over `stream` (plain or TLS) to `/ws` at `host`; `Err` with the reason if the
/// upgrade failed.
pub async fn websocket<S>(
    stream: S,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocket<TokioIo<Upgraded>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut req = Request::builder()
        .method("GET")
        .uri(format!("http://{host}{path}"))
        .header("Host", host)
        .header("Upgrade", "websocket")
        .header("Connection", "upgrade")
        .header("Sec-WebSocket-Key", handshake::generate_key())
        .header("Sec-WebSocket-Version", "13");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Empty::<Bytes>::new()).unwrap();
    let (ws, _) = handshake::client(&TokioExecutor::new(), req, stream)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Opens a WebSocket over `stream` to `path` (with `X-Forwarded-For: xff` if given) and
/// returns the HTTP status: 101 when it opened. An opened one stays open (read in a task)
/// while the test's runtime lives, so it keeps counting against the limits.
pub async fn upgrade_status<S>(stream: S, host: &str, path: &str, xff: Option<&str>) -> u16
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let headers: Vec<(&str, &str)> = xff.map(|v| ("X-Forwarded-For", v)).into_iter().collect();
    match websocket(stream, host, path, &headers).await {
        Ok(mut ws) => {
            tokio::spawn(async move { while ws.read_frame().await.is_ok() {} });
            101
        }
        Err(e) => e
            .split_whitespace()
            .find_map(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no status in {e:?}")),
    }
}
