//! The host side of the agent protocol: [`AgentClient`] over the runtime's end of the agent
//! channel (a `UnixStream` connected to the guest's console 1).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::protocol::{
    decode_line, encode_line, Event, Op, Reply, Request, MAX_REQUEST_LINE, MAX_STAGED, PUT_CHUNK,
};

/// How much longer than an `exec`'s own timeout the host waits for its reply.
pub const EXEC_REPLY_GRACE: Duration = Duration::from_secs(5);

/// Lines longer than this from the agent are a protocol error (exec replies are at most about
/// 11 MB of JSON).
const MAX_EVENT_LINE: usize = 64 << 20;

/// A byte stream with a settable read timeout, as the agent channel needs.
pub trait Transport: Read + Write {
    /// Sets how long one `read` may block (`None`: forever).
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl Transport for UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// What went wrong talking to an agent.
#[derive(Debug, Error)]
pub enum AgentError {
    /// No answer within the timeout (or the guest killed an `exec` at its timeout).
    #[error("the agent of node {node} did not complete {op} within {timeout:?}")]
    Timeout {
        /// The operation (`wait_ready`, `ping`, `exec`, `put_file`, `get_file`).
        op: String,
        /// The node name given to [`AgentClient::with_node`], or `unknown`.
        node: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The channel reached end of file (the guest stopped).
    #[error(
        "the agent channel of node {node} was closed during {op}; the guest has probably stopped"
    )]
    Closed {
        /// The operation.
        op: String,
        /// The node name.
        node: String,
    },
    /// Reading or writing the channel failed.
    #[error("the agent channel of node {node} failed during {op}: {source}")]
    Io {
        /// The operation.
        op: String,
        /// The node name.
        node: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The agent reported that a configuration step failed.
    #[error("node {node} failed to apply its configuration at step {step} ({command}): {error}")]
    ConfigFailed {
        /// The node name.
        node: String,
        /// The step (`config-drive`, `hostname`, `modules`, `loopback`, `interfaces`,
        /// `sysctls`, `files`, `nftables`, `iptables`, `ip6tables`, `routes`, `exec`).
        step: String,
        /// The command or action that failed.
        command: String,
        /// Its stderr and exit status, or the error message.
        error: String,
    },
    /// The agent answered the request with an error.
    #[error("the agent of node {node} could not {op}: {message}")]
    Remote {
        /// The operation.
        op: String,
        /// The node name.
        node: String,
        /// The agent's message.
        message: String,
    },
    /// The agent answered with something the protocol does not allow here.
    #[error("the agent of node {node} answered {op} with an unexpected message: {message}")]
    Protocol {
        /// The operation.
        op: String,
        /// The node name.
        node: String,
        /// What was wrong.
        message: String,
    },
    /// The request itself cannot be sent.
    #[error("the {op} request for node {node} is not valid: {message}")]
    InvalidRequest {
        /// The operation.
        op: String,
        /// The node name.
        node: String,
        /// What is wrong and what would be valid.
        message: String,
    },
}

/// The result of [`AgentClient::exec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code, or 128 + signal number.
    pub status: i32,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
    /// Whether the agent dropped output beyond its cap (4 MiB per stream).
    pub truncated: bool,
}

/// Outcome of the configuration, once the agent reported it.
#[derive(Debug, Clone)]
enum ConfigState {
    Ready,
    Failed {
        step: String,
        command: String,
        error: String,
    },
}

/// A client of one guest's agent. Requests are sent one at a time; each waits for its reply.
#[derive(Debug)]
pub struct AgentClient<S: Transport> {
    stream: S,
    node: String,
    next_id: u64,
    buf: Vec<u8>,
    config: Option<ConfigState>,
}

impl<S: Transport> AgentClient<S> {
    /// Wraps the host end of an agent channel.
    pub fn new(stream: S) -> Self {
        AgentClient {
            stream,
            node: "unknown".into(),
            next_id: 1,
            buf: Vec::new(),
            config: None,
        }
    }

    /// Names the node in error messages.
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = node.into();
        self
    }

    /// The node name used in error messages.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Waits until the agent reports `ready` (Ok) or `failed` (Err([`AgentError::ConfigFailed`])).
    /// Lines that are not protocol JSON are ignored. Returns at once if already reported.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), AgentError> {
        let deadline = Deadline::new(timeout);
        loop {
            if let Some(state) = &self.config {
                return match state.clone() {
                    ConfigState::Ready => Ok(()),
                    ConfigState::Failed {
                        step,
                        command,
                        error,
                    } => Err(AgentError::ConfigFailed {
                        node: self.node.clone(),
                        step,
                        command,
                        error,
                    }),
                };
            }
            self.read_event("wait_ready", &deadline)?;
        }
    }

    /// Checks that the agent answers.
    pub fn ping(&mut self, timeout: Duration) -> Result<(), AgentError> {
        let deadline = Deadline::new(timeout);
        match self.request("ping", Op::Ping, &deadline)? {
            Reply::Pong => Ok(()),
            other => Err(self.unexpected("ping", &other)),
        }
    }

    /// Runs `argv` in the guest (directly, no shell: use `["sh", "-c", SCRIPT]` for one) with
    /// `stdin`. The guest kills the process group after `timeout` (then this returns
    /// [`AgentError::Timeout`]); the host waits [`EXEC_REPLY_GRACE`] longer for the reply.
    pub fn exec(
        &mut self,
        argv: &[impl AsRef<str>],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<ExecOutput, AgentError> {
        let op = Op::Exec {
            argv: argv.iter().map(|a| a.as_ref().to_string()).collect(),
            stdin: stdin.map(|s| s.to_vec()),
            timeout_ms: Some(timeout.as_millis().min(u64::MAX as u128) as u64),
        };
        let deadline = Deadline::new(timeout + EXEC_REPLY_GRACE);
        match self.request("exec", op, &deadline)? {
            Reply::Exec {
                timed_out: true, ..
            } => Err(AgentError::Timeout {
                op: "exec".into(),
                node: self.node.clone(),
                timeout,
            }),
            Reply::Exec {
                status,
                stdout,
                stderr,
                truncated,
                ..
            } => Ok(ExecOutput {
                status,
                stdout,
                stderr,
                truncated,
            }),
            other => Err(self.unexpected("exec", &other)),
        }
    }

    /// Writes `data` to `path` in the guest with permission bits `mode` (parent directories
    /// are created; the file appears atomically when complete). `timeout` covers the whole
    /// transfer.
    pub fn put_file(
        &mut self,
        path: &str,
        mode: u32,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), AgentError> {
        let deadline = Deadline::new(timeout);
        let mut offset = 0usize;
        loop {
            let end = (offset + PUT_CHUNK).min(data.len());
            let last = end == data.len();
            let op = Op::Put {
                path: path.to_string(),
                mode,
                offset: offset as u64,
                data: data[offset..end].to_vec(),
                last,
            };
            match self.request("put_file", op, &deadline)? {
                Reply::Put { written } if written == (end - offset) as u64 => {}
                other => return Err(self.unexpected("put_file", &other)),
            }
            if last {
                return Ok(());
            }
            offset = end;
        }
    }

    /// Reads the whole file at `path` in the guest. `timeout` covers the whole transfer.
    pub fn get_file(&mut self, path: &str, timeout: Duration) -> Result<Vec<u8>, AgentError> {
        let deadline = Deadline::new(timeout);
        let mut out = Vec::new();
        loop {
            let op = Op::Get {
                path: path.to_string(),
                offset: out.len() as u64,
            };
            match self.request("get_file", op, &deadline)? {
                Reply::Get { data, eof } => {
                    out.extend_from_slice(&data);
                    if eof {
                        return Ok(out);
                    }
                    if data.is_empty() {
                        return Err(AgentError::Protocol {
                            op: "get_file".into(),
                            node: self.node.clone(),
                            message: "an empty chunk that is not the end of the file".into(),
                        });
                    }
                }
                other => return Err(self.unexpected("get_file", &other)),
            }
        }
    }

    /// The guest's interface statistics report (see [`Op::NetStats`]), read by the agent
    /// itself: no process is spawned in the guest.
    pub fn net_stats(&mut self, timeout: Duration) -> Result<String, AgentError> {
        let deadline = Deadline::new(timeout);
        match self.request("net_stats", Op::NetStats, &deadline)? {
            Reply::NetStats { report } => Ok(report),
            other => Err(self.unexpected("net_stats", &other)),
        }
    }

    fn unexpected(&self, op: &str, reply: &Reply) -> AgentError {
        match reply {
            Reply::Error { message } => AgentError::Remote {
                op: op.into(),
                node: self.node.clone(),
                message: message.clone(),
            },
            other => AgentError::Protocol {
                op: op.into(),
                node: self.node.clone(),
                message: format!("{other:?}"),
            },
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends one request (staged in chunks if its line would be too long) and returns its
    /// reply.
    fn request(&mut self, opname: &str, op: Op, deadline: &Deadline) -> Result<Reply, AgentError> {
        let id = self.take_id();
        let line = encode_line(&Request { id, op });
        if line.len() <= MAX_REQUEST_LINE {
            self.send(opname, &line)?;
            return self.await_reply(opname, &[id], deadline);
        }
        let json = &line[..line.len() - 1];
        if json.len() > MAX_STAGED {
            return Err(AgentError::InvalidRequest {
                op: opname.into(),
                node: self.node.clone(),
                message: format!(
                    "it is {} bytes of JSON, but at most {MAX_STAGED} can be sent (put large stdin in a file with put_file instead)",
                    json.len()
                ),
            });
        }
        let chunks: Vec<&[u8]> = json.chunks(PUT_CHUNK).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let sid = self.take_id();
            let stage = encode_line(&Request {
                id: sid,
                op: Op::Stage {
                    data: chunk.to_vec(),
                    last,
                },
            });
            self.send(opname, &stage)?;
            if last {
                // The agent answers with the inner id, or with the chunk's id if the
                // assembled request was rejected.
                return self.await_reply(opname, &[id, sid], deadline);
            }
            match self.await_reply(opname, &[sid], deadline)? {
                Reply::Staged { .. } => {}
                other => return Err(self.unexpected(opname, &other)),
            }
        }
        Err(AgentError::InvalidRequest {
            op: opname.into(),
            node: self.node.clone(),
            message: "the request is empty".into(),
        })
    }

    fn send(&mut self, op: &str, line: &[u8]) -> Result<(), AgentError> {
        self.stream
            .write_all(line)
            .and_then(|_| self.stream.flush())
            .map_err(|source| self.io_error(op, source))
    }

    fn await_reply(
        &mut self,
        op: &str,
        ids: &[u64],
        deadline: &Deadline,
    ) -> Result<Reply, AgentError> {
        loop {
            if let Event::Reply { id, reply } = self.read_event(op, deadline)? {
                if ids.contains(&id) {
                    return Ok(reply);
                }
                // A late reply to an earlier request that timed out: drop it.
            }
        }
    }

    /// Reads lines until one is a protocol event; records `ready`/`failed`.
    fn read_event(&mut self, op: &str, deadline: &Deadline) -> Result<Event, AgentError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                let Ok(event) = decode_line::<Event>(&line) else {
                    continue; // console noise, not protocol JSON
                };
                match &event {
                    Event::Ready => self.config = Some(ConfigState::Ready),
                    Event::Failed {
                        step,
                        command,
                        error,
                    } => {
                        self.config = Some(ConfigState::Failed {
                            step: step.clone(),
                            command: command.clone(),
                            error: error.clone(),
                        })
                    }
                    Event::Reply { .. } => {}
                }
                return Ok(event);
            }
            if self.buf.len() > MAX_EVENT_LINE {
                self.buf.clear();
                return Err(AgentError::Protocol {
                    op: op.into(),
                    node: self.node.clone(),
                    message: format!("a line longer than {MAX_EVENT_LINE} bytes"),
                });
            }
            let remaining = deadline.remaining();
            if remaining.is_zero() {
                return Err(self.timeout(op, deadline));
            }
            let io_err = |source| AgentError::Io {
                op: op.into(),
                node: self.node.clone(),
                source,
            };
            self.stream
                .set_read_timeout(Some(remaining))
                .map_err(io_err)?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(AgentError::Closed {
                        op: op.into(),
                        node: self.node.clone(),
                    })
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(self.timeout(op, deadline));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.io_error(op, source)),
            }
        }
    }

    /// An I/O error; a reset or broken connection means the guest end is gone.
    fn io_error(&self, op: &str, source: io::Error) -> AgentError {
        match source.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => AgentError::Closed {
                op: op.into(),
                node: self.node.clone(),
            },
            _ => AgentError::Io {
                op: op.into(),
                node: self.node.clone(),
                source,
            },
        }
    }

    fn timeout(&self, op: &str, deadline: &Deadline) -> AgentError {
        AgentError::Timeout {
            op: op.into(),
            node: self.node.clone(),
            timeout: deadline.total,
        }
    }
}

struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    fn new(total: Duration) -> Self {
        let now = Instant::now();
        Deadline {
            // A huge timeout means "practically forever", not an overflow panic.
            end: now
                .checked_add(total)
                .unwrap_or_else(|| now + Duration::from_secs(1 << 30)),
            total,
        }
    }
    fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }
}
