//! A TCP forwarder on 127.0.0.1 in front of the test server, which can
//! freeze the connections it carries: they stop passing bytes in both
//! directions while both sides stay open, as when a machine or a network
//! path vanishes without a FIN or RST. Connections opened after a freeze
//! pass bytes as usual. It counts the connections it carries, in all and
//! at once (a high-water mark).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

pub struct Forwarder {
    pub port: u16,
    /// Connections numbered below this are frozen.
    frozen_below: Arc<AtomicU64>,
    opened: Arc<AtomicU64>,
    open: Arc<Open>,
}

/// Connections open at once: from the forwarder's accepting one until both
/// of its directions have closed.
#[derive(Default)]
struct Open {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Open {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Forwarder {
    /// Forwards a new port on 127.0.0.1 to `upstream` (a port on 127.0.0.1).
    pub fn start(upstream: u16) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a forwarder");
        let port = listener.local_addr().unwrap().port();
        let frozen_below = Arc::new(AtomicU64::new(0));
        let opened = Arc::new(AtomicU64::new(0));
        let open = Arc::new(Open::default());
        let (frozen, count, at_once) = (frozen_below.clone(), opened.clone(), open.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                at_once.enter();
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    at_once.leave();
                    continue;
                };
                let number = count.fetch_add(1, Ordering::SeqCst);
                // The second direction to close ends the connection.
                let directions = Arc::new(AtomicUsize::new(2));
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let (frozen, at_once, directions) =
                        (frozen.clone(), at_once.clone(), directions.clone());
                    thread::spawn(move || {
                        pass(from, to, number, &frozen);
                        if directions.fetch_sub(1, Ordering::SeqCst) == 1 {
                            at_once.leave();
                        }
                    });
                }
            }
        });
        Forwarder {
            port,
            frozen_below,
            opened,
            open,
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

    /// The most connections that were open at once so far. A connection
    /// counts from its being accepted until both its directions have
    /// closed.
    pub fn most_at_once(&self) -> usize {
        self.open.most.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_now(&self) -> usize {
        self.open.now.load(Ordering::SeqCst)
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
