//! Answering requests: one line in, one [`Event::Reply`] out.

use std::time::Duration;

use super::exec;
use super::files;
use super::netstats;
use super::supervisor::Supervisor;
use crate::protocol::{self, Event, Op, Reply, Request, MAX_STAGED};

/// Default timeout of an `exec` request without `timeout_ms`.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// Request handler state (the staging buffer of over-long requests).
#[derive(Debug, Default)]
pub struct Server {
    staged: Vec<u8>,
}

fn error(message: impl Into<String>) -> Reply {
    Reply::Error {
        message: message.into(),
    }
}

impl Server {
    /// A handler with nothing staged.
    pub fn new() -> Self {
        Server::default()
    }

    /// Handles one request line; returns the reply to send, if the line had an `id`.
    pub fn handle_line(&mut self, sup: &mut Supervisor, line: &[u8]) -> Option<Event> {
        match protocol::decode_line::<Request>(line) {
            Ok(req) => Some(self.handle(sup, req)),
            Err(e) => {
                // Answer if at least the id can be found, so the host does not wait in vain.
                let start = line.iter().position(|&b| b == b'{').unwrap_or(0);
                let id = serde_json::from_slice::<serde_json::Value>(&line[start..])
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_u64()));
                match id {
                    Some(id) => Some(Event::Reply {
                        id,
                        reply: error(format!("the request is not valid: {e}")),
                    }),
                    None => {
                        super::log(format_args!(
                            "ignoring a line that is not a request ({} bytes): {e}",
                            line.len()
                        ));
                        None
                    }
                }
            }
        }
    }

    /// Handles one decoded request.
    pub fn handle(&mut self, sup: &mut Supervisor, req: Request) -> Event {
        let id = req.id;
        let reply = match req.op {
            Op::Stage { data, last } => {
                if self.staged.len() + data.len() > MAX_STAGED {
                    self.staged.clear();
                    error(format!(
                        "the staged request is larger than the {MAX_STAGED} bytes allowed"
                    ))
                } else {
                    self.staged.extend_from_slice(&data);
                    if !last {
                        Reply::Staged {
                            received: self.staged.len() as u64,
                        }
                    } else {
                        let text = std::mem::take(&mut self.staged);
                        match serde_json::from_slice::<Request>(&text) {
                            Ok(Request {
                                op: Op::Stage { .. },
                                ..
                            }) => error("a staged request cannot itself be a stage chunk"),
                            Ok(inner) => return self.handle(sup, inner),
                            Err(e) => error(format!("the staged request is not valid: {e}")),
                        }
                    }
                }
            }
            op => {
                self.staged.clear();
                run_op(sup, op)
            }
        };
        Event::Reply { id, reply }
    }
}

fn run_op(sup: &mut Supervisor, op: Op) -> Reply {
    match op {
        Op::Ping => Reply::Pong,
        Op::Exec {
            argv,
            stdin,
            timeout_ms,
        } => {
            let timeout = timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_EXEC_TIMEOUT);
            match exec::run(sup, &argv, stdin.as_deref(), timeout) {
                Ok(r) => Reply::Exec {
                    status: r.status,
                    stdout: r.stdout,
                    stderr: r.stderr,
                    truncated: r.truncated,
                    timed_out: r.timed_out,
                },
                Err(e) => error(e.to_string()),
            }
        }
        Op::Put {
            path,
            mode,
            offset,
            data,
            last,
        } => match files::put(&path, mode, offset, &data, last) {
            Ok(written) => Reply::Put { written },
            Err(e) => error(format!("writing {path} failed: {e}")),
        },
        Op::Get { path, offset } => match files::get(&path, offset) {
            Ok((data, eof)) => Reply::Get { data, eof },
            Err(e) => error(format!("reading {path} failed: {e}")),
        },
        Op::NetStats => match netstats::report() {
            Ok(report) => Reply::NetStats { report },
            Err(e) => error(format!("reading the interface statistics failed: {e}")),
        },
        Op::Stage { .. } => error("a stage chunk was not expected here"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::encode_line;

    #[test]
    fn ping_exec_and_bad_lines() {
        let mut s = Server::new();
        let mut sup = Supervisor::new(false);
        let r = s.handle_line(&mut sup, b"{\"id\":1,\"op\":\"ping\"}\n");
        assert_eq!(
            r,
            Some(Event::Reply {
                id: 1,
                reply: Reply::Pong
            })
        );
        let r = s.handle_line(&mut sup, b"{\"id\":2,\"op\":\"fly\"}\n");
        assert!(matches!(
            r,
            Some(Event::Reply {
                id: 2,
                reply: Reply::Error { .. }
            })
        ));
        assert_eq!(s.handle_line(&mut sup, b"garbage\n"), None);
    }

    #[test]
    fn staged_request_runs_with_inner_id() {
        let mut s = Server::new();
        let mut sup = Supervisor::new(false);
        let script = format!("printf %s {}", "x".repeat(5000));
        let inner = Request {
            id: 99,
            op: Op::Exec {
                argv: vec!["sh".into(), "-c".into(), script],
                stdin: None,
                timeout_ms: None,
            },
        };
        let json = encode_line(&inner);
        let chunks: Vec<&[u8]> = json.chunks(1024).collect();
        let mut last_event = None;
        for (i, c) in chunks.iter().enumerate() {
            let req = Request {
                id: i as u64,
                op: Op::Stage {
                    data: c.to_vec(),
                    last: i + 1 == chunks.len(),
                },
            };
            last_event = Some(s.handle(&mut sup, req));
        }
        match last_event.unwrap() {
            Event::Reply {
                id: 99,
                reply: Reply::Exec { status, stdout, .. },
            } => {
                assert_eq!(status, 0);
                assert_eq!(stdout, vec![b'x'; 5000]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
