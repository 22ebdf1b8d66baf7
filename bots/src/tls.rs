//! TLS for `wss://` nodes and an `https://` matchmaker, all of it here: which CAs a bot trusts,
//! and the TLS layer of a connection over the same TCP socket a plain one uses.
//!
//! The client configuration is built once per process and shared by every connection (an
//! `Arc`): hundreds of bots would otherwise each parse the trust store and keep a copy.
//! `--ca-cert FILE` trusts exactly the CAs in that PEM file (a test cluster's own CA);
//! without it, the public web's CAs (webpki-roots). The crypto is rustls' `ring` provider,
//! which builds with just a C compiler.
//!
//! The handshakes (TLS, then fastwebsockets' HTTP upgrade through hyper) run over `MaybeTls`,
//! an `AsyncRead + AsyncWrite` stream. After the upgrade a bot's `Client` polls its socket
//! itself, without tasks of its own (readiness, then reads and writes that never wait: see
//! `client::wire`), so `TlsSocket` gives it the same over rustls' buffers: TLS costs a bot
//! its crypto, and no task or wake-up more than plain TCP.

use std::io::{self, Read, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::tcp::{READ_CHUNK, read_available};
use crate::url::authority;

/// rustls, re-exported: callers can name [`ClientConfig`] (to pass one in `ConnectOptions::tls`
/// or `LoadConfig::tls`) without a dependency of their own.
pub use rustls;

/// The configuration that trusts the CA certificates in the PEM file `ca_cert` (only those),
/// or with `None` the public web's CAs (the process-wide [`default_config`]). The error names
/// the file and says what is wrong with it.
pub fn client_config(ca_cert: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let Some(path) = ca_cert else {
        return Ok(default_config());
    };
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("CA certificate file {shown}: {e}"))?;
    config_from_pem(&pem).map_err(|e| format!("CA certificate file {shown}: {e}"))
}

/// The configuration that trusts exactly the CA certificates in `pem` (PEM text with one or more
/// `CERTIFICATE` sections; other sections, such as keys, are ignored): for a test's own CA.
pub fn config_from_pem(pem: &[u8]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| format!("not PEM certificates ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("certificate {} is not usable as a CA: {e}", i + 1))?;
    }
    if roots.is_empty() {
        return Err("no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)".to_owned());
    }
    Ok(Arc::new(build(roots)))
}

/// Trusts the public web's CAs (webpki-roots, compiled in). Built on first use, then shared by
/// every connection of the process.
pub fn default_config() -> Arc<ClientConfig> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            Arc::new(build(roots))
        })
        .clone()
}

fn build(roots: RootCertStore) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // What the WebSocket upgrade speaks; a server that negotiates ALPN then knows it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Every connection does a full handshake, as each player's first one does: with one
    // session cache shared by every bot, bot 2 would resume bot 1's session, and a load run
    // would not measure what the server pays for a crowd arriving.
    config.resumption = rustls::client::Resumption::disabled();
    config
}

/// The TLS handshake over `tcp`, verifying the server's certificate for `host` (a DNS name or
/// an IP literal, without brackets) against `config`.
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, String> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host:?} is not a TLS server name: {e}"))?;
    let authority = authority(host, port);
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let hint = match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                    " (its certificate is not signed by a CA this client trusts: \
                     --ca-cert PEM trusts a private one)"
                }
                _ => "",
            };
            format!("tls handshake with {authority}: {e}{hint}")
        })
}

/// A connection before the WebSocket upgrade (or an HTTP exchange): plain TCP or TLS over it.
pub(crate) enum MaybeTls {
    /// `ws://` or `http://`.
    Plain(TcpStream),
    /// `wss://` or `https://`, handshaken (boxed: the rustls state is large).
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            MaybeTls::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An upgraded TLS connection, read and written the way `client::wire` uses a TCP stream:
/// wait for readiness, then move bytes without waiting. Cancel-safe like that: no state
/// lives across an `.await`. The rustls state is behind a mutex because sending takes `&self`
/// (`Client::send`); only the client's own task locks it.
pub(crate) struct TlsSocket {
    tcp: TcpStream,
    state: Mutex<TlsState>,
}

struct TlsState {
    conn: ClientConnection,
    /// Ciphertext read from the socket and not yet handed to rustls. Reading into this (16 KiB
    /// at a time, like plain TCP) rather than through `read_tls` (4 KiB) saves syscalls.
    cipher: Vec<u8>,
    /// The socket reached its end, or the server sent close_notify: nothing more will come.
    ended: bool,
}

impl TlsSocket {
    /// Takes over a handshaken stream: its TCP socket and its rustls state.
    pub(crate) fn new(stream: TlsStream<TcpStream>) -> Self {
        let (tcp, conn) = stream.into_inner();
        Self {
            tcp,
            state: Mutex::new(TlsState {
                conn,
                cipher: Vec::new(),
                ended: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TlsState> {
        // Every change to the state is complete before anything that could panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends at least one byte of plaintext to `out`, reading and decrypting as needed; 0 at
    /// the end of the stream. Cancel-safe.
    pub(crate) async fn read(&self, out: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            {
                let mut s = self.lock();
                let n = s.decrypt(out)?;
                // Processing may have queued records to send (a key update, an alert).
                s.send(&self.tcp)?;
                if n > 0 {
                    return Ok(n);
                }
                if s.ended {
                    return Ok(0);
                }
            }
            self.tcp.readable().await?;
            let mut s = self.lock();
            s.cipher.reserve(READ_CHUNK);
            match read_available(&self.tcp, &mut s.cipher) {
                Ok(0) => s.ended = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Encrypts and sends as much of `data` as the socket takes now; `WouldBlock` when it takes
    /// nothing. Records the socket did not take wait in rustls (`has_buffered`) and go out
    /// before any new data is accepted, so at most one write's worth waits there.
    pub(crate) fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        let mut s = self.lock();
        s.send(&self.tcp)?;
        if s.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = s.conn.writer().write(data)?;
        s.send(&self.tcp)?;
        match n {
            0 if !data.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    /// Sends the records still waiting in rustls, as far as the socket takes them now.
    pub(crate) fn flush_buffered(&self) -> io::Result<()> {
        self.lock().send(&self.tcp)
    }

    /// Encrypted records wait for the socket.
    pub(crate) fn has_buffered(&self) -> bool {
        self.lock().conn.wants_write()
    }

    /// Resolves when the TCP socket may take more bytes.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        self.tcp.writable().await
    }
}

impl TlsState {
    /// Hands rustls the ciphertext read so far and appends the plaintext it yields to `out`
    /// (also any it held already, e.g. from the handshake). Returns the bytes appended.
    fn decrypt(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut fed = 0;
        let mut appended = 0;
        loop {
            let io = self
                .conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let available = io.plaintext_bytes_to_read();
            if available > 0 {
                let start = out.len();
                out.resize(start + available, 0);
                self.conn.reader().read_exact(&mut out[start..])?;
                appended += available;
            }
            if io.peer_has_closed() {
                self.ended = true;
                self.cipher.clear();
                return Ok(appended);
            }
            if fed == self.cipher.len() {
                break;
            }
            // rustls takes up to a record's worth per call; the plaintext of each is taken out
            // above before the next, so its plaintext buffer never fills.
            let mut rest = &self.cipher[fed..];
            match self.conn.read_tls(&mut rest)? {
                0 => break,
                n => fed += n,
            }
        }
        self.cipher.drain(..fed);
        Ok(appended)
    }

    /// Writes queued records to the socket until it would block.
    fn send(&mut self, tcp: &TcpStream) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut TcpWriter(tcp)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Non-blocking writes to a shared TCP stream, as rustls wants an `io::Write`.
struct TcpWriter<'a>(&'a TcpStream);

impl Write for TcpWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    fn test_ca() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    /// A CA's PEM, and a server configuration whose certificate it signed for 127.0.0.1.
    fn ca_and_server() -> (String, Arc<rustls::ServerConfig>) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .unwrap();
        (ca.pem(), Arc::new(server))
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// The socket the client's frames go over, against a TLS server that first sends 1 MB in
    /// odd-sized writes and its close_notify, then reads nothing until the client's writes
    /// back up, then reads them all.
    #[tokio::test]
    async fn a_tls_socket_moves_every_byte_both_ways_through_backpressure() {
        let (ca, server) = ca_and_server();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (total_tx, total_rx) = tokio::sync::oneshot::channel::<usize>();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = TlsAcceptor::from(server).accept(tcp).await.unwrap();
            for chunk in pattern(1 << 20).chunks(777) {
                tls.write_all(chunk).await.unwrap();
            }
            tls.shutdown().await.unwrap();
            let mut got = vec![0; total_rx.await.unwrap()];
            tls.read_exact(&mut got).await.unwrap();
            got
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let config = config_from_pem(ca.as_bytes()).unwrap();
        let stream = handshake(tcp, "127.0.0.1", addr.port(), config)
            .await
            .unwrap();
        let sock = TlsSocket::new(stream);
        let mut read = Vec::new();
        loop {
            read.reserve(16 * 1024);
            if sock.read(&mut read).await.unwrap() == 0 {
                break;
            }
        }
        assert!(read == pattern(1 << 20), "{} bytes read", read.len());
        // The end is sticky.
        assert_eq!(sock.read(&mut read).await.unwrap(), 0);

        // Write until the socket takes nothing more: the server is not reading.
        let out = pattern(64 << 20);
        let mut sent = 0;
        loop {
            match sock.try_write(&out[sent..(sent + 65536).min(out.len())]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
            assert!(sent < out.len(), "the socket never pushed back");
        }
        // Nothing is accepted while records still wait.
        if sock.has_buffered() {
            assert!(sock.try_write(b"x").is_err());
        }
        total_tx.send(sent).unwrap();
        while sock.has_buffered() {
            sock.writable().await.unwrap();
            sock.flush_buffered().unwrap();
        }
        let got = server.await.unwrap();
        assert!(got == out[..sent], "{sent} bytes sent");
    }

    fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("bot-client-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn trusts_the_cas_of_a_pem_file() {
        let pem = test_ca();
        // A key before it and a second CA after it: every certificate counts, keys do not.
        let both = format!(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{pem}{}",
            test_ca()
        );
        let path = temp_file("cas.pem", both.as_bytes());
        let config = client_config(Some(&path)).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(config_from_pem(pem.as_bytes()).is_ok());
    }

    #[test]
    fn a_bad_ca_file_is_a_clear_error_naming_it() {
        let missing = std::path::Path::new("/nonexistent/ca.pem");
        let err = client_config(Some(missing)).unwrap_err();
        assert!(
            err.starts_with("CA certificate file /nonexistent/ca.pem: "),
            "{err}"
        );

        let empty = temp_file("empty.pem", b"not a certificate\n");
        let err = client_config(Some(&empty)).unwrap_err();
        std::fs::remove_file(&empty).unwrap();
        assert!(
            err.contains("empty.pem") && err.contains("no certificate"),
            "{err}"
        );

        let truncated = temp_file("cut.pem", b"-----BEGIN CERTIFICATE-----\nMIIB\n");
        let err = client_config(Some(&truncated)).unwrap_err();
        std::fs::remove_file(&truncated).unwrap();
        assert!(err.contains("cut.pem") && err.contains("not PEM"), "{err}");

        // Valid PEM around bytes that are not a certificate.
        let junk = b"-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        let err = config_from_pem(junk).unwrap_err();
        assert!(err.contains("certificate 1"), "{err}");
    }

    #[test]
    fn the_default_trusts_the_web_and_is_built_once() {
        let a = default_config();
        assert!(Arc::ptr_eq(&a, &default_config()));
        assert!(Arc::ptr_eq(&a, &client_config(None).unwrap()));
    }
}
