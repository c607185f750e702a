//! Deterministic loopback addresses and UDP ports for tunnel ends, distinct within a lab.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use sha2::{Digest, Sha256};
use umlvnf_topology::Topology;

/// UDP ports allocated for tunnels are in `PORT_BASE..PORT_BASE + PORT_SPAN` (below the
/// kernel's ephemeral range).
pub const PORT_BASE: u16 = 20000;
/// Size of the allocated port range.
pub const PORT_SPAN: u16 = 10000;

/// Deterministic loopback addresses and UDP ports for tunnel ends, distinct within a lab.
#[derive(Debug)]
pub struct Allocator {
    lab: String,
    ips: BTreeSet<IpAddr>,
    ports: BTreeSet<u16>,
    given_ips: BTreeMap<String, IpAddr>,
    given_ports: BTreeMap<String, u16>,
}

impl Allocator {
    /// An allocator for `topo` that avoids every address and port the topology names itself.
    pub fn new(topo: &Topology) -> Self {
        let mut ips = BTreeSet::new();
        let mut ports = BTreeSet::new();
        for link in &topo.links {
            if let Some(r) = &link.remote {
                ips.insert(r.address);
                ips.extend(r.local);
                ports.extend(r.port);
                ports.extend(r.local_port);
            }
        }
        Allocator {
            lab: topo.name.clone(),
            ips,
            ports,
            given_ips: BTreeMap::new(),
            given_ports: BTreeMap::new(),
        }
    }

    fn hash(&self, key: &str, salt: u32) -> u32 {
        let d = Sha256::digest(format!("{}/{key}/{salt}", self.lab).as_bytes());
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// A loopback address in 127.64.0.0/10 (never .0 or .255 in the last byte), derived from
    /// the lab and `key`, not given to another key of this lab; the same key gets the same one.
    pub fn address(&mut self, key: &str) -> IpAddr {
        if let Some(ip) = self.given_ips.get(key) {
            return *ip;
        }
        for salt in 0.. {
            let h = self.hash(key, salt);
            let last = (h & 0xff) as u8;
            if last == 0 || last == 255 {
                continue;
            }
            let ip = IpAddr::V4(Ipv4Addr::from(0x7f40_0000 | (h & 0x003f_ffff)));
            if self.ips.insert(ip) {
                self.given_ips.insert(key.to_string(), ip);
                return ip;
            }
        }
        unreachable!("the address space is far larger than any lab")
    }

    /// A UDP port in 20000..30000 derived from the lab and `key`, not given to another key of
    /// this lab; the same key gets the same one.
    pub fn port(&mut self, key: &str) -> u16 {
        if let Some(p) = self.given_ports.get(key) {
            return *p;
        }
        for salt in 0.. {
            let p = PORT_BASE + (self.hash(key, salt) % u32::from(PORT_SPAN)) as u16;
            if self.ports.insert(p) {
                self.given_ports.insert(key.to_string(), p);
                return p;
            }
        }
        unreachable!("fewer than 10000 tunnel ports per lab")
    }
}
