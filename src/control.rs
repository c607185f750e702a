//! The control socket of a running lab: one JSON request per connection, one JSON reply
//! (and, for `console`, a raw byte stream afterwards).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use umlvnf_topology::{Delay, Impairment, Percent, Rate};

use crate::plan::LinkPlan;

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

/// The impairment flags of `umlvnf link set`, read with the value types of a topology's
/// `impair` (one parser, one set of units and limits: [`umlvnf_packet::units`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImpairArgs {
    /// Loss: a percentage from 0% to 100% (or a fraction from 0 to 1), such as `50%`.
    #[arg(long)]
    pub loss: Option<Percent>,
    /// Delay: a number with ns, us (µs), ms or s, up to 3600s, such as `10ms`.
    #[arg(long)]
    pub delay: Option<Delay>,
    /// Jitter of the delay (at most the delay), such as `2ms`.
    #[arg(long)]
    pub jitter: Option<Delay>,
    /// Rate limit: a number with bit, kbit, mbit, gbit or tbit, such as `10mbit`.
    #[arg(long)]
    pub rate: Option<Rate>,
    /// Duplication, such as `1%`.
    #[arg(long)]
    pub duplicate: Option<Percent>,
    /// Reordering, such as `5%`.
    #[arg(long)]
    pub reorder: Option<Percent>,
}

impl From<ImpairArgs> for Impairment {
    fn from(a: ImpairArgs) -> Impairment {
        Impairment {
            loss: a.loss,
            delay: a.delay,
            jitter: a.jitter,
            rate: a.rate,
            duplicate: a.duplicate,
            reorder: a.reorder,
        }
    }
}

/// Counters of one wire direction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireDirection {
    /// Endpoint the frames come from.
    pub from: String,
    /// Endpoint they go to.
    pub to: String,
    /// Frames received.
    pub received: u64,
    /// Frames sent.
    pub sent: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Frames still queued (delay, rate).
    pub queued: u64,
    /// Drops by reason.
    pub drops: Vec<(String, u64)>,
}

/// Counters of one wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireStatus {
    /// Wire name.
    pub name: String,
    /// Both directions.
    pub directions: Vec<WireDirection>,
}

/// The supervisor's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    /// Whether the request succeeded.
    pub ok: bool,
    /// What went wrong, when it did not.
    pub error: Option<String>,
    /// Status, for `status`.
    pub status: Option<LabStatus>,
    /// Result, for `exec`.
    pub exec: Option<ExecResult>,
    /// File content, for `get`.
    pub data: Option<Vec<u8>>,
    /// Wire counters, for `links`.
    #[serde(default)]
    pub wires: Option<Vec<WireStatus>>,
}

impl Reply {
    /// A successful reply with nothing in it.
    pub fn ok() -> Reply {
        Reply {
            ok: true,
            error: None,
            status: None,
            exec: None,
            data: None,
            wires: None,
        }
    }

    /// A failed reply.
    pub fn err(message: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(message.into()),
            ..Reply::ok()
        }
    }
}

/// A command's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecResult {
    /// Exit status (128 + signal when killed).
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// A lab as `inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabStatus {
    /// Lab name.
    pub lab: String,
    /// `deploying`, `running`, `stopping`, or `stale` when no runtime holds it.
    pub phase: String,
    /// Unix time of the deploy.
    pub started_at: u64,
    /// Pid of the runtime holding the lab.
    pub supervisor_pid: Option<i32>,
    /// Address of the lab's `/metrics` endpoint.
    #[serde(default)]
    pub metrics: Option<std::net::SocketAddr>,
    /// Every node.
    pub nodes: Vec<NodeStatus>,
    /// Every link.
    pub links: Vec<LinkPlan>,
}

/// One node as `inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// `uml` or `host`.
    pub kind: String,
    /// `booting`, `ready`, `failed`, `restarting`, `stopped`, or `up` for host nodes.
    pub state: String,
    /// UML process id.
    pub pid: Option<i32>,
    /// Seconds from start to ready, last boot.
    pub boot_seconds: Option<f64>,
    /// Restarts so far.
    pub restarts: u32,
    /// Namespace of a host node.
    pub netns: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Why the guest's last UML process ended (exit status, kernel panic), kept after a
    /// restart.
    #[serde(default)]
    pub last_exit: Option<String>,
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
}

/// Sends one request and reads the reply; returns the stream for `console`.
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
