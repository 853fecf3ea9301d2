//! One throw-away `redis-server` per region, on a free loopback port.

use super::client::Connection;
use super::resp::Reply;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a fresh redis-server may take to answer PING.
const STARTUP: Duration = Duration::from_secs(10);

/// Another process may grab the free port between our probe and redis's bind.
const ATTEMPTS: usize = 5;

/// A running `redis-server` that keeps nothing on disk; killed on drop.
pub(crate) struct RedisServer {
    child: Child,
    pub addr: SocketAddr,
}

impl RedisServer {
    pub fn start() -> io::Result<RedisServer> {
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            match RedisServer::start_once() {
                Ok(server) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    fn start_once() -> io::Result<RedisServer> {
        let addr = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &addr.port().to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run redis-server: {e}")))?;
        // Owned from here on, so an early return kills it.
        let mut server = RedisServer { child, addr };
        server.wait_until_ready()?;
        Ok(server)
    }

    fn wait_until_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!("redis-server on {} exited at startup: {status}", self.addr)));
            }
            let pong = Connection::to(self.addr).and_then(|mut c| c.command(&["PING"]));
            if matches!(pong, Ok(Reply::Simple(ref s)) if s == "PONG") {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, format!("redis-server on {} did not answer PING", self.addr)))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Nothing is persisted, so a hard kill loses nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks the OS for a port that is free right now.
fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}
