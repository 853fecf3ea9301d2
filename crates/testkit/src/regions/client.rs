//! A minimal blocking Redis client: the proxies' link to their redis, the
//! replicators' link to the other region, and a probe for tests.

use super::resp::{self, Reply};
use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long any one reply may take before the call fails, so nothing waits forever.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One connection to a Redis server or to a region's proxy.
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    /// Connects to a `redis://host:port` URL (as returned by
    /// [`Regions::url`](super::Regions::url) and [`Regions::redis_url`](super::Regions::redis_url)).
    pub fn open(url: &str) -> io::Result<Connection> {
        let rest = url.strip_prefix("redis://").ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "expected a redis:// URL"))?;
        let host_port = rest.split('/').next().unwrap_or_default();
        let addr =
            host_port.to_socket_addrs()?.next().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL names no address"))?;
        Connection::to(addr)
    }

    pub(crate) fn to(addr: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        Ok(Connection { reader: BufReader::new(stream.try_clone()?), writer: stream })
    }

    /// Sends one command, e.g. `["SET", "k", "v"]`, and returns its reply
    /// (a Redis error comes back as [`Reply::Error`], not as `Err`).
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        Ok(self.exchange(args)?.0)
    }

    /// Sends one command and returns its reply parsed and as received.
    /// RESP3 pushes are out of band, so they are skipped to find the reply.
    pub(crate) fn exchange<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<(Reply, Vec<u8>)> {
        self.writer.write_all(&resp::encode_command(args))?;
        loop {
            let (reply, raw) = resp::read_reply(&mut self.reader)?;
            if !matches!(reply, Reply::Push(_)) {
                return Ok((reply, raw));
            }
        }
    }
}
