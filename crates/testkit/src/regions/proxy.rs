//! The RESP proxy in front of one region's redis: what Spin connects to.
//!
//! It forwards the commands the edge store offers, turns writes into
//! replicated writes, and refuses everything else (atomic operations above
//! all), so that an app that works here cannot rely on what the edge lacks.

use super::client::Connection;
use super::replication::Shared;
use super::resp::{self, encode_error};
use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A listening proxy; dropping it stops accepting and closes every client connection.
pub(crate) struct Proxy {
    pub addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    clients: Arc<Clients>,
    acceptor: Option<JoinHandle<()>>,
}

/// Open client connections, kept so that `Drop` can close them.
#[derive(Default)]
struct Clients {
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

impl Proxy {
    pub fn start(region: usize, shared: Arc<Shared>) -> io::Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(Clients::default());
        let acceptor = {
            let (stopping, clients) = (stopping.clone(), clients.clone());
            thread::Builder::new()
                .name(format!("regions-proxy-{region}"))
                .spawn(move || accept(listener, region, shared, stopping, clients))?
        };
        Ok(Proxy { addr, stopping, clients, acceptor: Some(acceptor) })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // The acceptor is blocked in accept(); a connection wakes it to see the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for client in self.clients.lock().values() {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

impl Clients {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn accept(listener: TcpListener, region: usize, shared: Arc<Shared>, stopping: Arc<AtomicBool>, clients: Arc<Clients>) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // E.g. out of file descriptors: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let id = clients.next_id.fetch_add(1, Ordering::Relaxed);
        clients.lock().insert(id, handle);
        let (shared, clients) = (shared.clone(), clients.clone());
        thread::spawn(move || {
            // A failed connection only ends that client's session.
            let _ = serve(stream, region, &shared);
            clients.lock().remove(&id);
        });
    }
}

/// Serves one client: reads its commands one by one (pipelining needs nothing
/// more) and answers each with redis's reply or a refusal.
fn serve(client: TcpStream, region: usize, shared: &Shared) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut upstream = Connection::to(shared.regions[region].redis)?;
    let mut input = BufReader::new(client.try_clone()?);
    let mut output = client;
    let mut session = Session::default();
    loop {
        let args = match resp::read_command(&mut input) {
            Ok(Some(args)) => args,
            Ok(None) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                // The stream cannot be resynchronised: say why, then hang up.
                output.write_all(&encode_error(&format!("ERR proxy: {error}")))?;
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let counters = &shared.regions[region];
        let reply = match session.classify(&args) {
            Kind::Session => upstream.exchange(&args)?.1,
            Kind::Read => {
                counters.reads.fetch_add(1, Ordering::Relaxed);
                upstream.exchange(&args)?.1
            }
            Kind::Write => {
                counters.writes.fetch_add(1, Ordering::Relaxed);
                shared.write(region, &args, &mut upstream)?
            }
            Kind::Refused(what) => {
                shared.refused.fetch_add(1, Ordering::Relaxed);
                encode_error(&format!("ERR {what} is not offered by the edge store"))
            }
        };
        output.write_all(&reply)?;
    }
}

/// What the proxy does with a command.
#[derive(Debug, PartialEq)]
enum Kind {
    /// Connection set-up and liveness; forwarded, not counted.
    Session,
    /// Forwarded and counted as a read.
    Read,
    /// Applied here, replicated to the other region, counted as a write.
    Write,
    /// Answered with an error naming what was refused.
    Refused(String),
}

/// Per-connection state: only whether a refused MULTI is still open.
#[derive(Default)]
struct Session {
    /// After a refused MULTI, commands up to EXEC or DISCARD are refused too,
    /// or a queued SET would run without its transaction.
    in_refused_multi: bool,
}

impl Session {
    fn classify(&mut self, args: &[Vec<u8>]) -> Kind {
        let word = |i: usize| args.get(i).map(|arg| String::from_utf8_lossy(arg).to_ascii_uppercase()).unwrap_or_default();
        let name = word(0);
        if self.in_refused_multi {
            self.in_refused_multi = !matches!(name.as_str(), "EXEC" | "DISCARD");
            return Kind::Refused(format!("{name} within a transaction"));
        }
        match name.as_str() {
            "GET" | "MGET" | "EXISTS" | "KEYS" | "SCAN" | "DBSIZE" => Kind::Read,
            // Options (NX, XX, GET, EX, KEEPTTL, ...) are conditional or expiring writes.
            "SET" if args.len() > 3 => Kind::Refused("SET with options".into()),
            "SET" | "MSET" | "DEL" | "UNLINK" => Kind::Write,
            "PING" | "ECHO" | "HELLO" | "QUIT" => Kind::Session,
            // Other subcommands would change how replies flow (TRACKING, REPLY).
            "CLIENT" if matches!(word(1).as_str(), "SETINFO" | "SETNAME" | "GETNAME" | "ID") => Kind::Session,
            // Replication knows one keyspace only.
            "SELECT" if word(1) == "0" => Kind::Session,
            "CLIENT" | "SELECT" => Kind::Refused(format!("{name} {}", word(1))),
            "MULTI" => {
                self.in_refused_multi = true;
                Kind::Refused(name)
            }
            // INCR*, DECR*, WATCH, EXEC, EVAL*, SETNX, GETSET, ... and anything
            // else that would be applied without being replicated.
            _ => Kind::Refused(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(session: &mut Session, command: &str) -> Kind {
        let args: Vec<Vec<u8>> = command.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        session.classify(&args)
    }

    #[test]
    fn spin_commands_are_served() {
        let mut s = Session::default();
        for read in ["GET k", "EXISTS k", "KEYS *", "SCAN 0", "mget a b"] {
            assert_eq!(classify(&mut s, read), Kind::Read, "{read}");
        }
        for write in ["SET k v", "MSET a 1 b 2", "DEL a b", "del k"] {
            assert_eq!(classify(&mut s, write), Kind::Write, "{write}");
        }
        for session in ["PING", "CLIENT SETINFO LIB-NAME redis-rs", "HELLO 3", "SELECT 0"] {
            assert_eq!(classify(&mut s, session), Kind::Session, "{session}");
        }
    }

    #[test]
    fn atomic_operations_are_refused() {
        let mut s = Session::default();
        for refused in [
            "INCR k",
            "INCRBY k 1",
            "DECR k",
            "DECRBY k 1",
            "INCRBYFLOAT k 1.5",
            "WATCH k",
            "UNWATCH",
            "EXEC",
            "EVAL x 0",
            "EVALSHA x 0",
            "SETNX k v",
            "GETSET k v",
            "SET k v NX",
            "SET k v XX",
            "SET k v GET",
            "SELECT 1",
            "CLIENT TRACKING ON",
        ] {
            assert!(matches!(classify(&mut s, refused), Kind::Refused(_)), "{refused}");
        }
    }

    #[test]
    fn a_refused_transaction_refuses_its_body() {
        let mut s = Session::default();
        assert!(matches!(classify(&mut s, "MULTI"), Kind::Refused(_)));
        assert!(matches!(classify(&mut s, "SET k v"), Kind::Refused(_)));
        assert!(matches!(classify(&mut s, "EXEC"), Kind::Refused(_)));
        assert_eq!(classify(&mut s, "SET k v"), Kind::Write);
    }
}
