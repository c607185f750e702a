//! A minimal HTTP/1.1 server on `std::net`: `GET /metrics` and `GET /`, one connection at a
//! time, `Connection: close`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collect::{collect, lock, State};
use crate::exposition::Format;

/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Reads a request head (up to the blank line) from `stream`.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    }
}

fn serve_connection(mut stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let response = match read_head(&mut stream) {
        Some(head) => respond(&head, state),
        None => Response::text(
            "400 Bad Request",
            "the request head was incomplete or too long",
        ),
    };
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if response.send_body {
        let _ = stream.write_all(response.body.as_bytes());
    }
    let _ = stream.flush();
}

/// Whether `listener` has a connection waiting, waiting at most `timeout`.
fn readable(listener: &TcpListener, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: pfd is a valid pollfd that lives across the call; nfds is 1.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    r > 0 && pfd.revents & libc::POLLIN != 0
}

/// Accepts and serves connections until `stop` is set.
pub(crate) fn serve(listener: TcpListener, state: Arc<State>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if !readable(&listener, Duration::from_millis(100)) {
            continue;
        }
        // The listener is non-blocking: a connection reset before accept() must not hang.
        if let Ok((stream, _)) = listener.accept() {
            if stream.set_nonblocking(false).is_ok() {
                serve_connection(stream, &state);
            }
        }
    }
}
