//! A TCP forwarder on 127.0.0.1 in front of the test server, which can
//! freeze the connections it carries: they stop passing bytes in both
//! directions while both sides stay open, as when a machine or a network
//! path vanishes without a FIN or RST. Connections opened after a freeze
//! pass bytes as usual.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

pub struct Forwarder {
    pub port: u16,
    /// Connections numbered below this are frozen.
    frozen_below: Arc<AtomicU64>,
    opened: Arc<AtomicU64>,
}

impl Forwarder {
    /// Forwards a new port on 127.0.0.1 to `upstream` (a port on 127.0.0.1).
    pub fn start(upstream: u16) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a forwarder");
        let port = listener.local_addr().unwrap().port();
        let frozen_below = Arc::new(AtomicU64::new(0));
        let opened = Arc::new(AtomicU64::new(0));
        let (frozen, count) = (frozen_below.clone(), opened.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let number = count.fetch_add(1, Ordering::SeqCst);
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let frozen = frozen.clone();
                    thread::spawn(move || pass(from, to, number, &frozen));
                }
            }
        });
        Forwarder {
            port,
            frozen_below,
            opened,
        }
    }

    /// Freezes every connection open now.
    pub fn freeze(&self) {
        self.frozen_below
            .store(self.opened.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Connections forwarded so far.
    pub fn connections(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until either closes, or until the connection is
/// frozen: then it keeps both open and passes nothing, for good.
fn pass(mut from: TcpStream, mut to: TcpStream, number: u64, frozen_below: &AtomicU64) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if number < frozen_below.load(Ordering::SeqCst) {
            // Both sockets stay open (owned by this thread) and silent.
            loop {
                thread::park();
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
