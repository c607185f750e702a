//! Test frames: Ethernet/IPv4/UDP with a payload that carries a magic, a run id, a sequence
//! number and a send timestamp; frame sizes and the IMIX mix.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{BenchError, Result};

/// Magic at the start of every bench payload ("UMLB").
pub const MAGIC: u32 = 0x554d_4c42;
/// Bytes of Ethernet + IPv4 + UDP headers.
pub const HEADERS_LEN: usize = 14 + 20 + 8;
/// Offset of the bench payload in a frame.
pub const PAYLOAD_OFFSET: usize = HEADERS_LEN;
/// Bytes of the bench payload header: magic u32, run u16, sequence u32, timestamp u64.
pub const PAYLOAD_LEN: usize = 18;
/// Smallest frame size (with FCS) accepted.
pub const MIN_FRAME: u16 = 64;
/// Largest frame size (with FCS) accepted.
pub const MAX_FRAME: u16 = 1518;
/// UDP destination port of bench frames (discard).
pub const DST_PORT: u16 = 9;
/// UDP source port of bench frames.
pub const SRC_PORT: u16 = 49_999;
/// The IMIX mix as (frame size with FCS, share): 7:4:1 of 64/576/1518.
pub const IMIX: [(u16, u32); 3] = [(64, 7), (576, 4), (1518, 1)];

/// A frame size of a measurement: one fixed size (bytes including the 4-byte FCS, as in
/// RFC 2544) or the IMIX mix. In JSON a fixed size is a number and IMIX is `"imix"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrameSize {
    /// Every frame has this size (64..=1518, including FCS).
    Fixed(u16),
    /// 7:4:1 of 64, 576 and 1518 bytes, interleaved.
    Imix,
}

impl FrameSize {
    /// Parses `64`..`1518` or `imix`.
    pub fn parse(text: &str) -> Result<FrameSize> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("imix") {
            return Ok(FrameSize::Imix);
        }
        let n: u16 = t
            .parse()
            .map_err(|_| BenchError::InvalidFrameSize(format!("`{t}`")))?;
        FrameSize::fixed(n)
    }

    /// A checked fixed size.
    pub fn fixed(size: u16) -> Result<FrameSize> {
        if (MIN_FRAME..=MAX_FRAME).contains(&size) {
            Ok(FrameSize::Fixed(size))
        } else {
            Err(BenchError::InvalidFrameSize(size.to_string()))
        }
    }

    /// The sequence of sizes (with FCS) the generator cycles through: one entry for a fixed
    /// size, twelve interleaved entries for IMIX.
    pub fn pattern(self) -> Vec<u16> {
        match self {
            FrameSize::Fixed(n) => vec![n],
            FrameSize::Imix => imix_pattern(),
        }
    }

    /// Mean frame size with FCS in bytes.
    pub fn mean_bytes(self) -> f64 {
        let p = self.pattern();
        p.iter().map(|&s| f64::from(s)).sum::<f64>() / p.len() as f64
    }
}

impl fmt::Display for FrameSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameSize::Fixed(n) => write!(f, "{n}"),
            FrameSize::Imix => write!(f, "imix"),
        }
    }
}

impl Serialize for FrameSize {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            FrameSize::Fixed(n) => s.serialize_u16(*n),
            FrameSize::Imix => s.serialize_str("imix"),
        }
    }
}

impl<'de> Deserialize<'de> for FrameSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<FrameSize, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let text = match &v {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => {
                return Err(serde::de::Error::custom(
                    "frame size must be a number or \"imix\"",
                ))
            }
        };
        FrameSize::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Twelve IMIX sizes, 7×64, 4×576, 1×1518, spread out so that no size comes in a long run.
pub fn imix_pattern() -> Vec<u16> {
    // Bresenham-like interleave: at each step pick the size furthest behind its share.
    let total: u32 = IMIX.iter().map(|&(_, n)| n).sum();
    let mut given = [0u32; 3];
    let mut out = Vec::with_capacity(total as usize);
    for step in 1..=total {
        let mut best = 0;
        let mut best_lag = f64::MIN;
        for (i, &(_, share)) in IMIX.iter().enumerate() {
            if given[i] >= share {
                continue;
            }
            let lag = f64::from(share) * f64::from(step) / f64::from(total) - f64::from(given[i]);
            if lag > best_lag {
                best_lag = lag;
                best = i;
            }
        }
        given[best] += 1;
        out.push(IMIX[best].0);
    }
    out
}

/// Addresses of one test flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source MAC (the generator's interface).
    pub src_mac: [u8; 6],
    /// Destination MAC (the next hop).
    pub dst_mac: [u8; 6],
    /// Source IPv4 address.
    pub src_ip: Ipv4Addr,
    /// Destination IPv4 address (the sink).
    pub dst_ip: Ipv4Addr,
}

/// The one's-complement checksum of `data` (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds one frame of `size` bytes with FCS (so `size - 4` bytes on the wire) for `flow`,
/// with payload header `run`, sequence 0 and timestamp 0. `size` must be 64..=1518.
pub fn build_frame(flow: &Flow, size: u16, run: u16) -> Vec<u8> {
    let size = size.clamp(MIN_FRAME, MAX_FRAME);
    let len = usize::from(size) - 4;
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&flow.dst_mac);
    f[6..12].copy_from_slice(&flow.src_mac);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (len - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&flow.src_ip.octets());
    ip[16..20].copy_from_slice(&flow.dst_ip.octets());
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&SRC_PORT.to_be_bytes());
    udp[2..4].copy_from_slice(&DST_PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    // UDP checksum 0: none (allowed over IPv4), so stamping needs no checksum update.
    let p = &mut f[PAYLOAD_OFFSET..PAYLOAD_OFFSET + PAYLOAD_LEN];
    p[0..4].copy_from_slice(&MAGIC.to_be_bytes());
    p[4..6].copy_from_slice(&run.to_be_bytes());
    f
}

/// Writes sequence number `seq` and timestamp `ts_ns` into a frame made by [`build_frame`].
#[inline]
pub fn stamp(frame: &mut [u8], seq: u32, ts_ns: u64) {
    frame[PAYLOAD_OFFSET + 6..PAYLOAD_OFFSET + 10].copy_from_slice(&seq.to_be_bytes());
    frame[PAYLOAD_OFFSET + 10..PAYLOAD_OFFSET + 18].copy_from_slice(&ts_ns.to_be_bytes());
}

/// What the sink reads from a bench frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Run id.
    pub run: u16,
    /// Sequence number.
    pub seq: u32,
    /// Send time, CLOCK_MONOTONIC ns (0 when the sender does not stamp, e.g. trafgen).
    pub ts_ns: u64,
}

/// Parses an Ethernet frame: `Some` if it is IPv4/UDP to [`DST_PORT`] carrying the magic
/// (IP options allowed, VLAN tags not).
#[inline]
pub fn parse(frame: &[u8]) -> Option<Stamp> {
    if frame.len() < HEADERS_LEN + PAYLOAD_LEN || frame[12] != 0x08 || frame[13] != 0x00 {
        return None;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    if frame[14] >> 4 != 4 || ihl < 20 || frame[23] != 17 {
        return None;
    }
    let udp = 14 + ihl;
    let p = udp + 8;
    if frame.len() < p + PAYLOAD_LEN || frame[udp + 2..udp + 4] != DST_PORT.to_be_bytes() {
        return None;
    }
    let b = &frame[p..p + PAYLOAD_LEN];
    if b[0..4] != MAGIC.to_be_bytes() {
        return None;
    }
    Some(Stamp {
        run: u16::from_be_bytes([b[4], b[5]]),
        seq: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
        ts_ns: u64::from_be_bytes([b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: Ipv4Addr::new(10, 1, 0, 1),
            dst_ip: Ipv4Addr::new(10, 2, 0, 1),
        }
    }

    #[test]
    fn frame_lengths_and_headers() {
        for size in [64u16, 65, 128, 512, 576, 1500, 1518] {
            let f = build_frame(&flow(), size, 7);
            assert_eq!(f.len(), usize::from(size) - 4);
            assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 2]);
            assert_eq!(u16::from_be_bytes([f[16], f[17]]) as usize, f.len() - 14);
            assert_eq!(u16::from_be_bytes([f[38], f[39]]) as usize, f.len() - 34);
            // A correct IPv4 header checksums to zero.
            assert_eq!(checksum(&f[14..34]), 0);
        }
    }

    #[test]
    fn stamp_and_parse_round_trip() {
        let mut f = build_frame(&flow(), 64, 0xbeef);
        stamp(&mut f, 0xdead_0001, 123_456_789_012);
        let s = parse(&f).expect("bench frame");
        assert_eq!(
            s,
            Stamp {
                run: 0xbeef,
                seq: 0xdead_0001,
                ts_ns: 123_456_789_012
            }
        );
        // Routers change TTL and MACs, not the payload.
        f[22] = 63;
        assert_eq!(parse(&f).map(|s| s.seq), Some(0xdead_0001));
        let mut other = f.clone();
        other[PAYLOAD_OFFSET] ^= 1;
        assert_eq!(parse(&other), None);
        assert_eq!(parse(&f[..50]), None);
        let mut arp = f.clone();
        arp[13] = 0x06;
        assert_eq!(parse(&arp), None);
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn imix_mix_is_7_4_1() {
        let p = imix_pattern();
        assert_eq!(p.len(), 12);
        assert_eq!(p.iter().filter(|&&s| s == 64).count(), 7);
        assert_eq!(p.iter().filter(|&&s| s == 576).count(), 4);
        assert_eq!(p.iter().filter(|&&s| s == 1518).count(), 1);
        // Interleaved: never more than two 64s in a row (cyclically), 576s apart.
        for i in 0..12 {
            let run = (0..3).all(|k| p[(i + k) % 12] == 64);
            assert!(!run, "three 64-byte frames in a row at {i}: {p:?}");
        }
        let mean = FrameSize::Imix.mean_bytes();
        assert!((mean - 4270.0 / 12.0).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn frame_size_parsing() {
        assert_eq!(FrameSize::parse("64").unwrap(), FrameSize::Fixed(64));
        assert_eq!(FrameSize::parse(" IMIX ").unwrap(), FrameSize::Imix);
        for bad in ["63", "1519", "0", "x", "", "-1"] {
            let e = FrameSize::parse(bad).unwrap_err().to_string();
            assert!(e.contains("64 to 1518"), "{e}");
        }
        let j = serde_json::to_string(&[FrameSize::Fixed(64), FrameSize::Imix]).unwrap();
        assert_eq!(j, r#"[64,"imix"]"#);
        let back: Vec<FrameSize> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, vec![FrameSize::Fixed(64), FrameSize::Imix]);
    }
}
