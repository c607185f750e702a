//! A synchronous rtnetlink request/response channel.

use std::io;
use std::sync::Mutex;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// Why a netlink request failed, before it is given context.
#[derive(Debug)]
pub(crate) enum NlError {
    /// The kernel answered with this (positive) errno.
    Errno(i32),
    /// The socket itself failed.
    Io(io::Error),
    /// A reply could not be decoded.
    Decode(String),
}

/// Size of the receive buffer; the kernel never sends a datagram larger than this to a socket
/// that has not asked for larger dumps.
const RECV_BUF: usize = 1 << 16;

struct Inner {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// A route netlink socket plus its sequence counter, safe to share between threads (requests
/// are serialised).
pub(crate) struct NlSocket {
    inner: Mutex<Inner>,
}

impl NlSocket {
    /// Opens and binds a `NETLINK_ROUTE` socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Ask for extended acks; older kernels refuse, which is harmless.
        let _ = socket.set_ext_ack(true);
        Ok(NlSocket {
            inner: Mutex::new(Inner {
                socket,
                seq: 0,
                buf: Vec::with_capacity(RECV_BUF),
            }),
        })
    }

    /// Sends a request that expects only an acknowledgement.
    pub(crate) fn ack(&self, msg: RouteNetlinkMessage, extra_flags: u16) -> Result<(), NlError> {
        self.request(msg, NLM_F_REQUEST | NLM_F_ACK | extra_flags, false)
            .map(|_| ())
    }

    /// Sends a dump request and returns every reply message.
    pub(crate) fn dump(
        &self,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.request(msg, NLM_F_REQUEST | NLM_F_DUMP, true)
    }

    /// Sends a request with `NLM_F_ACK` and returns the replies that come before the ack (for
    /// `RTM_GET*` of one object).
    pub(crate) fn get(
        &self,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.request(msg, NLM_F_REQUEST | NLM_F_ACK, false)
    }

    fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        dump: bool,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.seq = inner.seq.wrapping_add(1);
        let seq = inner.seq;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        inner.socket.send(&out, 0).map_err(NlError::Io)?;

        let mut replies = Vec::new();
        let mut decode_error = None;
        loop {
            let Inner { socket, buf, .. } = &mut *inner;
            buf.clear();
            let n = socket.recv(buf, 0).map_err(NlError::Io)?;
            if n > buf.len() {
                return Err(NlError::Decode(format!(
                    "a {n}-byte datagram did not fit the {RECV_BUF}-byte buffer"
                )));
            }
            let mut offset = 0;
            while offset < buf.len() {
                let chunk = &buf[offset..];
                let len = match NetlinkBuffer::new_checked(chunk) {
                    Ok(b) => b.length() as usize,
                    Err(e) => return Err(NlError::Decode(e.to_string())),
                };
                if len == 0 || len > chunk.len() {
                    return Err(NlError::Decode(format!("bad netlink message length {len}")));
                }
                let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&chunk[..len]);
                offset += (len + 3) & !3;
                let message = match parsed {
                    Ok(m) => m,
                    Err(e) => {
                        // Keep reading so the socket stays in step; report afterwards.
                        decode_error.get_or_insert_with(|| e.to_string());
                        continue;
                    }
                };
                if message.header.sequence_number != seq {
                    continue; // A stale reply to an earlier, abandoned request.
                }
                match message.payload {
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => match decode_error {
                                Some(d) => Err(NlError::Decode(d)),
                                None => Ok(replies),
                            },
                            Some(code) => Err(NlError::Errno(code.get().abs())),
                        };
                    }
                    NetlinkPayload::Done(d) if dump => {
                        if d.code != 0 {
                            return Err(NlError::Errno(d.code.abs()));
                        }
                        return match decode_error {
                            Some(d) => Err(NlError::Decode(d)),
                            None => Ok(replies),
                        };
                    }
                    _ => {}
                }
            }
        }
    }
}
