//! Trusted roots and the client certificate, read as libpq reads them.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::conn::conninfo::{RootCert, SslMode, TlsOptions};
use crate::error::{Error, ErrorKind};
pub(super) fn config_error(reason: String) -> Error {
    Error::new(ErrorKind::Config, "invalid TLS settings").with_source(reason)
}

/// libpq's default location of a file: `~/.postgresql/<name>`
/// (`%APPDATA%\postgresql\<name>` on Windows).
pub(super) fn default_file(name: &str) -> Option<PathBuf> {
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
pub(super) fn roots(
    options: &TlsOptions,
) -> Result<(Option<RootCertStore>, Option<String>), Error> {
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

pub(super) fn pem_roots(path: &Path) -> Result<RootCertStore, Error> {
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

pub(super) fn platform_roots() -> Result<RootCertStore, Error> {
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

pub(super) type ClientIdentity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    PathBuf,
);

/// `sslcert` and `sslkey`, or libpq's default files
/// `~/.postgresql/postgresql.crt` and `postgresql.key` when they exist.
pub(super) fn client_certificate(options: &TlsOptions) -> Result<Option<ClientIdentity>, Error> {
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
pub(super) fn check_key_permissions(path: &Path) -> Result<(), Error> {
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
pub(super) fn check_key_permissions(_: &Path) -> Result<(), Error> {
    Ok(())
}
