//! The wire protocol between the runtime (host) and the agent (guest) on console line 1.
//!
//! Every message is one line of JSON ended by `\n`; binary payloads are base64 strings.
//!
//! Host → agent: a [`Request`], e.g. `{"id":7,"op":"exec","argv":["ip","-br","a"]}`.
//! The guest side of the line is a tty whose input buffer holds about 4 KiB, so the host never
//! writes a line longer than [`MAX_REQUEST_LINE`] and never has more than one line in flight:
//! it waits for the reply to each request (file chunks included) before sending the next.
//! A request whose JSON would be too long (a long `sh -c` script, a large stdin) is sent as
//! [`Op::Stage`] chunks of its JSON text; the agent runs it when the last chunk arrives and
//! answers with the inner request's `id`.
//!
//! Agent → host: an [`Event`]: `ready` once the configuration is applied, `failed` when a
//! configuration step failed, and `reply` (echoing the request's `id`) for each request.
//! Lines that are not protocol JSON (kernel noise before the agent takes the line) are ignored
//! by the host.

use serde::{Deserialize, Serialize};

/// The longest line (newline included) the host may send to the agent.
pub const MAX_REQUEST_LINE: usize = 3072;

/// Raw bytes per `put` chunk and per `stage` chunk.
pub const PUT_CHUNK: usize = 1024;

/// Raw bytes per `get` reply. Agent → host output has no tty input limit, so it is larger.
pub const GET_CHUNK: usize = 16 * 1024;

/// Exec output beyond this many bytes per stream is dropped and reported as truncated.
pub const MAX_EXEC_OUTPUT: usize = 4 << 20;

/// The most bytes of request JSON the agent accepts through [`Op::Stage`] chunks.
pub const MAX_STAGED: usize = 16 << 20;

/// A request from the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the host; the reply echoes it.
    pub id: u64,
    /// What to do.
    #[serde(flatten)]
    pub op: Op,
}

/// The operations the agent serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Liveness check; answered with [`Reply::Pong`].
    Ping,
    /// Runs `argv` directly (no shell) in a new process group; answered with [`Reply::Exec`].
    Exec {
        /// Program and arguments; the program is looked up on `PATH`.
        argv: Vec<String>,
        /// Bytes written to the process's stdin (then closed); `/dev/null` if absent.
        #[serde(
            default,
            with = "crate::base64::opt_bytes",
            skip_serializing_if = "Option::is_none"
        )]
        stdin: Option<Vec<u8>>,
        /// Kill the process group after this many milliseconds (default 30 s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Writes one chunk of a file. Offset 0 starts a new temporary file next to `path`; the
    /// chunk with `last` sets the mode and renames it over `path`. Answered with [`Reply::Put`].
    Put {
        /// Absolute path in the guest (parent directories are created).
        path: String,
        /// Permission bits applied with the last chunk.
        mode: u32,
        /// Where this chunk goes in the file.
        offset: u64,
        /// At most [`PUT_CHUNK`] bytes.
        #[serde(with = "crate::base64::bytes")]
        data: Vec<u8>,
        /// Whether this is the final chunk.
        last: bool,
    },
    /// Reads up to [`GET_CHUNK`] bytes of a file from `offset`; answered with [`Reply::Get`].
    Get {
        /// Absolute path in the guest.
        path: String,
        /// Where to read from.
        offset: u64,
    },
    /// The interface statistics report (`/proc/net/dev`, then each interface's driver
    /// statistics as `ethtool -S` prints them), read without spawning a process; answered
    /// with [`Reply::NetStats`].
    NetStats,
    /// One chunk of the JSON text of a request too long for one line. Chunks are
    /// acknowledged with [`Reply::Staged`]; the last one runs the assembled request.
    Stage {
        /// At most [`PUT_CHUNK`] bytes of request JSON.
        #[serde(with = "crate::base64::bytes")]
        data: Vec<u8>,
        /// Whether this chunk completes the request.
        last: bool,
    },
}

/// A message from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The whole configuration was applied.
    Ready,
    /// A configuration step failed; the agent stopped applying but keeps serving requests.
    Failed {
        /// Which step (`config-drive`, `modules`, `loopback`, `interfaces`, `sysctls`, `files`,
        /// `nftables`, `iptables`, `ip6tables`, `routes`, `exec`).
        step: String,
        /// The command (or action) that failed.
        command: String,
        /// Its stderr or the error message.
        error: String,
    },
    /// The answer to the request with the same `id`.
    Reply {
        /// The request's `id`.
        id: u64,
        /// The result.
        reply: Reply,
    },
}

/// The result of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to [`Op::Ping`].
    Pong,
    /// Answer to [`Op::Exec`].
    Exec {
        /// Exit code, or 128 + signal number if the process was killed.
        status: i32,
        /// Captured stdout (at most [`MAX_EXEC_OUTPUT`] bytes).
        #[serde(with = "crate::base64::bytes")]
        stdout: Vec<u8>,
        /// Captured stderr (at most [`MAX_EXEC_OUTPUT`] bytes).
        #[serde(with = "crate::base64::bytes")]
        stderr: Vec<u8>,
        /// Whether some output was dropped because of the cap.
        truncated: bool,
        /// Whether the process group was killed because the timeout passed.
        timed_out: bool,
    },
    /// Answer to [`Op::Put`].
    Put {
        /// Bytes written by this chunk.
        written: u64,
    },
    /// Answer to [`Op::Get`].
    Get {
        /// The bytes read.
        #[serde(with = "crate::base64::bytes")]
        data: Vec<u8>,
        /// Whether the end of the file was reached.
        eof: bool,
    },
    /// Answer to [`Op::NetStats`].
    NetStats {
        /// `/proc/net/dev`, then for every interface a line `== NAME` followed by its
        /// `ethtool -S` style statistics (nothing when the driver has none).
        report: String,
    },
    /// Acknowledges a non-final [`Op::Stage`] chunk.
    Staged {
        /// Bytes of request JSON staged so far.
        received: u64,
    },
    /// The request failed (bad path, spawn error, malformed request...).
    Error {
        /// What went wrong, as a sentence.
        message: String,
    },
}

/// Serializes `msg` as one protocol line (JSON plus `\n`).
pub fn encode_line<T: Serialize>(msg: &T) -> Vec<u8> {
    // Protocol types hold only strings, numbers and byte vectors: serialization cannot fail.
    let mut line = serde_json::to_vec(msg).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Parses one line as a message, ignoring surrounding whitespace and any noise before the
/// first `{` (e.g. a partial kernel message on the same line).
pub fn decode_line<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, serde_json::Error> {
    let start = line.iter().position(|&b| b == b'{').unwrap_or(0);
    let mut end = line.len();
    while end > start && line[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    serde_json::from_slice(&line[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_format() {
        let r = Request {
            id: 7,
            op: Op::Exec {
                argv: vec!["ip".into(), "a".into()],
                stdin: None,
                timeout_ms: None,
            },
        };
        let line = encode_line(&r);
        assert_eq!(
            line,
            b"{\"id\":7,\"op\":\"exec\",\"argv\":[\"ip\",\"a\"]}\n"
        );
        assert_eq!(decode_line::<Request>(&line).unwrap(), r);
    }

    #[test]
    fn requests_round_trip() {
        let ops = [
            Op::Ping,
            Op::Exec {
                argv: vec!["cat".into()],
                stdin: Some(vec![0, 10, 255]),
                timeout_ms: Some(1500),
            },
            Op::Put {
                path: "/tmp/f".into(),
                mode: 0o755,
                offset: 1024,
                data: vec![1; 1024],
                last: true,
            },
            Op::Get {
                path: "/etc/hostname".into(),
                offset: 0,
            },
            Op::NetStats,
            Op::Stage {
                data: b"{\"id\":1".to_vec(),
                last: false,
            },
        ];
        for (i, op) in ops.into_iter().enumerate() {
            let r = Request { id: i as u64, op };
            let line = encode_line(&r);
            assert!(line.len() <= MAX_REQUEST_LINE, "{} bytes", line.len());
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            assert_eq!(decode_line::<Request>(&line).unwrap(), r);
        }
    }

    #[test]
    fn events_round_trip() {
        let events = [
            Event::Ready,
            Event::Failed {
                step: "exec".into(),
                command: "sh -c false".into(),
                error: "exit status 1\n".into(),
            },
            Event::Reply {
                id: 3,
                reply: Reply::Exec {
                    status: 3,
                    stdout: b"out\n".to_vec(),
                    stderr: b"err\n".to_vec(),
                    truncated: false,
                    timed_out: false,
                },
            },
            Event::Reply {
                id: 4,
                reply: Reply::Get {
                    data: vec![9; 100],
                    eof: true,
                },
            },
            Event::Reply {
                id: 6,
                reply: Reply::NetStats {
                    report: "Inter-|\n== lo\n".into(),
                },
            },
            Event::Reply {
                id: 5,
                reply: Reply::Error {
                    message: "no such file".into(),
                },
            },
        ];
        for e in events {
            let line = encode_line(&e);
            assert_eq!(decode_line::<Event>(&line).unwrap(), e);
        }
        assert_eq!(
            encode_line(&Event::Ready),
            b"{\"event\":\"ready\"}\n".to_vec()
        );
    }

    #[test]
    fn decoding_skips_noise_and_rejects_garbage() {
        let e: Event = decode_line(b"\x1b[0m garbage {\"event\":\"ready\"}\r\n").unwrap();
        assert_eq!(e, Event::Ready);
        assert!(decode_line::<Event>(b"Linux version 6.1").is_err());
        assert!(decode_line::<Event>(b"{\"event\":\"bogus\"}").is_err());
        assert!(decode_line::<Request>(b"{\"id\":1,\"op\":\"exec\"}").is_err());
    }
}
