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
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | [`Tls`]: the client configuration a pool's settings call for |
//! | `files.rs` | trusted roots and the client certificate, read as libpq reads them |
//! | `verify.rs` | the certificate checks rustls does not have: chain only, and none |
//! | `connect.rs` | the connector and stream tokio-postgres runs the handshake with |
//! | `binding.rs` | channel binding: the hash of the server's certificate |

mod binding;
mod connect;
mod files;
mod verify;

pub(crate) use connect::RustlsConnect;
use files::{client_certificate, config_error, roots};
use verify::NoHostName;

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::ServerName;

use super::Endpoint;
use super::conninfo::{SslMode, TlsOptions};
use super::endpoints::Target;
use crate::error::Error;
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
            (_, roots) => Arc::new(NoHostName {
                roots: roots.map(Arc::new),
                algorithms,
            }),
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
