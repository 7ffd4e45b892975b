//! TLS for PostgreSQL clients (rustls, ring provider).
//!
//! With `--tls-cert` and `--tls-key` (PEM files: the certificate chain, leaf first, and
//! its private key) the server answers an SSLRequest with `S` and the connection thread
//! runs the TLS handshake on the same socket before reading the startup message, as
//! PostgreSQL does; without them it answers `N` and libpq's default `sslmode=prefer`
//! goes on in plain text. A client that does not ask for TLS is served in plain text
//! either way (PostgreSQL's `host` rather than `hostssl`). Bytes sent after the
//! SSLRequest but before the handshake are refused (they would have been read outside
//! the encryption: CVE-2021-23214), and a second SSLRequest inside TLS closes the
//! connection. Only TLS 1.2 and 1.3 with rustls's safe defaults; no client certificates.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// Reads the certificate chain and key and builds the server's TLS configuration; the
/// error names the file at fault.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS certificate {}: no certificate in the file",
            cert.display()
        ));
    }
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| {
            format!(
                "TLS certificate {} and key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Arc::new(config))
}

/// A client socket, in plain text or inside TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath (timeouts, shutdown).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Starts TLS on a plain socket; the handshake runs with the first read.
    pub fn upgrade(self, config: &Arc<ServerConfig>) -> io::Result<Stream> {
        match self {
            Stream::Plain(sock) => {
                let conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
                Ok(Stream::Tls(Box::new(StreamOwned::new(conn, sock))))
            }
            Stream::Tls(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "SSLRequest inside an encrypted connection",
            )),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
