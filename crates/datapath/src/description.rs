//! Wires described as data ([`crate::spec`]) made ready to add: tunnel parameters in the
//! datapath's form, taps attached, filters compiled, impairments converted.

use umlvnf_datapath_spec::{Wire, WireEncap, WireSocket};
use umlvnf_packet::impair::Impairment;
use umlvnf_packet::l2tpv3::{Cookie, L2tpv3Config};

use crate::encap::{Encap, GreParams, L2tpv3Params};
use crate::end::EndSpec;
use crate::error::{DatapathError, Result};
use crate::wire::WireSpec;

/// A cookie of the described size (`None`: no cookie).
fn cookie(v: Option<u64>, cookie64: bool) -> Cookie {
    match v {
        None => Cookie::None,
        Some(c) if cookie64 => Cookie::C64(c),
        Some(c) => Cookie::C32(c as u32),
    }
}

impl From<&WireEncap> for Encap {
    fn from(e: &WireEncap) -> Encap {
        match e {
            WireEncap::Gre {
                rx_key,
                tx_key,
                sequence,
            } => Encap::Gre(GreParams {
                rx_key: *rx_key,
                tx_key: *tx_key,
                seq: *sequence,
            }),
            WireEncap::L2tpv3 {
                udp,
                rx_session,
                tx_session,
                rx_cookie,
                tx_cookie,
                cookie64,
                counter,
            } => {
                let cookie_len = match (rx_cookie.or(*tx_cookie), cookie64) {
                    (None, _) => 0,
                    (Some(_), true) => 8,
                    (Some(_), false) => 4,
                };
                Encap::L2tpv3(L2tpv3Params {
                    cfg: L2tpv3Config {
                        udp: *udp,
                        cookie_len,
                        counter: *counter,
                    },
                    rx_session: *rx_session,
                    tx_session: *tx_session,
                    rx_cookie: cookie(*rx_cookie, *cookie64),
                    tx_cookie: cookie(*tx_cookie, *cookie64),
                })
            }
        }
    }
}

impl EndSpec {
    /// The end a description names. A tap is attached now (in its namespace); every other
    /// socket is opened when the wire is added.
    pub fn from_description(s: &WireSocket) -> Result<EndSpec> {
        Ok(match s {
            WireSocket::Packet { ifname, vnet_hdr } => EndSpec::Packet {
                ifname: ifname.clone(),
                vnet_hdr: *vnet_hdr,
            },
            WireSocket::Udp {
                local,
                remote,
                encap,
            } => EndSpec::Udp {
                local: *local,
                remote: *remote,
                encap: encap.into(),
            },
            WireSocket::RawIp {
                proto,
                local,
                remote,
                encap,
            } => EndSpec::RawIp {
                proto: *proto,
                local: *local,
                remote: *remote,
                encap: encap.into(),
            },
            WireSocket::Seqpacket { path } => EndSpec::Seqpacket { path: path.clone() },
            WireSocket::Tap {
                netns,
                ifname,
                offload,
            } => EndSpec::Tap(
                umlvnf_host::tap_attach(netns.as_deref(), ifname, *offload)
                    .map_err(|e| DatapathError::Tap(e.to_string()))?,
            ),
        })
    }
}

impl WireSpec {
    /// The wire a description names, named `NAME (A <-> B)` after its endpoints: ends as
    /// [`EndSpec::from_description`] makes them, filters compiled for Ethernet, impairments
    /// converted from the form they are written in.
    pub fn from_description<I>(w: &Wire<I>) -> Result<WireSpec>
    where
        for<'a> &'a I: Into<Impairment>,
    {
        let mut spec = WireSpec::new(
            format!(
                "{} ({} <-> {})",
                w.name, w.ends[0].endpoint, w.ends[1].endpoint
            ),
            EndSpec::from_description(&w.ends[0].socket)?,
            EndSpec::from_description(&w.ends[1].socket)?,
        );
        spec.depth = w.depth as usize;
        spec.backend = w.backend;
        for k in 0..2 {
            if let Some(imp) = &w.impair[k] {
                spec.impair[k] = imp.into();
            }
            if let Some(expr) = &w.filter[k] {
                spec.filter[k] =
                    Some(
                        umlvnf_packet::bpf::compile(expr).map_err(|e| DatapathError::Filter {
                            endpoint: w.ends[k].endpoint.clone(),
                            message: e.to_string(),
                        })?,
                    );
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_take_the_described_size() {
        let l2tp = |rx_cookie, cookie64| WireEncap::L2tpv3 {
            udp: true,
            rx_session: 1,
            tx_session: 2,
            rx_cookie,
            tx_cookie: rx_cookie,
            cookie64,
            counter: false,
        };
        let Encap::L2tpv3(p) = Encap::from(&l2tp(Some(7), false)) else {
            panic!("l2tpv3 stays l2tpv3");
        };
        assert_eq!((p.cfg.cookie_len, p.rx_cookie), (4, Cookie::C32(7)));
        let Encap::L2tpv3(p) = Encap::from(&l2tp(Some(7), true)) else {
            panic!("l2tpv3 stays l2tpv3");
        };
        assert_eq!((p.cfg.cookie_len, p.tx_cookie), (8, Cookie::C64(7)));
        let Encap::L2tpv3(p) = Encap::from(&l2tp(None, true)) else {
            panic!("l2tpv3 stays l2tpv3");
        };
        assert_eq!((p.cfg.cookie_len, p.rx_cookie), (0, Cookie::None));
    }
}
