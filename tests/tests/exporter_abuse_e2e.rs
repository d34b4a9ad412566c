//! `pitr exporter` under abuse, on a live stanza: with 500 idle connections and 50 clients
//! sending a request a byte at a time held open, scrapes answer within a second; the header
//! timeout then closes those clients; beyond the connection cap a connection is closed at once;
//! a kept-alive connection is closed after its lifetime.
// Tests build their fixtures as root in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pitr_tests::Stanza;
use pitr_tests::exporter::{Proc, http_get, metrics_with_data, start_exporter, wait_for};

/// The scrape bound of the acceptance criterion.
const SCRAPE_BOUND: Duration = Duration::from_secs(1);

/// Raises this process's soft limit of open files to its hard limit and checks that `needed`
/// descriptors fit.
fn raise_open_files(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= needed,
        "the hard limit of open files ({hard}) is below the {needed} this test needs"
    );
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

/// Whether the server closed `s`: a read sees end of file or a reset (not "would block").
fn closed_by_server(mut s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let closed = match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).unwrap();
    closed
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap()
}

/// One scrape, timed; panics when it fails or takes longer than `bound`.
fn timed_scrape(addr: SocketAddr, stanza: &str, bound: Duration) -> Duration {
    let started = Instant::now();
    let (status, body) = http_get(addr, "/metrics", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("the scrape failed after {:?}: {e}", started.elapsed()));
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("pitr_exporter_up{{stanza=\"{stanza}\"}} 1")),
        "{body}"
    );
    assert!(took <= bound, "the scrape took {took:?} (bound {bound:?})");
    took
}

/// Clients that send `GET /metrics` one byte every 100 ms from a thread, until stopped; each
/// is dropped from the set once its write fails (the server closed it).
struct SlowClients {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<TcpStream>>>,
}

impl SlowClients {
    fn start(addr: SocketAddr, count: usize) -> SlowClients {
        let mut clients: Vec<TcpStream> = (0..count).map(|_| connect(addr)).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nX-Padding: ");
            let mut sent = 0usize;
            while !stopped.load(Ordering::Relaxed) {
                let byte = request.as_bytes().get(sent).copied().unwrap_or(b'a');
                clients.retain_mut(|c| c.write_all(&[byte]).is_ok());
                sent += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            clients
        });
        SlowClients {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops writing; the clients that were still open.
    fn finish(mut self) -> Vec<TcpStream> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for SlowClients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn scrapes_answer_within_a_second_while_hundreds_of_idle_and_slow_clients_hold_connections() {
    raise_open_files(2048);
    let stanza = Stanza::local("exporter-abuse");
    // A header timeout long enough to hold every client open while scraping.
    let (mut exporter, addr) = start_exporter(&stanza, 300, &["--header-timeout", "15"]);
    metrics_with_data(&mut exporter, addr, &stanza.name);

    let held_from = Instant::now();
    let idle: Vec<TcpStream> = (0..500).map(|_| connect(addr)).collect();
    let slow = SlowClients::start(addr, 50);
    // Let the slow clients send part of their request first.
    std::thread::sleep(Duration::from_secs(1));
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(timed_scrape(addr, &stanza.name, SCRAPE_BOUND));
        std::thread::sleep(Duration::from_millis(200));
    }
    // The clients were all still held while the scrapes ran.
    let slow_open = slow.finish();
    assert!(
        held_from.elapsed() < Duration::from_secs(15),
        "the machine is too slow for this test: holding the clients took {:?}",
        held_from.elapsed()
    );
    assert_eq!(
        slow_open.len(),
        50,
        "a slow client was closed before its time"
    );
    let early = idle.iter().filter(|s| closed_by_server(s)).count();
    assert_eq!(early, 0, "idle clients closed before the header timeout");
    eprintln!("scrapes with 500 idle and 50 slow clients open: {times:?}");

    // The header timeout closes them all (15 s from connecting; generous bound).
    wait_for(
        Duration::from_secs(60),
        "the header timeout to close the clients",
        || {
            let open = idle
                .iter()
                .chain(slow_open.iter())
                .filter(|s| !closed_by_server(s))
                .count();
            (open == 0).then_some(())
        },
    );
    timed_scrape(addr, &stanza.name, SCRAPE_BOUND);
    let log = exporter.terminate();
    assert!(log.contains("at most 1024 connections"), "{log}");
}

#[test]
fn beyond_the_cap_a_connection_is_closed_at_once_and_a_kept_alive_one_after_its_lifetime() {
    let stanza = Stanza::local("exporter-cap");
    let (mut exporter, addr) = start_exporter(
        &stanza,
        300,
        &[
            "--max-connections",
            "20",
            "--header-timeout",
            "3",
            "--connection-lifetime",
            "4",
        ],
    );
    metrics_with_data(&mut exporter, addr, &stanza.name);
    // Leave time for the connection of the last scrape to be released.
    std::thread::sleep(Duration::from_millis(500));

    let idle: Vec<TcpStream> = (0..20).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut over = connect(addr);
    over.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 16];
    let started = Instant::now();
    let read = over.read(&mut buf);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset),
        "the connection over the cap was not closed at once: {read:?} after {:?}",
        started.elapsed()
    );
    assert!(
        http_get(addr, "/metrics", Duration::from_secs(2)).is_err(),
        "a scrape over the cap was served"
    );

    // The header timeout frees the slots; scrapes are served again.
    wait_for(
        Duration::from_secs(30),
        "the idle clients to be closed",
        || idle.iter().all(closed_by_server).then_some(()),
    );
    timed_scrape(addr, &stanza.name, SCRAPE_BOUND);

    // A kept-alive client asking again and again is closed after the lifetime (4 s).
    let mut kept = connect(addr);
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let closed_after = loop {
        let sent = write!(kept, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let mut answer = [0u8; 4096];
        match (sent, kept.read(&mut answer)) {
            (Ok(()), Ok(n)) if n > 0 => {}
            _ => break started.elapsed(),
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the kept-alive client was never closed"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        closed_after >= Duration::from_secs(3),
        "the kept-alive client was closed after {closed_after:?}, before its lifetime"
    );
    exporter.assert_running();
    let _: Proc = exporter;
}
