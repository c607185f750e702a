//! The tunnel parameters of a `gre`, `l2tpv3` or `wire` link, and what they become: the
//! datapath socket of an end, or the UML vector options of a guest speaking them.

use std::net::SocketAddr;

use umlvnf_topology::{L2tpMode, Link, RxTx, Transport};

use crate::{uml_u32, WireEncap, WireSocket};

/// The L2TPv3 port used for a remote end that names none.
pub const DEFAULT_REMOTE_PORT: u16 = 1701;
/// The session both ways of a guest attached to a wire by L2TPv3.
pub const ATTACH_SESSION: u32 = 1;

/// The tunnel parameters of a link as seen by its first endpoint.
#[derive(Debug, Clone, Copy)]
pub(super) enum Params {
    Gre {
        keys: Option<RxTx<u32>>,
        sequence: bool,
    },
    L2tp {
        udp: bool,
        sessions: RxTx<u32>,
        cookies: Option<RxTx<u64>>,
        cookie64: bool,
        counter: bool,
    },
}

impl Params {
    pub(super) fn of(link: &Link) -> Self {
        match link.effective_transport() {
            Transport::Gre => {
                let g = link.gre.clone().unwrap_or_default();
                Params::Gre {
                    keys: g.keys(),
                    sequence: g.sequence == Some(true),
                }
            }
            Transport::L2tpv3 => {
                let l = link.l2tpv3.clone().unwrap_or_default();
                Params::L2tp {
                    udp: l.effective_mode() == L2tpMode::Udp,
                    sessions: l.sessions(),
                    cookies: l.cookies(),
                    cookie64: l.cookie64 == Some(true),
                    counter: l.counter == Some(true),
                }
            }
            _ => Params::L2tp {
                udp: true,
                sessions: RxTx {
                    rx: ATTACH_SESSION,
                    tx: ATTACH_SESSION,
                },
                cookies: None,
                cookie64: false,
                counter: false,
            },
        }
    }

    pub(super) fn mirrored(self) -> Self {
        match self {
            Params::Gre { keys, sequence } => Params::Gre {
                keys: keys.map(RxTx::mirrored),
                sequence,
            },
            Params::L2tp {
                udp,
                sessions,
                cookies,
                cookie64,
                counter,
            } => Params::L2tp {
                udp,
                sessions: sessions.mirrored(),
                cookies: cookies.map(RxTx::mirrored),
                cookie64,
                counter,
            },
        }
    }

    pub(super) fn udp(self) -> bool {
        matches!(self, Params::L2tp { udp: true, .. })
    }

    pub(super) fn encap(self) -> WireEncap {
        match self {
            Params::Gre { keys, sequence } => WireEncap::Gre {
                rx_key: keys.map(|k| k.rx),
                tx_key: keys.map(|k| k.tx),
                sequence,
            },
            Params::L2tp {
                udp,
                sessions,
                cookies,
                cookie64,
                counter,
            } => WireEncap::L2tpv3 {
                udp,
                rx_session: sessions.rx,
                tx_session: sessions.tx,
                rx_cookie: cookies.map(|c| c.rx),
                tx_cookie: cookies.map(|c| c.tx),
                cookie64,
                counter,
            },
        }
    }

    /// The datapath socket for these parameters between `local` and `remote`.
    pub(super) fn socket(self, local: SocketAddr, remote: SocketAddr) -> WireSocket {
        match self {
            Params::L2tp { udp: true, .. } => WireSocket::Udp {
                local,
                remote: Some(remote),
                encap: self.encap(),
            },
            Params::L2tp { udp: false, .. } => WireSocket::RawIp {
                proto: 115,
                local: local.ip(),
                remote: remote.ip(),
                encap: self.encap(),
            },
            Params::Gre { .. } => WireSocket::RawIp {
                proto: 47,
                local: local.ip(),
                remote: remote.ip(),
                encap: self.encap(),
            },
        }
    }

    /// UML's `vecN` options for a guest speaking these parameters from `local` to `remote`.
    pub(super) fn uml_options(
        self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Vec<(String, String)> {
        let mut o: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: String| o.push((k.to_string(), v));
        match self {
            Params::Gre { keys, sequence } => {
                put("transport", "gre".into());
                put("src", local.ip().to_string());
                put("dst", remote.ip().to_string());
                if let Some(k) = keys {
                    put("rx_key", uml_u32(k.rx));
                    put("tx_key", uml_u32(k.tx));
                }
                if sequence {
                    put("sequence", "1".into());
                }
            }
            Params::L2tp {
                udp,
                sessions,
                cookies,
                cookie64,
                counter,
            } => {
                put("transport", "l2tpv3".into());
                if udp {
                    put("udp", "1".into());
                }
                put("src", local.ip().to_string());
                put("dst", remote.ip().to_string());
                if udp {
                    put("srcport", local.port().to_string());
                    put("dstport", remote.port().to_string());
                }
                put("rx_session", uml_u32(sessions.rx));
                put("tx_session", uml_u32(sessions.tx));
                if let Some(c) = cookies {
                    if cookie64 {
                        put("cookie64", "1".into());
                    }
                    put("rx_cookie", c.rx.to_string());
                    put("tx_cookie", c.tx.to_string());
                }
                if counter {
                    put("counter", "1".into());
                }
            }
        }
        if remote.is_ipv6() {
            put("v6", "1".into());
        }
        o
    }

    /// Host capabilities a guest speaking these parameters needs.
    pub(super) fn capability(self) -> Option<&'static str> {
        match self {
            Params::L2tp { udp: true, .. } => None,
            _ => Some("CAP_NET_RAW"),
        }
    }
}
