//! The control socket's protocol (`umlvnf::control`): requests as the runtime reads them and
//! replies as the CLI reads them.

use std::io::Write;
use std::os::unix::net::UnixStream;

use umlvnf::control::{read_request, Reply, Request};

use super::{json_kind, tag};
use crate::{fnv, Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "control",
    about: "control::read_request (the runtime's side, over a socket pair for one input in \
            eight) and the parsing of requests and replies, with their re-encoding",
    run,
    max_len: 4096,
    dictionary: &[
        b"{\"op\":\"capture\",\"link\":\"link0\"}",
        b"\"op\":\"link_set\"",
        b"\"impair\":{\"loss\":\"5%\"}",
        b"\"op\":\"exec\"",
        b"\"timeout_ms\":18446744073709551615",
        b"\"wires\":[]",
        b"\"ok\":true",
        b"\n",
        b"\\ud800",
        b"1e999",
        b"null",
    ],
};

fn run(data: &[u8], out: &mut Outcomes) {
    // The runtime reads up to the first newline, then parses that line.
    let line = match data.iter().position(|&b| b == b'\n') {
        Some(end) => &data[..end],
        None => data,
    };
    let parsed = serde_json::from_slice::<Request>(line);
    if fnv(data) & 7 == 0 {
        let (mut a, b) = UnixStream::pair().expect("a socket pair");
        a.write_all(data)
            .expect("the socket buffer holds the input");
        a.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let read = read_request(&b);
        assert_eq!(
            read.is_ok(),
            parsed.is_ok(),
            "read_request and the line's parse disagree: {read:?}"
        );
    }
    let request = match parsed {
        Ok(r) => {
            let json = serde_json::to_value(&r).expect("a request encodes");
            let again: Request = serde_json::from_value(json.clone()).expect("it decodes");
            assert_eq!(serde_json::to_value(&again).ok(), Some(json.clone()));
            tag(&format!(
                "request {}",
                json["op"].as_str().unwrap_or_default()
            ))
        }
        Err(e) => json_kind("request", &e),
    };
    let reply = match serde_json::from_slice::<Reply>(line) {
        Ok(r) => {
            let json = serde_json::to_value(&r).expect("a reply encodes");
            let again: Reply = serde_json::from_value(json.clone()).expect("it decodes");
            assert_eq!(serde_json::to_value(&again).ok(), Some(json));
            tag(if r.is_ok() { "reply ok" } else { "reply error" })
        }
        Err(e) => json_kind("reply", &e),
    };
    out.add(request);
    out.add(reply);
}
