//! A minimal HTTP/1.1 server on `std::net`: `GET /metrics` and `GET /`, `Connection: close`,
//! every connection served by one non-blocking thread so that no client can stall another.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collect::{collect, lock, State};
use crate::exposition::Format;

/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take, in all, to send its request head after connecting.
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client may take, in all, to take the whole answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once; a new one beyond this closes the oldest still sending its head.
const MAX_CONNECTIONS: usize = 64;
/// Longest wait between two checks of the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// An HTTP answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: String,
    /// Whether the body is sent (false for `HEAD`).
    pub send_body: bool,
}

impl Response {
    fn text(status: &'static str, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
            send_body: true,
        }
    }
}

/// Picks the exposition format: `?format=prometheus|openmetrics` wins, then the `Accept`
/// header (OpenMetrics unless only `text/plain` is asked for).
pub(crate) fn negotiate(query: Option<&str>, accept: Option<&str>) -> Format {
    if let Some(q) = query {
        for pair in q.split('&') {
            match pair {
                "format=prometheus" | "format=text" => return Format::Prometheus,
                "format=openmetrics" => return Format::OpenMetrics,
                _ => {}
            }
        }
    }
    match accept {
        Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
        Some(a) if a.contains("text/plain") => Format::Prometheus,
        _ => Format::OpenMetrics,
    }
}

/// Answers one request head (request line and headers, without the blank line).
pub(crate) fn respond(head: &str, state: &State) -> Response {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Response::text("400 Bad Request", "malformed request line");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::text("505 HTTP Version Not Supported", "only HTTP/1.x is served");
    }
    let accept = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("accept")
            .then(|| value.trim())
    });
    let send_body = match method {
        "GET" => true,
        "HEAD" => false,
        _ => {
            return Response::text(
                "405 Method Not Allowed",
                "only GET and HEAD are served here",
            )
        }
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut response = match path {
        "/metrics" => {
            let started = Instant::now();
            let format = negotiate(query, accept);
            let body = collect(state).encode(format);
            *lock(&state.last_scrape) = Some(started.elapsed());
            Response {
                status: "200 OK",
                content_type: format.content_type(),
                body,
                send_body: true,
            }
        }
        "/" => Response {
            status: "200 OK",
            content_type: "text/html; charset=utf-8",
            body: "<!DOCTYPE html>\n<html><head><title>umlvnf metrics</title></head><body>\
                   <h1>umlvnf</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n"
                .to_string(),
            send_body: true,
        },
        _ => Response::text("404 Not Found", "not found: the metrics are at /metrics"),
    };
    response.send_body = send_body;
    response
}

/// Where the request head ends: the index of the blank line's `\r\n\r\n`.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The bytes of an answer: status line, headers and (unless `HEAD`) the body.
fn encode(response: &Response) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    if response.send_body {
        out.extend_from_slice(response.body.as_bytes());
    }
    out
}

/// What a connection is doing.
enum Phase {
    /// Reading the request head, which must be complete by `deadline`.
    Reading { buf: Vec<u8>, deadline: Instant },
    /// Writing the answer from `pos` on, which must be sent by `deadline`.
    Writing {
        out: Vec<u8>,
        pos: usize,
        deadline: Instant,
    },
}

/// One client connection (non-blocking socket).
struct Conn {
    stream: TcpStream,
    accepted: Instant,
    phase: Phase,
}

/// What to do with a connection after it was serviced.
#[derive(PartialEq, Eq)]
enum Next {
    Keep,
    Close,
}

impl Conn {
    fn new(stream: TcpStream, now: Instant) -> Conn {
        Conn {
            stream,
            accepted: now,
            phase: Phase::Reading {
                buf: Vec::with_capacity(1024),
                deadline: now + HEAD_TIMEOUT,
            },
        }
    }

    fn deadline(&self) -> Instant {
        match &self.phase {
            Phase::Reading { deadline, .. } | Phase::Writing { deadline, .. } => *deadline,
        }
    }

    fn reading(&self) -> bool {
        matches!(self.phase, Phase::Reading { .. })
    }

    /// Starts sending `response`, and sends what the socket takes now.
    fn answer(&mut self, response: &Response, now: Instant) -> Next {
        self.phase = Phase::Writing {
            out: encode(response),
            pos: 0,
            deadline: now + WRITE_TIMEOUT,
        };
        self.write()
    }

    /// Reads what has arrived; answers once the head is complete (or too long).
    fn read(&mut self, state: &State, now: Instant) -> Next {
        let Phase::Reading { buf, .. } = &mut self.phase else {
            return Next::Keep;
        };
        let mut chunk = [0u8; 1024];
        let response = loop {
            match self.stream.read(&mut chunk) {
                Ok(0) if buf.is_empty() => return Next::Close,
                Ok(0) => {
                    break Response::text(
                        "400 Bad Request",
                        "the connection was closed before the request head was complete",
                    )
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = head_end(buf) {
                        break respond(&String::from_utf8_lossy(&buf[..end]), state);
                    }
                    if buf.len() > MAX_HEAD {
                        break Response::text(
                            "431 Request Header Fields Too Large",
                            "the request head is longer than 16 KiB",
                        );
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Next::Close,
            }
        };
        self.answer(&response, now)
    }

    /// Sends what the socket takes of the answer; closes once all of it is sent.
    fn write(&mut self) -> Next {
        let Phase::Writing { out, pos, .. } = &mut self.phase else {
            return Next::Keep;
        };
        while *pos < out.len() {
            match self.stream.write(&out[*pos..]) {
                Ok(0) => return Next::Close,
                Ok(n) => *pos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Next::Close,
            }
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        Next::Close
    }

    /// Handles a passed deadline: a client that sent part of a head is told so, any other
    /// connection is closed.
    fn expire(&mut self, now: Instant) -> Next {
        match &self.phase {
            Phase::Reading { buf, .. } if !buf.is_empty() => self.answer(
                &Response::text(
                    "408 Request Timeout",
                    "the request head was not complete within 2 s",
                ),
                now,
            ),
            _ => Next::Close,
        }
    }
}

/// Waits until one of `fds` is ready or `timeout` passed; false when `poll` failed.
fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> bool {
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: fds points to fds.len() valid, initialised pollfd structures that outlive the
    // call; poll only writes their revents fields.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    r >= 0
}

/// Accepts and serves connections until `stop` is set.
///
/// One thread serves every connection with non-blocking sockets, so a client that sends
/// nothing or trickles its request never delays another: each has [`HEAD_TIMEOUT`] in all to
/// send its request head and [`WRITE_TIMEOUT`] in all to take the answer. At most
/// [`MAX_CONNECTIONS`] are open at once; a new connection beyond that closes the oldest one
/// still waiting for its request (or, when all are being answered, is itself closed).
pub(crate) fn serve(listener: TcpListener, state: Arc<State>, stop: Arc<AtomicBool>) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = conns
            .iter()
            .map(|c| c.deadline().saturating_duration_since(now))
            .fold(POLL_INTERVAL, Duration::min);
        fds.clear();
        fds.push(libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.extend(conns.iter().map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: if c.reading() {
                libc::POLLIN
            } else {
                libc::POLLOUT
            },
            revents: 0,
        }));
        if !poll(&mut fds, wait) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let now = Instant::now();
        // Existing connections first, so that a complete request is answered before a new
        // connection can push it out.
        let mut i = 0;
        conns.retain_mut(|c| {
            i += 1;
            let revents = fds[i].revents;
            let mut next = Next::Keep;
            if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 && c.reading() {
                next = c.read(&state, now);
            } else if revents & (libc::POLLOUT | libc::POLLHUP | libc::POLLERR) != 0 {
                next = c.write();
            }
            if next == Next::Keep && now >= c.deadline() {
                next = c.expire(now);
            }
            next == Next::Keep
        });
        if fds[0].revents & libc::POLLIN == 0 {
            continue;
        }
        // The listener is non-blocking: a connection reset before accept() must not hang.
        loop {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue
                }
                Err(_) => {
                    // Out of file descriptors or memory: let the clients wait in the backlog
                    // instead of spinning on a listener that stays readable.
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            if conns.len() >= MAX_CONNECTIONS {
                let oldest = conns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.reading())
                    .min_by_key(|(_, c)| c.accepted)
                    .map(|(i, _)| i);
                match oldest {
                    Some(i) => drop(conns.swap_remove(i)),
                    None => continue,
                }
            }
            let mut conn = Conn::new(stream, now);
            // Most clients send their request with the connection: answer it right away.
            if conn.read(&state, now) == Next::Keep {
                conns.push(conn);
            }
        }
    }
}
