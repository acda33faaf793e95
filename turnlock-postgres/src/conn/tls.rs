//! TLS on rustls (the `tls` feature): the client configuration a pool's
//! `sslmode`, `sslrootcert`, `sslcert` and `sslkey` call for, and the
//! connector tokio-postgres runs the handshake with, over the crate's own
//! stream.
//!
//! What is checked, by mode (libpq's meaning):
//!
//! | `sslmode` | trusted roots known | certificate check |
//! |---|---|---|
//! | `allow`, `prefer`, `require` | no | none: encrypted, not authenticated |
//! | `allow`, `prefer`, `require` | yes (`sslrootcert` file or `~/.postgresql/root.crt`) | chain, as `verify-ca` |
//! | `verify-ca` | required | chain to a trusted root |
//! | `verify-full` | file, or else the platform's roots | chain, and the host name |
//!
//! In every mode the server proves that it holds the key of the
//! certificate it shows (the handshake signature is always checked), so
//! channel binding (`channel_binding=require`) means what it says.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

use super::Endpoint;
use super::conninfo::{RootCert, SslMode, TlsOptions};
use super::endpoints::Target;
use crate::error::{Error, ErrorKind};

/// The ALPN protocol name PostgreSQL 17 defines (libpq 17 always offers it;
/// servers before 17 ignore it).
const ALPN: &[u8] = b"postgresql";

/// A pool's TLS set-up: one client configuration, and the name each
/// endpoint's certificate is checked against.
pub(crate) struct Tls {
    config: Arc<ClientConfig>,
    names: Vec<(Endpoint, ServerName<'static>)>,
    /// What the certificate is checked against, in words, for errors.
    checks: Arc<str>,
}

impl Tls {
    /// Reads the files `options` name (or libpq's default files) and builds
    /// the client configuration. `None` for `sslmode=disable`.
    pub(crate) fn new(options: &TlsOptions, targets: &[Target]) -> Result<Option<Tls>, Error> {
        let mode = options.mode;
        if mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let (roots, from) = roots(options)?;
        let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
            (SslMode::VerifyFull, Some(roots)) => {
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|err| config_error(format!("no usable trusted root: {err}")))?
            }
            (_, Some(roots)) => Arc::new(ChainOnly {
                roots: Arc::new(roots),
                algorithms,
            }),
            (_, None) => Arc::new(NoCheck { algorithms }),
        };
        let checks: Arc<str> = match (mode, from.as_deref()) {
            (_, None) => format!("sslmode={}, certificate not checked", mode.name()).into(),
            (SslMode::VerifyFull, Some(from)) => {
                format!("sslmode=verify-full, trusted roots: {from}").into()
            }
            (mode, Some(from)) => format!(
                "sslmode={}, chain checked (not the host name), trusted roots: {from}",
                mode.name()
            )
            .into(),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| config_error(format!("TLS set-up: {err}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client_certificate(options)? {
            Some((chain, key, path)) => {
                builder.with_client_auth_cert(chain, key).map_err(|err| {
                    config_error(format!(
                        "the client certificate {} and its key do not go together: {err}",
                        path.display()
                    ))
                })?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN.to_vec()];
        let mut names = Vec::new();
        for target in targets {
            let Some(host) = &target.host_name else {
                continue;
            };
            if mode == SslMode::VerifyFull && !target.named {
                return Err(config_error(format!(
                    "sslmode=verify-full checks the server's certificate against a host name, \
                     and {} has none: give `host=` with the name (`hostaddr=` gives the address)",
                    target.endpoint
                )));
            }
            let name = match ServerName::try_from(host.clone()) {
                Ok(name) => name,
                Err(_) if mode != SslMode::VerifyFull => {
                    // Not checked in this mode; an address sends no SNI.
                    ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())
                }
                Err(err) => {
                    return Err(config_error(format!(
                        "{host:?} is not a host name a certificate can be checked against: {err}"
                    )));
                }
            };
            names.push((target.endpoint.clone(), name));
        }
        Ok(Some(Tls {
            config: Arc::new(config),
            names,
            checks,
        }))
    }

    /// The connector for a stream to `endpoint`.
    pub(crate) fn connector(&self, endpoint: &Endpoint) -> RustlsConnect {
        let name = self
            .names
            .iter()
            .find(|(known, _)| known == endpoint)
            .map(|(_, name)| name.clone());
        RustlsConnect {
            setup: name.map(|name| (self.config.clone(), name)),
            checks: self.checks.clone(),
            progress: Arc::default(),
        }
    }
}

fn config_error(reason: String) -> Error {
    Error::new(ErrorKind::Config, "invalid TLS settings").with_source(reason)
}

/// libpq's default location of a file: `~/.postgresql/<name>`
/// (`%APPDATA%\postgresql\<name>` on Windows).
fn default_file(name: &str) -> Option<PathBuf> {
    #[cfg(windows)]
    let dir = std::env::var_os("APPDATA").map(|dir| PathBuf::from(dir).join("postgresql"));
    #[cfg(not(windows))]
    let dir = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".postgresql"));
    dir.map(|dir| dir.join(name))
}

/// The trusted roots, and where they come from in words; `None` when the
/// certificate is not checked.
fn roots(options: &TlsOptions) -> Result<(Option<RootCertStore>, Option<String>), Error> {
    let mode = options.mode;
    match &options.root_cert {
        Some(RootCert::System) if mode != SslMode::VerifyFull => Err(config_error(format!(
            "sslrootcert=system trusts every certificate authority of the platform, which \
             only protects with sslmode=verify-full, not sslmode={} (as in libpq)",
            mode.name()
        ))),
        Some(RootCert::System) => Ok((
            Some(platform_roots()?),
            Some("the platform's (sslrootcert=system)".into()),
        )),
        Some(RootCert::File(path)) => Ok((
            Some(pem_roots(path)?),
            Some(format!("sslrootcert={}", path.display())),
        )),
        None => match default_file("root.crt").filter(|path| path.exists()) {
            Some(path) => Ok((
                Some(pem_roots(&path)?),
                Some(format!("{} (libpq's default sslrootcert)", path.display())),
            )),
            None if mode == SslMode::VerifyFull => Ok((
                Some(platform_roots()?),
                Some("the platform's (no sslrootcert given, no ~/.postgresql/root.crt)".into()),
            )),
            None if mode == SslMode::VerifyCa => Err(config_error(
                "sslmode=verify-ca needs trusted roots: give sslrootcert=<PEM file> or put \
                 them in ~/.postgresql/root.crt (sslmode=verify-full would use the platform's)"
                    .into(),
            )),
            None => Ok((None, None)),
        },
    }
}

fn pem_roots(path: &Path) -> Result<RootCertStore, Error> {
    let unreadable = |err: &dyn fmt::Display| {
        config_error(format!(
            "cannot read the root certificates in {}: {err}",
            path.display()
        ))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|err| unreadable(&err))? {
        let cert = cert.map_err(|err| unreadable(&err))?;
        roots.add(cert).map_err(|err| unreadable(&err))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"no certificate in the file"));
    }
    Ok(roots)
}

fn platform_roots() -> Result<RootCertStore, Error> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(config_error(format!(
            "no trusted root certificate found in the platform's store{}; give \
             sslrootcert=<PEM file>",
            if errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", errors.join("; "))
            }
        )));
    }
    Ok(roots)
}

type ClientIdentity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    PathBuf,
);

/// `sslcert` and `sslkey`, or libpq's default files
/// `~/.postgresql/postgresql.crt` and `postgresql.key` when they exist.
fn client_certificate(options: &TlsOptions) -> Result<Option<ClientIdentity>, Error> {
    let cert = match &options.cert {
        Some(path) if !path.exists() => {
            return Err(config_error(format!(
                "sslcert={} does not exist",
                path.display()
            )));
        }
        Some(path) => path.clone(),
        None => match default_file("postgresql.crt").filter(|path| path.exists()) {
            Some(path) => path,
            None if options.key.is_some() => {
                return Err(config_error(
                    "sslkey is given without sslcert: a client key needs its certificate".into(),
                ));
            }
            None => return Ok(None),
        },
    };
    let key = match &options.key {
        Some(path) => path.clone(),
        None => default_file("postgresql.key").ok_or_else(|| {
            config_error(format!(
                "the client certificate {} needs its key: give sslkey",
                cert.display()
            ))
        })?,
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| {
            config_error(format!(
                "cannot read the client certificate {}: {err}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(config_error(format!(
            "no certificate in the client certificate file {}",
            cert.display()
        )));
    }
    check_key_permissions(&key)?;
    let key_der = PrivateKeyDer::from_pem_file(&key).map_err(|err| {
        config_error(format!(
            "cannot read the private key {} (unencrypted PEM: PKCS#8, PKCS#1 or SEC1; \
             encrypted keys are not supported): {err}",
            key.display()
        ))
    })?;
    Ok(Some((chain, key_der, cert)))
}

/// libpq refuses a private key that others may read: at most `0600`, or
/// `0640` for a file owned by root.
#[cfg(unix)]
fn check_key_permissions(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|err| {
        config_error(format!(
            "cannot read the private key {}: {err}",
            path.display()
        ))
    })?;
    let mode = meta.mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if meta.is_file() && mode & !allowed != 0 {
        return Err(config_error(format!(
            "the private key {} may be read by others (mode {mode:o}): it must be u=rw \
             (0600) or less, or u=rw,g=r (0640) or less if owned by root, as libpq requires",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_permissions(_: &Path) -> Result<(), Error> {
    Ok(())
}

/// `verify-ca`: the chain must lead to a trusted root; the name is not
/// looked at.
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `require` (and `prefer`, `allow`) without trusted roots: any
/// certificate, as long as the server holds its key.
#[derive(Debug)]
struct NoCheck {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Runs the TLS handshake on a stream to one endpoint, for tokio-postgres
/// (sessions and cancel requests alike).
#[derive(Clone)]
pub(crate) struct RustlsConnect {
    /// `None` for an endpoint without TLS (a Unix socket).
    setup: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    checks: Arc<str>,
    progress: Arc<Progress>,
}

/// How far the handshakes through one connector (and its clones) got.
#[derive(Default)]
pub(crate) struct Progress {
    tried: AtomicBool,
    done: AtomicBool,
}

impl Progress {
    /// A handshake was tried and did not succeed (for whatever reason:
    /// the certificate, the protocol, the connection).
    pub(crate) fn failed(&self) -> bool {
        self.tried.load(Ordering::Relaxed) && !self.done.load(Ordering::Relaxed)
    }

    /// A handshake succeeded.
    pub(crate) fn succeeded(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }
}

impl RustlsConnect {
    /// A connector for no TLS at all (`sslmode=disable`): tokio-postgres
    /// never calls it then.
    pub(crate) fn none() -> RustlsConnect {
        RustlsConnect {
            setup: None,
            checks: "sslmode=disable".into(),
            progress: Arc::default(),
        }
    }

    /// How far the handshakes through this connector (and its clones) got.
    pub(crate) fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsConnect<S> for RustlsConnect {
    type Stream = RustlsStream<S>;
    /// A [`HandshakeError`] when rustls refused (the certificate, the
    /// protocol); the I/O error itself when the connection failed, so that
    /// it counts as transient, as the same failure before TLS would.
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        self.progress.tried.store(true, Ordering::Relaxed);
        let connect = self
            .setup
            .map(|(config, name)| tokio_rustls::TlsConnector::from(config).connect(name, stream));
        Handshake {
            connect,
            checks: self.checks,
            progress: self.progress,
        }
    }
}

/// The handshake in progress.
pub(crate) struct Handshake<S> {
    connect: Option<tokio_rustls::Connect<S>>,
    checks: Arc<str>,
    progress: Arc<Progress>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Handshake<S> {
    type Output = Result<RustlsStream<S>, Box<dyn StdError + Send + Sync>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(connect) = &mut this.connect else {
            return Poll::Ready(Err(Box::new(HandshakeError {
                summary: "TLS is not used for this endpoint".into(),
                source: None,
            })));
        };
        match ready!(Pin::new(connect).poll(cx)) {
            Ok(stream) => {
                this.progress.done.store(true, Ordering::Relaxed);
                Poll::Ready(Ok(RustlsStream(stream)))
            }
            Err(err)
                if err
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
            {
                Poll::Ready(Err(Box::new(HandshakeError::new(err, &this.checks))))
            }
            Err(err) => Poll::Ready(Err(Box::new(err))),
        }
    }
}

/// A failed TLS handshake, said in words, with rustls' error as the source.
#[derive(Debug)]
pub(crate) struct HandshakeError {
    summary: String,
    source: Option<io::Error>,
}

impl HandshakeError {
    fn new(err: io::Error, checks: &str) -> HandshakeError {
        let rustls = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        let what = match rustls {
            Some(rustls::Error::InvalidCertificate(cert)) => match cert {
                CertificateError::UnknownIssuer => {
                    "the server's certificate is not signed by a trusted certificate authority"
                        .to_owned()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "the server's certificate is not valid for the host name".to_owned()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired".to_owned()
                }
                _ => "the server's certificate was rejected".to_owned(),
            },
            _ => "the TLS handshake failed".to_owned(),
        };
        HandshakeError {
            summary: format!("{what} ({checks})"),
            source: Some(err),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl StdError for HandshakeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        // rustls' own error when there is one (the I/O error only wraps it).
        let err = self.source.as_ref()?;
        match err.get_ref() {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => Some(err),
        }
    }
}

/// A TLS connection to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, connection) = self.0.get_ref();
        connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|cert| server_end_point(cert))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// `tls-server-end-point` channel binding (RFC 5929): the hash of the
/// server's certificate, with the hash of its signature algorithm (SHA-256
/// for MD5 and SHA-1). `None` for an algorithm without one of these hashes
/// (Ed25519, RSA-PSS), for which PostgreSQL offers no channel binding
/// either.
fn server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    use ring::digest::{SHA256, SHA384, SHA512, digest};
    // Object identifiers' content bytes, as DER encodes them.
    const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: [u8; 6] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    let oid = signature_algorithm(cert)?;
    let algorithm = if let Some(rest) = oid.strip_prefix(&RSA) {
        match rest {
            // md5WithRSA, sha1WithRSA, sha256WithRSA
            [0x04] | [0x05] | [0x0b] => &SHA256,
            [0x0c] => &SHA384,
            [0x0d] => &SHA512,
            // sha224WithRSA (0x0e) and RSA-PSS (0x0a): no SHA-2 digest of ring's.
            _ => return None,
        }
    } else if let Some(rest) = oid.strip_prefix(&ECDSA) {
        match rest {
            // ecdsa-with-SHA1, ecdsa-with-SHA256
            [0x01] | [0x03, 0x02] => &SHA256,
            [0x03, 0x03] => &SHA384,
            [0x03, 0x04] => &SHA512,
            _ => return None,
        }
    } else {
        return None;
    };
    Some(digest(algorithm, cert).as_ref().to_vec())
}

/// The object identifier of a DER certificate's `signatureAlgorithm`:
/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm
/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, ... }, signature }`.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = der(cert, 0x30)?;
    let (_, after_tbs) = der(certificate, 0x30)?;
    let (algorithm, _) = der(after_tbs, 0x30)?;
    let (oid, _) = der(algorithm, 0x06)?;
    Some(oid)
}

/// One DER element with tag `tag` at the start of `input`: its content and
/// what follows it.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let bytes = usize::from(first & 0x7f);
        if bytes == 0 || bytes > 4 || rest.len() < bytes {
            return None;
        }
        let len = rest[..bytes]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[bytes..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal certificate-shaped DER value with the given signature
    /// algorithm OID (long-form lengths for the outer sequence).
    fn cert_with(oid: &[u8]) -> Vec<u8> {
        let tbs = [0x30, 0x03, 0x02, 0x01, 0x01];
        let mut alg = vec![0x30, (oid.len() + 4) as u8, 0x06, oid.len() as u8];
        alg.extend_from_slice(oid);
        alg.extend_from_slice(&[0x05, 0x00]);
        let sig = [0x03, 0x02, 0x00, 0xff];
        let body: Vec<u8> = [&tbs[..], &alg, &sig].concat();
        let mut cert = vec![0x30, 0x81, body.len() as u8];
        cert.extend(body);
        cert
    }

    #[test]
    fn the_signature_algorithm_picks_the_hash() {
        let sha256_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        let sha384_ecdsa = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        let sha1_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
        let ed25519 = [0x2b, 0x65, 0x70];
        let cert = cert_with(&sha256_rsa);
        assert_eq!(signature_algorithm(&cert), Some(&sha256_rsa[..]));
        assert_eq!(server_end_point(&cert).unwrap().len(), 32);
        assert_eq!(
            server_end_point(&cert).unwrap(),
            ring::digest::digest(&ring::digest::SHA256, &cert).as_ref()
        );
        assert_eq!(
            server_end_point(&cert_with(&sha384_ecdsa)).unwrap().len(),
            48
        );
        // SHA-1 is replaced by SHA-256 (RFC 5929).
        assert_eq!(server_end_point(&cert_with(&sha1_rsa)).unwrap().len(), 32);
        assert_eq!(server_end_point(&cert_with(&ed25519)), None);
    }

    #[test]
    fn truncated_der_is_refused() {
        let cert = cert_with(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        for len in 0..cert.len() {
            assert_eq!(server_end_point(&cert[..len]), None, "{len}");
        }
        assert_eq!(der(&[0x30, 0x85, 1, 1, 1, 1, 1], 0x30), None);
        assert_eq!(der(&[0x31, 0x00], 0x30), None);
    }
}
