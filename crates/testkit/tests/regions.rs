//! End-to-end checks with real redis-servers behind the proxies.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};
use testkit::regions::{Connection, Regions, Reply};

/// The replication lag the broker's tests use.
const DELAY: Duration = Duration::from_secs(2);

fn start() -> Regions {
    Regions::start(DELAY).expect("regions start (is redis-server installed?)")
}

/// Connects to `region`'s proxy, as Spin would.
fn client(regions: &Regions, region: usize) -> Connection {
    Connection::open(&regions.url(region)).expect("proxy accepts")
}

/// Sends a space-separated command.
fn send(connection: &mut Connection, command: &str) -> Reply {
    let args: Vec<&str> = command.split(' ').collect();
    connection.command(&args).expect("proxy answers")
}

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn value(text: &str) -> Option<Vec<u8>> {
    Some(text.as_bytes().to_vec())
}

#[test]
fn a_write_reaches_the_other_region_only_after_the_delay() {
    let regions = start();
    let mut region0 = client(&regions, 0);
    let written = Instant::now();
    assert_eq!(send(&mut region0, "SET greeting hello"), ok());

    assert_eq!(regions.get(0, "greeting"), value("hello"));
    assert_eq!(regions.get(1, "greeting"), None);
    thread::sleep(DELAY / 2);
    assert_eq!(regions.get(1, "greeting"), None, "replicated too early");

    regions.settle();
    assert!(written.elapsed() >= DELAY);
    assert_eq!(regions.get(1, "greeting"), value("hello"));
    assert_eq!(regions.keys(1), ["greeting"]);
    assert_eq!((regions.writes(0), regions.writes(1)), (1, 0));
    assert_eq!(regions.refused(), 0);
}

#[test]
fn the_last_writer_wins_in_both_regions() {
    let regions = start();
    let (mut region0, mut region1) = (client(&regions, 0), client(&regions, 1));
    assert_eq!(send(&mut region1, "SET session older"), ok());
    assert_eq!(send(&mut region0, "SET token older"), ok());
    thread::sleep(Duration::from_millis(200));
    assert_eq!(send(&mut region0, "SET session newer"), ok());
    assert_eq!(send(&mut region1, "SET token newer"), ok());

    // Each region sees only its own writes until replication catches up.
    assert_eq!(regions.get(0, "token"), value("older"));
    assert_eq!(regions.get(1, "session"), value("older"));

    regions.settle();
    for region in 0..2 {
        assert_eq!(regions.get(region, "session"), value("newer"), "{region}");
        assert_eq!(regions.get(region, "token"), value("newer"), "{region}");
    }
}

#[test]
fn deletes_replicate() {
    let regions = start();
    let (mut region0, mut region1) = (client(&regions, 0), client(&regions, 1));
    assert_eq!(send(&mut region0, "MSET a 1 b 2 c 3"), ok());
    regions.settle();
    assert_eq!(regions.keys(1), ["a", "b", "c"]);

    assert_eq!(send(&mut region1, "DEL a b missing"), Reply::Integer(2));
    assert_eq!(regions.keys(1), ["c"]);
    assert_eq!(regions.keys(0), ["a", "b", "c"]);

    regions.settle();
    assert_eq!(regions.keys(0), ["c"]);
    assert_eq!(regions.keys(1), ["c"]);
}

#[test]
fn a_delete_older_than_a_local_write_does_not_undo_it() {
    let regions = start();
    let (mut region0, mut region1) = (client(&regions, 0), client(&regions, 1));
    assert_eq!(send(&mut region0, "DEL login"), Reply::Integer(0));
    thread::sleep(Duration::from_millis(100));
    assert_eq!(send(&mut region1, "SET login alice"), ok());
    regions.settle();
    assert_eq!(regions.get(0, "login"), value("alice"));
    assert_eq!(regions.get(1, "login"), value("alice"));
}

#[test]
fn atomic_operations_are_refused_and_counted() {
    let regions = start();
    let mut region0 = client(&regions, 0);
    let Reply::Error(message) = send(&mut region0, "INCRBY counter 1") else {
        panic!("INCRBY was not refused");
    };
    assert!(message.ends_with("not offered by the edge store"), "{message}");
    assert_eq!(regions.refused(), 1);

    // A transaction's body is refused with it, so its SET never lands.
    for command in ["MULTI", "SET counter 1", "EXEC", "SET counter 2 NX"] {
        assert!(matches!(send(&mut region0, command), Reply::Error(_)), "{command}");
    }
    assert_eq!(regions.refused(), 5);

    // The connection is still usable and nothing was written.
    assert_eq!(send(&mut region0, "GET counter"), Reply::Nil);
    regions.settle();
    assert!(regions.keys(0).is_empty() && regions.keys(1).is_empty());
    assert_eq!(regions.writes(0), 0);
}

/// Sends `bytes` in one write and reads everything until the peer hangs up.
fn raw_exchange(url: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(url.trim_start_matches("redis://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(bytes).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut replies = Vec::new();
    stream.read_to_end(&mut replies).unwrap();
    replies
}

/// The exchange Spin 4.0.2's redis-rs 0.32.5 client has with its store:
/// a pipelined handshake, then PING, then the store's commands.
#[test]
fn a_spin_style_session_is_served_without_refusals() {
    let regions = start();
    let handshake = b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$8\r\nredis-rs\r\n\
                      *4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$7\r\nLIB-VER\r\n$6\r\n0.32.5\r\n\
                      *1\r\n$4\r\nPING\r\n";
    let through_proxy = raw_exchange(&regions.url(0), handshake);
    // Byte for byte what redis says (redis < 7.2 rejects SETINFO; redis-rs ignores that).
    assert_eq!(through_proxy, raw_exchange(&regions.redis_url(0), handshake));
    assert!(through_proxy.ends_with(b"+PONG\r\n"));

    let mut spin = client(&regions, 0);
    assert_eq!(send(&mut spin, "SET user:1 x"), ok());
    assert_eq!(send(&mut spin, "GET user:1"), Reply::Bulk(b"x".to_vec()));
    assert_eq!(send(&mut spin, "EXISTS user:1"), Reply::Integer(1));
    assert_eq!(send(&mut spin, "MSET user:2 y user:3 z"), ok());
    assert!(matches!(send(&mut spin, "KEYS *"), Reply::Array(keys) if keys.len() == 3));
    assert!(matches!(send(&mut spin, "SCAN 0"), Reply::Array(page) if page.len() == 2));
    assert_eq!(send(&mut spin, "DEL user:2 user:3"), Reply::Integer(2));
    assert_eq!((regions.reads(0), regions.writes(0)), (4, 3));
    assert_eq!(regions.refused(), 0);
}

#[test]
fn resp3_replies_pass_through() {
    let regions = start();
    let mut region1 = client(&regions, 1);
    assert!(matches!(send(&mut region1, "HELLO 3"), Reply::Map(_)));
    assert_eq!(send(&mut region1, "SET k v"), ok());
    assert_eq!(send(&mut region1, "GET nothing"), Reply::Nil);
    assert_eq!(send(&mut region1, "GET k"), Reply::Bulk(b"v".to_vec()));
}

#[test]
fn an_oversized_command_is_refused() {
    let regions = start();
    let mut region0 = client(&regions, 0);
    let big = "x".repeat(3 * 1024 * 1024);
    // The proxy hangs up mid-command, so the error may also be a reset.
    let reply = region0.command(&["SET", "big", big.as_str()]);
    assert!(matches!(reply, Err(_) | Ok(Reply::Error(_))), "{reply:?}");
    assert_eq!(regions.get(0, "big"), None);
}

#[test]
fn dropping_stops_proxies_and_servers() {
    let regions = start();
    let urls = [regions.url(0), regions.redis_url(1)];
    let mut region0 = client(&regions, 0);
    assert_eq!(send(&mut region0, "SET k v"), ok());
    let stopped = Instant::now();
    drop(regions);
    assert!(stopped.elapsed() < Duration::from_secs(5));
    assert!(region0.command(&["GET", "k"]).is_err());
    for url in urls {
        assert!(Connection::open(&url).is_err(), "{url} still open");
    }
}

#[test]
fn regions_converge_under_concurrent_writes() {
    let regions = start();
    thread::scope(|scope| {
        for writer in 0..4 {
            let regions = &regions;
            scope.spawn(move || {
                let mut connection = client(regions, writer % 2);
                for i in 0..100 {
                    let key = format!("k{}", (i * 7 + writer) % 5);
                    let command = if i % 4 == 3 { format!("DEL {key}") } else { format!("SET {key} w{writer}-{i}") };
                    assert!(!matches!(send(&mut connection, &command), Reply::Error(_)));
                }
            });
        }
    });
    regions.settle();
    let keys = regions.keys(0);
    assert_eq!(keys, regions.keys(1));
    for key in keys {
        assert_eq!(regions.get(0, &key), regions.get(1, &key), "{key}");
    }
    assert_eq!(regions.writes(0) + regions.writes(1), 400);
}
