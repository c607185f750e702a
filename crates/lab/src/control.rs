//! The control socket of a running lab: one JSON request per connection, one JSON reply
//! (and, for `console` and `capture`, a raw byte stream afterwards).
//!
//! [`Client`] asks a lab's runtime for one thing at a time and hands back what that request
//! yields; [`read_request`] and [`write_reply`] are the runtime's side.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use umlvnf_topology::Impairment;

use crate::layout::LabDir;
use crate::status::{ExecResult, LabStatus, WireStatus};

/// A request to the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Live status of every node.
    Status,
    /// Run a command in a guest.
    Exec {
        /// Guest name.
        node: String,
        /// Program and arguments.
        argv: Vec<String>,
        /// Standard input.
        stdin: Option<Vec<u8>>,
        /// Timeout in milliseconds.
        timeout_ms: u64,
    },
    /// Copy a file into a guest.
    Put {
        /// Guest name.
        node: String,
        /// Path in the guest.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Content.
        data: Vec<u8>,
    },
    /// Copy a file out of a guest.
    Get {
        /// Guest name.
        node: String,
        /// Path in the guest.
        path: String,
    },
    /// Attach to a guest's console; the connection then carries raw bytes both ways.
    Console {
        /// Guest name.
        node: String,
    },
    /// Tear the lab down; the reply comes when it is gone.
    Down,
    /// Stream a pcap capture of a wire; the connection then carries the pcap stream until the
    /// client closes it.
    Capture {
        /// Wire name (`link3`) or one of its endpoints.
        link: String,
    },
    /// Change a wire at run time.
    LinkSet {
        /// Wire name (`link3`) or one of its endpoints.
        link: String,
        /// Only the frames this endpoint sends; both directions when absent.
        from: Option<String>,
        /// New impairment of the direction(s), replacing the old one (absent fields impair
        /// nothing); `None` keeps it. Its values travel as text (`"10%"`, `"5ms"`, `"100mbit"`)
        /// and are read by the same parser as a topology's `impair`.
        impair: Option<Impairment>,
        /// Bring the wire up or down.
        up: Option<bool>,
    },
    /// Counters of every wire.
    Links,
}

/// The supervisor's reply: what the request yields, or why it was refused.
///
/// On the socket it is one JSON object, `{"ok": …, "error": …, "status": …, "exec": …,
/// "data": …, "wires": …}`, with at most one of the last four set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "ReplyFields", into = "ReplyFields")]
pub enum Reply {
    /// Done, nothing to hand back (`put`, `down`, `link_set`, and before a stream).
    Done,
    /// The lab's status, for `status`.
    Status(Box<LabStatus>),
    /// A command's result, for `exec`.
    Exec(ExecResult),
    /// A file's content, for `get`.
    Data(Vec<u8>),
    /// Wire counters, for `links`.
    Wires(Vec<WireStatus>),
    /// The request was refused or failed; the message says why.
    Refused(String),
}

impl Reply {
    /// Whether the request succeeded.
    pub fn is_ok(&self) -> bool {
        !matches!(self, Reply::Refused(_))
    }

    /// A reply refusing the request.
    pub fn refused(message: impl Into<String>) -> Reply {
        Reply::Refused(message.into())
    }

    /// Turns a refusal into [`ControlError::Refused`].
    pub fn into_result(self) -> Result<Reply, ControlError> {
        match self {
            Reply::Refused(message) => Err(ControlError::Refused(message)),
            reply => Ok(reply),
        }
    }
}

/// The reply as it travels: a success flag and one optional field per kind of result.
#[derive(Clone, Serialize, Deserialize)]
struct ReplyFields {
    ok: bool,
    error: Option<String>,
    status: Option<Box<LabStatus>>,
    exec: Option<ExecResult>,
    data: Option<Vec<u8>>,
    #[serde(default)]
    wires: Option<Vec<WireStatus>>,
}

impl From<ReplyFields> for Reply {
    fn from(f: ReplyFields) -> Reply {
        if !f.ok {
            return Reply::Refused(f.error.unwrap_or_default());
        }
        if let Some(s) = f.status {
            Reply::Status(s)
        } else if let Some(e) = f.exec {
            Reply::Exec(e)
        } else if let Some(d) = f.data {
            Reply::Data(d)
        } else if let Some(w) = f.wires {
            Reply::Wires(w)
        } else {
            Reply::Done
        }
    }
}

impl From<Reply> for ReplyFields {
    fn from(r: Reply) -> ReplyFields {
        let mut f = ReplyFields {
            ok: true,
            error: None,
            status: None,
            exec: None,
            data: None,
            wires: None,
        };
        match r {
            Reply::Done => {}
            Reply::Status(s) => f.status = Some(s),
            Reply::Exec(e) => f.exec = Some(e),
            Reply::Data(d) => f.data = Some(d),
            Reply::Wires(w) => f.wires = Some(w),
            Reply::Refused(message) => {
                f.ok = false;
                f.error = Some(message);
            }
        }
        f
    }
}

/// Why talking to a lab's runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No runtime answers on the socket.
    #[error("the runtime of lab `{lab}` does not answer on {path}: {source}")]
    Unreachable {
        /// Lab.
        lab: String,
        /// Socket path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The connection broke or the reply was not understood.
    #[error("lab `{lab}`: {message}")]
    Protocol {
        /// Lab.
        lab: String,
        /// What happened.
        message: String,
    },
    /// The runtime refused the request; its message says why.
    #[error("{0}")]
    Refused(String),
    /// The runtime said yes but sent not what the request yields.
    #[error("the runtime sent no result")]
    NoResult,
}

/// Sends one request and reads the reply; returns the stream for `console` and `capture`.
pub fn call(
    lab: &str,
    socket: &Path,
    request: &Request,
    timeout: Option<Duration>,
) -> Result<(Reply, UnixStream), ControlError> {
    let unreachable = |source| ControlError::Unreachable {
        lab: lab.to_string(),
        path: socket.display().to_string(),
        source,
    };
    let proto = |message: String| ControlError::Protocol {
        lab: lab.to_string(),
        message,
    };
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
    stream
        .set_read_timeout(timeout)
        .map_err(|e| proto(e.to_string()))?;
    let mut line = serde_json::to_vec(request).map_err(|e| proto(e.to_string()))?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| proto(format!("sending the request failed: {e}")))?;
    let mut reply = String::new();
    if matches!(request, Request::Console { .. } | Request::Capture { .. }) {
        // The console's raw bytes follow the reply: read no further than its newline.
        let bytes = read_line_unbuffered(&stream)
            .map_err(|e| proto(format!("no reply from the runtime: {e}")))?;
        reply = String::from_utf8_lossy(&bytes).into_owned();
    } else {
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| proto(e.to_string()))?);
        reader
            .read_line(&mut reply)
            .map_err(|e| proto(format!("no reply from the runtime: {e}")))?;
    }
    if reply.is_empty() {
        return Err(proto(
            "the runtime closed the connection without a reply".into(),
        ));
    }
    let reply: Reply =
        serde_json::from_str(&reply).map_err(|e| proto(format!("unreadable reply: {e}")))?;
    stream.set_read_timeout(None).ok();
    Ok((reply, stream))
}

/// Reads one request from a connection.
pub fn read_request(stream: &UnixStream) -> std::io::Result<Request> {
    let line = read_line_unbuffered(stream)?;
    serde_json::from_slice(&line)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Longest request line accepted (file copies carry their data inline).
const MAX_LINE: usize = 64 << 20;

/// Reads up to and including a newline, one byte at a time, so that nothing after it is
/// consumed (a console stream follows some lines).
fn read_line_unbuffered(mut stream: &UnixStream) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut line = Vec::new();
    let mut chunk = [0u8; 1];
    loop {
        match stream.read(&mut chunk)? {
            0 => break,
            _ if chunk[0] == b'\n' => break,
            _ => line.push(chunk[0]),
        }
        if line.len() > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request line too long",
            ));
        }
    }
    Ok(line)
}

/// Writes one reply.
pub fn write_reply(mut stream: &UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// The runtime of one lab, asked one request per connection: each method sends its request
/// and returns what it yields, a refusal as [`ControlError::Refused`].
#[derive(Debug, Clone)]
pub struct Client {
    lab: String,
    socket: PathBuf,
}

impl Client {
    /// The runtime listening on `socket` for lab `lab`.
    pub fn new(lab: &str, socket: impl Into<PathBuf>) -> Client {
        Client {
            lab: lab.to_string(),
            socket: socket.into(),
        }
    }

    /// The runtime of lab `lab`, at its socket in the labs directory.
    pub fn of(lab: &str) -> Client {
        Client::new(lab, LabDir::of(lab).control_socket())
    }

    /// Sends `request` and reads the reply, a refusal as an error.
    pub fn ask(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<(Reply, UnixStream), ControlError> {
        let (reply, stream) = call(&self.lab, &self.socket, request, Some(timeout))?;
        Ok((reply.into_result()?, stream))
    }

    fn done(&self, request: &Request, timeout: Duration) -> Result<(), ControlError> {
        self.ask(request, timeout).map(drop)
    }

    /// The live status of every node.
    pub fn status(&self, timeout: Duration) -> Result<LabStatus, ControlError> {
        match self.ask(&Request::Status, timeout)?.0 {
            Reply::Status(s) => Ok(*s),
            _ => Err(ControlError::NoResult),
        }
    }

    /// Runs `argv` in guest `node`, giving it `limit` (the reply may take `timeout`).
    pub fn exec(
        &self,
        node: &str,
        argv: &[String],
        stdin: Option<Vec<u8>>,
        limit: Duration,
        timeout: Duration,
    ) -> Result<ExecResult, ControlError> {
        let request = Request::Exec {
            node: node.to_string(),
            argv: argv.to_vec(),
            stdin,
            timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        };
        match self.ask(&request, timeout)?.0 {
            Reply::Exec(r) => Ok(r),
            _ => Err(ControlError::NoResult),
        }
    }

    /// Copies `data` to `path` in guest `node` with permission bits `mode`.
    pub fn put(
        &self,
        node: &str,
        path: &str,
        mode: u32,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), ControlError> {
        let request = Request::Put {
            node: node.to_string(),
            path: path.to_string(),
            mode,
            data,
        };
        self.done(&request, timeout)
    }

    /// The content of `path` in guest `node`.
    pub fn get(&self, node: &str, path: &str, timeout: Duration) -> Result<Vec<u8>, ControlError> {
        let request = Request::Get {
            node: node.to_string(),
            path: path.to_string(),
        };
        match self.ask(&request, timeout)?.0 {
            Reply::Data(d) => Ok(d),
            _ => Err(ControlError::NoResult),
        }
    }

    /// Tears the lab down; returns when it is gone.
    pub fn down(&self, timeout: Duration) -> Result<(), ControlError> {
        self.done(&Request::Down, timeout)
    }

    /// Counters of every wire.
    pub fn links(&self, timeout: Duration) -> Result<Vec<WireStatus>, ControlError> {
        match self.ask(&Request::Links, timeout)?.0 {
            Reply::Wires(w) => Ok(w),
            Reply::Done => Ok(Vec::new()),
            _ => Err(ControlError::NoResult),
        }
    }

    /// Changes a wire (see [`Request::LinkSet`]).
    pub fn link_set(
        &self,
        link: &str,
        from: Option<String>,
        impair: Option<Impairment>,
        up: Option<bool>,
        timeout: Duration,
    ) -> Result<(), ControlError> {
        let request = Request::LinkSet {
            link: link.to_string(),
            from,
            impair,
            up,
        };
        self.done(&request, timeout)
    }

    /// Attaches to guest `node`'s console: the stream carries its bytes both ways.
    pub fn console(&self, node: &str, timeout: Duration) -> Result<UnixStream, ControlError> {
        let request = Request::Console {
            node: node.to_string(),
        };
        Ok(self.ask(&request, timeout)?.1)
    }

    /// Starts a pcap capture of wire `link`: the stream carries it until closed.
    pub fn capture(&self, link: &str, timeout: Duration) -> Result<UnixStream, ControlError> {
        let request = Request::Capture {
            link: link.to_string(),
        };
        Ok(self.ask(&request, timeout)?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_keep_their_json_shape() {
        let done = serde_json::to_value(Reply::Done).expect("encodes");
        assert_eq!(
            done,
            serde_json::json!({"ok": true, "error": null, "status": null, "exec": null,
                "data": null, "wires": null})
        );
        let refused: Reply = serde_json::from_str(
            r#"{"ok":false,"error":"no","status":null,"exec":null,"data":null}"#,
        )
        .expect("decodes");
        assert!(matches!(&refused, Reply::Refused(m) if m == "no"));
        let data: Reply = serde_json::from_str(
            r#"{"ok":true,"error":null,"status":null,"exec":null,"data":[1,2]}"#,
        )
        .expect("decodes");
        assert!(matches!(data, Reply::Data(d) if d == [1, 2]));
    }
}
