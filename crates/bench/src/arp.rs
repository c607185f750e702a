//! Learning the next hop's MAC address with an ARP request of our own.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use umlvnf_datapath::packet_socket::ETH_P_ARP;
use umlvnf_datapath::FrameBatch;

use crate::packet_socket::{self, Port};

/// Builds an ARP request (who has `target`? tell `src_ip`) from `src_mac`, broadcast.
pub fn arp_request(src_mac: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes());
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&src_mac);
    f[28..32].copy_from_slice(&src_ip.octets());
    f[38..42].copy_from_slice(&target.octets());
    f
}

/// The sender MAC of `frame` if it is an ARP reply from `target`.
pub fn parse_arp_reply(frame: &[u8], target: Ipv4Addr) -> Option<[u8; 6]> {
    if frame.len() < 42 || frame[12..14] != ETH_P_ARP.to_be_bytes() {
        return None;
    }
    if frame[20..22] != 2u16.to_be_bytes() || frame[28..32] != target.octets() {
        return None;
    }
    frame[22..28].try_into().ok()
}

/// Asks for `target`'s MAC on `port` (whose own MAC and address are `src_mac`, `src_ip`),
/// retrying for up to `timeout`; fails with [`BenchError::Interrupted`] as soon as a stop is
/// asked for ([`crate::interrupt`]).
pub fn resolve(
    port: &Port,
    src_mac: [u8; 6],
    src_ip: Ipv4Addr,
    target: Ipv4Addr,
    timeout: Duration,
) -> Result<[u8; 6]> {
    let sock = packet_socket::open(port, ETH_P_ARP, 1 << 16)?;
    sock.set_recv_timeout(Duration::from_millis(100))?;
    let req = arp_request(src_mac, src_ip, target);
    let mut tx = FrameBatch::new(1, 64);
    tx.buf_mut(0)[..req.len()].copy_from_slice(&req);
    tx.set_len(0, req.len());
    let mut rx = FrameBatch::new(16, 2048);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        // A stop asked for meanwhile ends the wait within one receive timeout (100 ms).
        crate::interrupt::check()?;
        tx.send(&sock, 1).map_err(|e| {
            BenchError::os(format!("send an ARP request on {}", port.describe()), e)
        })?;
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until && !crate::interrupt::stop_requested() {
            let n = rx
                .recv(&sock)
                .map_err(|e| BenchError::os("receive ARP replies", e))?;
            for i in 0..n {
                if let Some(mac) = parse_arp_reply(rx.frame(i), target) {
                    return Ok(mac);
                }
            }
        }
    }
    Err(BenchError::NoArpReply {
        ifname: port.ifname.clone(),
        ip: target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply() {
        let me = [2, 0, 0, 0, 0, 1];
        let req = arp_request(me, Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 1, 0, 254));
        assert_eq!(&req[38..42], &[10, 1, 0, 254]);
        // Turn it into the reply the gateway would send.
        let gw = [2, 0, 0, 0, 0, 0xfe];
        let mut rep = req.clone();
        rep[0..6].copy_from_slice(&me);
        rep[6..12].copy_from_slice(&gw);
        rep[21] = 2;
        rep[32..38].copy_from_slice(&me);
        rep[22..28].copy_from_slice(&gw);
        rep[38..42].copy_from_slice(&[10, 1, 0, 1]);
        rep[28..32].copy_from_slice(&[10, 1, 0, 254]);
        assert_eq!(
            parse_arp_reply(&rep, Ipv4Addr::new(10, 1, 0, 254)),
            Some(gw)
        );
        assert_eq!(parse_arp_reply(&rep, Ipv4Addr::new(10, 1, 0, 253)), None);
        assert_eq!(parse_arp_reply(&req, Ipv4Addr::new(10, 1, 0, 254)), None);
    }
}
