//! Tunnel encapsulation of an end: GRE or L2TPv3 headers added on send and checked/removed on
//! receive, with the per-end sequence/counter state.

use umlvnf_packet::gre::GreRepr;

use crate::error::DatapathError;
use umlvnf_packet::l2tpv3::{Cookie, L2tpv3Config, L2tpv3Repr};

/// Largest tunnel header this crate emits (L2TPv3/UDP with 8-byte cookie and counter: 20).
pub(crate) const MAX_HEADER: usize = 32;

/// GRE parameters, as UML's `gre` transport takes them (`rx_key`, `tx_key`, `sequence`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GreParams {
    /// Key expected on received packets (`None`: received packets must carry no key).
    pub rx_key: Option<u32>,
    /// Key put on sent packets (`None`: no key).
    pub tx_key: Option<u32>,
    /// Whether sent packets carry a sequence number and received ones must carry one
    /// (its value is not checked).
    pub seq: bool,
}

/// L2TPv3 parameters, as UML's `l2tpv3` transport takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2tpv3Params {
    /// Header layout both ends agree on. `cfg.udp` must be true on a UDP end and false on a
    /// raw IP (protocol 115) end.
    pub cfg: L2tpv3Config,
    /// Session id expected on received packets.
    pub rx_session: u32,
    /// Session id put on sent packets.
    pub tx_session: u32,
    /// Cookie expected on received packets (its size must equal `cfg.cookie_len`).
    pub rx_cookie: Cookie,
    /// Cookie put on sent packets (its size must equal `cfg.cookie_len`).
    pub tx_cookie: Cookie,
}

/// Encapsulation of the frames an end sends and receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encap {
    /// Frames travel bare, one per datagram.
    #[default]
    None,
    /// GRE with transparent Ethernet bridging (protocol 0x6558).
    Gre(GreParams),
    /// L2TPv3 (UDP or IP mode, from `cfg.udp`).
    L2tpv3(L2tpv3Params),
}

fn cookie_len(c: &Cookie) -> u8 {
    match c {
        Cookie::None => 0,
        Cookie::C32(_) => 4,
        Cookie::C64(_) => 8,
    }
}

impl Encap {
    /// Checks that the parameters are consistent; [`DatapathError::BadEnd`] says what is valid.
    pub(crate) fn validate(&self) -> Result<(), DatapathError> {
        if let Encap::L2tpv3(p) = self {
            if !matches!(p.cfg.cookie_len, 0 | 4 | 8) {
                return Err(DatapathError::BadEnd(format!(
                    "the L2TPv3 cookie length is {} but it must be 0, 4 or 8",
                    p.cfg.cookie_len
                )));
            }
            if cookie_len(&p.rx_cookie) != p.cfg.cookie_len
                || cookie_len(&p.tx_cookie) != p.cfg.cookie_len
            {
                return Err(DatapathError::BadEnd(format!(
                    "the L2TPv3 cookies must both be {} bytes long, as cfg.cookie_len says",
                    p.cfg.cookie_len
                )));
            }
        }
        Ok(())
    }
}

/// An end's encapsulation with its running send counters.
#[derive(Debug)]
pub(crate) struct EncapState {
    encap: Encap,
    tx_seq: u32,
}

impl EncapState {
    pub(crate) fn new(encap: Encap) -> EncapState {
        EncapState { encap, tx_seq: 1 }
    }

    /// Checks and removes the tunnel header of a received datagram, returning the range of the
    /// Ethernet frame inside `pkt`, or `None` if the header is bad or does not match.
    pub(crate) fn decap(&self, pkt: &[u8]) -> Option<std::ops::Range<usize>> {
        let inner = match &self.encap {
            Encap::None => pkt,
            Encap::Gre(p) => {
                let (repr, inner) = GreRepr::parse(pkt).ok()?;
                if repr.key != p.rx_key || repr.seq.is_some() != p.seq {
                    return None;
                }
                inner
            }
            Encap::L2tpv3(p) => {
                let (repr, inner) = L2tpv3Repr::parse(&p.cfg, pkt).ok()?;
                if repr.session != p.rx_session || repr.cookie != p.rx_cookie {
                    return None;
                }
                inner
            }
        };
        let start = pkt.len() - inner.len();
        Some(start..pkt.len())
    }

    /// Writes the tunnel header of the next sent frame into `buf`, returning its length, or
    /// `None` if it does not fit (the caller drops the frame).
    pub(crate) fn emit(&mut self, buf: &mut [u8]) -> Option<usize> {
        let written = match &self.encap {
            Encap::None => Ok(0),
            Encap::Gre(p) => {
                let seq = p.seq.then_some(self.tx_seq);
                GreRepr { key: p.tx_key, seq }.emit(buf)
            }
            Encap::L2tpv3(p) => L2tpv3Repr {
                session: p.tx_session,
                cookie: p.tx_cookie,
                counter: p.cfg.counter.then_some(self.tx_seq),
            }
            .emit(&p.cfg, buf),
        };
        self.tx_seq = self.tx_seq.wrapping_add(1);
        written.ok()
    }
}
