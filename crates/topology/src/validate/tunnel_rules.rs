//! Checks of the tunnel and wire vocabulary of links: which options go with which transport,
//! key and session pairs, cookie sizes, remote ends, impairments and filters.

use std::net::IpAddr;

use super::Validator;
use crate::model::{Link, Topology, Transport};
use crate::spans::join;
use crate::tunnel::{
    GreOptions, Impairment, Impairments, JitterError, L2tpMode, L2tpv3Options, RemoteEnd,
    WireBackend, WireHostEnd,
};

/// Longest pcap filter expression accepted.
const MAX_FILTER_LEN: usize = 1024;

impl Validator<'_> {
    /// Every tunnel, wire, impairment and filter rule of one link.
    pub(super) fn tunnel_rules(&mut self, topo: &Topology, link: &Link, lpath: &str) {
        let transport = link.effective_transport();
        let transport_known = !self.spans.is_bad(&join(lpath, "transport"));
        let datapath = topo.link_uses_datapath(link);
        if transport_known {
            for (field, set, want) in [
                ("gre", link.gre.is_some(), Transport::Gre),
                ("l2tpv3", link.l2tpv3.is_some(), Transport::L2tpv3),
                ("wire", link.wire.is_some(), Transport::Wire),
            ] {
                if set && transport != want {
                    self.at_key(
                        &join(lpath, field),
                        format!("`{field}` options need `transport: {field}`, and this link's transport is {}: set the transport or remove them", transport.name()),
                    );
                }
            }
            if link.remote.is_some() && !transport.is_tunnel() {
                self.at_key(
                    &join(lpath, "remote"),
                    format!("`remote` needs `transport: gre` or `transport: l2tpv3`, and this link's transport is {}: a remote end is reached through a tunnel", transport.name()),
                );
            }
            if link.gro.is_some()
                && matches!(
                    transport,
                    Transport::Gre | Transport::L2tpv3 | Transport::Wire
                )
            {
                self.at_key(
                    &join(lpath, "gro"),
                    format!("`gro` applies to raw, tap and hybrid guest interfaces, not to {} links: remove it", transport.name()),
                );
            }
            if link.impair.is_some() && !datapath {
                self.at_key(
                    &join(lpath, "impair"),
                    "`impair` needs a link that umlvnf's datapath carries: write `transport: wire` (or a gre/l2tpv3 link to a host node or `host:` end)",
                );
            }
        }
        if let Some(w) = &link.wire {
            if w.host_end == Some(WireHostEnd::Tap) {
                let wpath = join(lpath, "wire");
                if !link.endpoints.iter().any(|e| !topo.is_guest_endpoint(e)) {
                    self.at_key(
                        &join(&wpath, "host_end"),
                        format!("`host_end` sets how host node and `host:` ends attach, and this link has none ({}): remove it", endpoint_list(link)),
                    );
                }
                if w.backend == Some(WireBackend::IoUring) {
                    self.at_key(
                        &join(&wpath, "host_end"),
                        "a `tap` host end is read and written one frame per call, which the io_uring backend does not do: use `backend: mmsg` or `host_end: veth`",
                    );
                }
            }
        }
        if let Some(g) = &link.gre {
            self.gre_rules(g, &join(lpath, "gre"));
        }
        if let Some(l) = &link.l2tpv3 {
            self.l2tpv3_rules(l, &join(lpath, "l2tpv3"));
        }
        if let Some(r) = &link.remote {
            let mode = match transport {
                Transport::L2tpv3 => link
                    .l2tpv3
                    .as_ref()
                    .map_or(L2tpMode::Udp, |l| l.effective_mode()),
                _ => L2tpMode::Ip,
            };
            self.remote_rules(r, mode, transport, &join(lpath, "remote"));
        }
        if let Some(imp) = &link.impair {
            let ipath = join(lpath, "impair");
            match imp {
                Impairments::Both(i) => self.impairment_rules(i, &ipath),
                Impairments::PerEnd(map) => {
                    for (ep, i) in map {
                        let epath = join(&ipath, &ep.to_string());
                        if !link.endpoints.contains(ep) {
                            self.at_key(&epath, format!("`{ep}` is not an endpoint of this link: key per-direction impairments by the endpoint that sends the frames, one of {}", endpoint_list(link)));
                        }
                        self.impairment_rules(i, &epath);
                    }
                }
            }
        }
        let fpath_base = join(lpath, "filter");
        for (ep, expr) in &link.filter {
            let fpath = join(&fpath_base, &ep.to_string());
            if !link.endpoints.contains(ep) {
                self.at_key(&fpath, format!("`{ep}` is not an endpoint of this link: key filters by the endpoint whose received frames they filter, one of {}", endpoint_list(link)));
                continue;
            }
            let guest_socket = topo.is_guest_endpoint(ep)
                && matches!(transport, Transport::Raw | Transport::Hybrid);
            if transport_known && !datapath && !guest_socket {
                self.at_key(&fpath, format!("a filter on `{ep}` needs umlvnf's datapath (`transport: wire`) or a uml guest end with `transport: raw` or `hybrid`: this end is a {} end", if topo.is_guest_endpoint(ep) { transport.name() } else { "host" }));
            }
            if expr.trim().is_empty()
                || expr.len() > MAX_FILTER_LEN
                || expr.chars().any(char::is_control)
            {
                self.at_value(&fpath, format!("a filter is a pcap expression on one line, 1 to {MAX_FILTER_LEN} characters, such as \"not icmp\""));
            } else if let Err(e) = umlvnf_packet::bpf::compile(expr) {
                self.at_value(&fpath, format!("{e}: write an expression as tcpdump takes it, such as \"not icmp\" or \"udp port 53\""));
            }
        }
        if link.bpfflash == Some(true) && !link.endpoints.iter().any(|e| topo.is_guest_endpoint(e))
        {
            self.at_key(&join(lpath, "bpfflash"), "`bpfflash` lets a uml guest load BPF into its own interface, and this link has no uml end: remove it");
        }
    }

    fn gre_rules(&mut self, g: &GreOptions, path: &str) {
        if g.key.is_some() && (g.rx_key.is_some() || g.tx_key.is_some()) {
            self.at_key(
                &join(path, "key"),
                "give either `key` (both directions) or `rx_key` and `tx_key`, not both",
            );
        } else if g.rx_key.is_some() != g.tx_key.is_some() {
            let (field, other) = if g.rx_key.is_some() {
                ("rx_key", "tx_key")
            } else {
                ("tx_key", "rx_key")
            };
            self.at_key(&join(path, field), format!("`{field}` needs `{other}` too (UML takes both or neither): add it, or write `key` for both directions"));
        }
    }

    fn l2tpv3_rules(&mut self, l: &L2tpv3Options, path: &str) {
        if l.session.is_some() && (l.rx_session.is_some() || l.tx_session.is_some()) {
            self.at_key(&join(path, "session"), "give either `session` (both directions) or `rx_session` and `tx_session`, not both");
        } else if l.rx_session.is_some() != l.tx_session.is_some() {
            let (field, other) = if l.rx_session.is_some() {
                ("rx_session", "tx_session")
            } else {
                ("tx_session", "rx_session")
            };
            self.at_key(
                &join(path, field),
                format!(
                    "`{field}` needs `{other}` too: add it, or write `session` for both directions"
                ),
            );
        }
        for (field, v) in [
            ("session", l.session),
            ("rx_session", l.rx_session),
            ("tx_session", l.tx_session),
        ] {
            if v.is_some_and(|s| s.0 == 0) {
                self.at_value(&join(path, field), "session 0 is reserved for L2TPv3 control messages: give 1 to 4294967295 (0xffffffff)");
            }
        }
        if l.cookie.is_some() && (l.rx_cookie.is_some() || l.tx_cookie.is_some()) {
            self.at_key(
                &join(path, "cookie"),
                "give either `cookie` (both directions) or `rx_cookie` and `tx_cookie`, not both",
            );
        } else if l.rx_cookie.is_some() != l.tx_cookie.is_some() {
            let (field, other) = if l.rx_cookie.is_some() {
                ("rx_cookie", "tx_cookie")
            } else {
                ("tx_cookie", "rx_cookie")
            };
            self.at_key(&join(path, field), format!("`{field}` needs `{other}` too (UML takes both or neither): add it, or write `cookie` for both directions"));
        }
        let wide = l.cookie64 == Some(true);
        for (field, v) in [
            ("cookie", l.cookie),
            ("rx_cookie", l.rx_cookie),
            ("tx_cookie", l.tx_cookie),
        ] {
            if let Some(c) = v {
                if !wide && c.0 > u64::from(u32::MAX) {
                    self.at_value(&join(path, field), format!("cookie {:#x} does not fit in 32 bits: give at most 0xffffffff, or set `cookie64: true` for 64-bit cookies", c.0));
                }
            }
        }
        if wide && l.cookies().is_none() && l.cookie.is_none() && l.rx_cookie.is_none() {
            self.at_key(&join(path, "cookie64"), "`cookie64` sets the size of cookies, and this link has none: add `cookie` (or `rx_cookie` and `tx_cookie`), or remove it");
        }
    }

    fn remote_rules(&mut self, r: &RemoteEnd, mode: L2tpMode, transport: Transport, path: &str) {
        let udp = transport == Transport::L2tpv3 && mode == L2tpMode::Udp;
        if !udp {
            for (field, set) in [
                ("port", r.port.is_some()),
                ("local_port", r.local_port.is_some()),
            ] {
                if set {
                    self.at_key(&join(path, field), format!("`{field}` is a UDP port, and this tunnel is {}: remove it (only L2TPv3 over UDP has ports)", if transport == Transport::Gre { "GRE" } else { "L2TPv3 over IP" }));
                }
            }
        }
        for (field, port) in [("port", r.port), ("local_port", r.local_port)] {
            if port == Some(0) {
                self.at_value(
                    &join(path, field),
                    "port 0 is not a usable port: give 1 to 65535",
                );
            }
        }
        if !usable_unicast(r.address) {
            self.at_value(&join(path, "address"), format!("{} is not a unicast address a tunnel can reach: give a host address such as 127.0.0.9", r.address));
        }
        match r.local {
            Some(local) => {
                if local.is_ipv4() != r.address.is_ipv4() {
                    self.at_value(&join(path, "local"), format!("local address {local} and remote address {} are of different IP versions: give both IPv4 or both IPv6", r.address));
                } else if !usable_unicast(local) {
                    self.at_value(&join(path, "local"), format!("{local} is not a unicast address to send from: give one of this host's addresses"));
                }
            }
            None if !r.address.is_loopback() => {
                self.at_key(&join(path, "address"), format!("the remote {} is not a loopback address, so umlvnf cannot choose the local address: add `local:` with this host's address toward it", r.address));
            }
            None if r.address.is_ipv6() => {
                self.at_key(&join(path, "address"), "an IPv6 loopback remote needs `local:` too (IPv6 has a single loopback address, ::1): add `local: ::1`");
            }
            None => {}
        }
    }

    fn impairment_rules(&mut self, i: &Impairment, path: &str) {
        let jitter = join(path, "jitter");
        match i.check_jitter() {
            Ok(()) => {}
            Err(e @ JitterError::NoDelay) => self.at_key(&jitter, e.to_string()),
            Err(e @ JitterError::LargerThanDelay) => self.at_value(&jitter, e.to_string()),
        }
    }
}

fn endpoint_list(link: &Link) -> String {
    link.endpoints
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn usable_unicast(ip: IpAddr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::from([255, 255, 255, 255]))
}
