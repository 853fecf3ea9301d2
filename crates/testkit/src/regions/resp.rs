//! Just enough RESP (the Redis wire protocol) for a forwarding proxy.
//!
//! Commands from clients are arrays of bulk strings. Replies from redis may be
//! any RESP2 type, or RESP3 types when a client negotiated `HELLO 3` (Spin's
//! client does not: its `redis://` URLs default to RESP2). Every frame is read
//! together with its exact bytes, so the proxy can pass replies on unchanged.

use std::io::{self, BufRead, Read};

/// Largest command a client may send. Edge-store values are small; the bound
/// keeps a misbehaving client from making the proxy buffer without limit.
pub const MAX_COMMAND_BYTES: usize = 2 * 1024 * 1024;

/// Largest reply read from redis (`KEYS *` on a big store is long, not endless).
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// Deepest nesting accepted; guards the recursive parser's stack.
const MAX_DEPTH: usize = 32;

/// One parsed RESP frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`, and RESP3 blob errors (`!`).
    Error(String),
    /// `:1`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Vec<u8>),
    /// RESP2 null bulk/array (`$-1`, `*-1`) and RESP3 null (`_`).
    Nil,
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 double (`,`) and big number (`(`), kept as text.
    Number(String),
    /// RESP3 verbatim string (`=`), without its `txt:` style format prefix.
    Verbatim(Vec<u8>),
    /// `*` arrays, and RESP3 sets (`~`).
    Array(Vec<Reply>),
    /// RESP3 map (`%`).
    Map(Vec<(Reply, Reply)>),
    /// RESP3 out-of-band push (`>`).
    Push(Vec<Reply>),
}

/// Reads one client command: `Ok(None)` when the client closed cleanly
/// between commands. Anything but an array of bulk strings, or a command over
/// [`MAX_COMMAND_BYTES`], is an `InvalidData` error.
pub fn read_command(input: &mut impl BufRead) -> io::Result<Option<Vec<Vec<u8>>>> {
    let Some((frame, _)) = read_frame(input, MAX_COMMAND_BYTES)? else {
        return Ok(None);
    };
    let Reply::Array(items) = frame else {
        return Err(invalid("a command must be an array of bulk strings"));
    };
    if items.is_empty() {
        return Err(invalid("empty command"));
    }
    items
        .into_iter()
        .map(|item| match item {
            Reply::Bulk(bytes) => Ok(bytes),
            _ => Err(invalid("a command must be an array of bulk strings")),
        })
        .collect::<io::Result<_>>()
        .map(Some)
}

/// Reads one whole reply, returning it parsed and as the exact bytes received.
pub fn read_reply(input: &mut impl BufRead) -> io::Result<(Reply, Vec<u8>)> {
    read_frame(input, MAX_REPLY_BYTES)?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "redis closed the connection"))
}

/// Encodes a command as an array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Encodes an error reply; line breaks are replaced so the frame stays one line.
pub fn encode_error(message: &str) -> Vec<u8> {
    format!("-{}\r\n", message.replace(['\r', '\n'], " ")).into_bytes()
}

/// Reads one frame of at most `limit` bytes; `None` on EOF before its first byte.
fn read_frame(input: &mut impl BufRead, limit: usize) -> io::Result<Option<(Reply, Vec<u8>)>> {
    if input.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let mut frame = Frame { input, raw: Vec::new(), limit };
    let reply = frame.value(0)?;
    Ok(Some((reply, frame.raw)))
}

/// A frame being read: every byte consumed is kept in `raw`, within `limit`.
struct Frame<'a, R> {
    input: &'a mut R,
    raw: Vec<u8>,
    limit: usize,
}

impl<R: BufRead> Frame<'_, R> {
    fn value(&mut self, depth: usize) -> io::Result<Reply> {
        if depth > MAX_DEPTH {
            return Err(invalid("reply nested too deeply"));
        }
        let line = self.line()?;
        let (&kind, rest) = line.split_first().ok_or_else(|| invalid("empty line"))?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        Ok(match kind {
            b'+' => Reply::Simple(text()),
            b'-' => Reply::Error(text()),
            b':' => Reply::Integer(number(rest)?),
            b',' | b'(' => Reply::Number(text()),
            b'_' => Reply::Nil,
            b'#' => match rest {
                b"t" => Reply::Boolean(true),
                b"f" => Reply::Boolean(false),
                _ => return Err(invalid("bad boolean")),
            },
            b'$' => match self.blob(rest)? {
                Some(bytes) => Reply::Bulk(bytes),
                None => Reply::Nil,
            },
            b'!' => Reply::Error(String::from_utf8_lossy(&self.required_blob(rest)?).into_owned()),
            b'=' => {
                let blob = self.required_blob(rest)?;
                // The first four bytes name the format, e.g. `txt:`.
                Reply::Verbatim(blob.get(4..).unwrap_or_default().to_vec())
            }
            b'*' => match self.count(rest)? {
                Some(n) => Reply::Array(self.values(n, depth)?),
                None => Reply::Nil,
            },
            b'~' => Reply::Array(self.values(self.required_count(rest)?, depth)?),
            b'>' => Reply::Push(self.values(self.required_count(rest)?, depth)?),
            b'%' => {
                let flat = self.values(2 * self.required_count(rest)?, depth)?;
                let mut items = flat.into_iter();
                let mut pairs = Vec::new();
                while let (Some(key), Some(value)) = (items.next(), items.next()) {
                    pairs.push((key, value));
                }
                Reply::Map(pairs)
            }
            _ => return Err(invalid("unknown RESP type")),
        })
    }

    /// Reads `n` nested values, growing as they arrive rather than trusting `n`.
    fn values(&mut self, n: usize, depth: usize) -> io::Result<Vec<Reply>> {
        let mut values = Vec::new();
        for _ in 0..n {
            values.push(self.value(depth + 1)?);
        }
        Ok(values)
    }

    /// Reads an aggregate's length; `None` for the RESP2 null (`-1`).
    fn count(&self, digits: &[u8]) -> io::Result<Option<usize>> {
        let n = number(digits)?;
        if n == -1 {
            return Ok(None);
        }
        // Every element takes at least three bytes, so a longer count cannot fit.
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() / 3 => Ok(Some(n)),
            _ => Err(invalid("bad or oversized length")),
        }
    }

    fn required_count(&self, digits: &[u8]) -> io::Result<usize> {
        self.count(digits)?.ok_or_else(|| invalid("bad length"))
    }

    /// Reads a blob's payload and its trailing CRLF; `None` for `$-1`.
    fn blob(&mut self, digits: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let Some(len) = self.count(digits)? else {
            return Ok(None);
        };
        if len + 2 > self.remaining() {
            return Err(invalid("frame too large"));
        }
        let start = self.raw.len();
        self.raw.resize(start + len + 2, 0);
        self.input.read_exact(&mut self.raw[start..])?;
        if !self.raw.ends_with(b"\r\n") {
            return Err(invalid("blob not followed by CRLF"));
        }
        Ok(Some(self.raw[start..start + len].to_vec()))
    }

    fn required_blob(&mut self, digits: &[u8]) -> io::Result<Vec<u8>> {
        self.blob(digits)?.ok_or_else(|| invalid("bad length"))
    }

    /// Reads one CRLF-terminated line and returns it without the CRLF.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        let start = self.raw.len();
        let budget = self.remaining() as u64;
        (&mut *self.input).take(budget).read_until(b'\n', &mut self.raw)?;
        let line = &self.raw[start..];
        match line.strip_suffix(b"\r\n") {
            Some(content) => Ok(content.to_vec()),
            None if line.len() as u64 == budget => Err(invalid("frame too large")),
            None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a frame")),
        }
    }

    fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.raw.len())
    }
}

fn number(digits: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(digits).ok().and_then(|s| s.parse().ok()).ok_or_else(|| invalid("bad number"))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("RESP: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(bytes: &[u8]) -> io::Result<(Reply, Vec<u8>)> {
        read_reply(&mut &bytes[..])
    }

    #[test]
    fn commands_round_trip() {
        let wire = encode_command(&["SET", "k", "v\r\n"]);
        let args = read_command(&mut &wire[..]).unwrap().unwrap();
        assert_eq!(args, [b"SET".to_vec(), b"k".to_vec(), b"v\r\n".to_vec()]);
        assert_eq!(read_command(&mut &b""[..]).unwrap(), None);
    }

    #[test]
    fn pipelined_commands_are_read_one_at_a_time() {
        let mut wire = encode_command(&["PING"]);
        wire.extend(encode_command(&["GET", "k"]));
        let mut input = &wire[..];
        assert_eq!(read_command(&mut input).unwrap().unwrap().len(), 1);
        assert_eq!(read_command(&mut input).unwrap().unwrap().len(), 2);
        assert_eq!(read_command(&mut input).unwrap(), None);
    }

    #[test]
    fn oversized_and_malformed_commands_are_refused() {
        let big = vec![b'x'; MAX_COMMAND_BYTES];
        let wire = encode_command(&[b"SET".as_slice(), b"k", &big]);
        assert!(read_command(&mut &wire[..]).is_err());
        let endless_line = vec![b'*'; MAX_COMMAND_BYTES + 10];
        assert!(read_command(&mut &endless_line[..]).is_err());
        assert!(read_command(&mut &b"*999999999\r\n"[..]).is_err());
        assert!(read_command(&mut &b"+PING\r\n"[..]).is_err());
        assert!(read_command(&mut &b"*1\r\n:1\r\n"[..]).is_err());
        assert!(read_command(&mut &b"*1\r\n$3\r\nGE"[..]).is_err());
    }

    #[test]
    fn resp2_replies_keep_their_bytes() {
        let wire = b"*5\r\n+OK\r\n-ERR no\r\n:-7\r\n$-1\r\n$2\r\nhi\r\n";
        let (parsed, raw) = reply(wire).unwrap();
        assert_eq!(raw, wire);
        assert_eq!(
            parsed,
            Reply::Array(vec![
                Reply::Simple("OK".into()),
                Reply::Error("ERR no".into()),
                Reply::Integer(-7),
                Reply::Nil,
                Reply::Bulk(b"hi".to_vec()),
            ])
        );
        assert_eq!(reply(b"*-1\r\n").unwrap().0, Reply::Nil);
    }

    #[test]
    fn resp3_replies_parse() {
        let wire = b"%2\r\n+a\r\n~2\r\n#t\r\n_\r\n=8\r\ntxt:some\r\n,1.5\r\n";
        let (parsed, raw) = reply(wire).unwrap();
        assert_eq!(raw, wire);
        assert_eq!(
            parsed,
            Reply::Map(vec![
                (Reply::Simple("a".into()), Reply::Array(vec![Reply::Boolean(true), Reply::Nil])),
                (Reply::Verbatim(b"some".to_vec()), Reply::Number("1.5".into())),
            ])
        );
        assert_eq!(reply(b">1\r\n(12\r\n").unwrap().0, Reply::Push(vec![Reply::Number("12".into())]));
        assert_eq!(reply(b"!3\r\nbad\r\n").unwrap().0, Reply::Error("bad".into()));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let wire = b"*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(reply(&wire).is_err());
    }

    #[test]
    fn errors_stay_on_one_line() {
        assert_eq!(encode_error("ERR a\r\nb"), b"-ERR a  b\r\n");
    }
}
