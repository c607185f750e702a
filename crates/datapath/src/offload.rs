//! Moving frames between ends with and without the virtio-net header: completing partial
//! checksums in software and refusing GSO frames for ends that cannot take them.

use umlvnf_packet::vnet::{VnetHdr, F_NEEDS_CSUM};

/// What to do with a frame that came with a vnet header and goes to an end without one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plain {
    /// The frame is complete (checksum filled in if it was partial).
    Ok,
    /// The frame is a GSO super-frame (or its checksum offsets are impossible): drop it as
    /// `truncated`, since this crate does not segment.
    Drop,
}

/// Makes `frame` self-contained for an end without vnet header: fills in a partial checksum
/// (`F_NEEDS_CSUM`: ones' complement sum from `csum_start` to the end, stored at
/// `csum_start + csum_offset`) and refuses GSO frames.
pub(crate) fn to_plain(hdr: &VnetHdr, frame: &mut [u8]) -> Plain {
    if hdr.is_gso() {
        return Plain::Drop;
    }
    if hdr.flags & F_NEEDS_CSUM == 0 {
        return Plain::Ok;
    }
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    if at + 2 > frame.len() || start > frame.len() {
        return Plain::Drop;
    }
    // The checksum field holds the (uncomplemented) pseudo-header sum: summing over it
    // includes the pseudo header.
    let sum = !fold(ones_sum(&frame[start..]));
    let sum = if sum == 0 { 0xffff } else { sum };
    frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    Plain::Ok
}

fn ones_sum(data: &[u8]) -> u32 {
    let mut sum: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff_ffff {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    sum as u32
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_udp_checksum() {
        // IPv4 UDP 10.0.0.1:1000 -> 10.0.0.2:2000, payload "hi", in an Ethernet frame.
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let ip = [
            0x45, 0, 0, 30, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 10, 0, 0, b'h', b'i']);
        // Full checksum computed the slow way (pseudo header + UDP).
        let mut pseudo = vec![10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 10];
        pseudo.extend_from_slice(&f[34..]);
        let full = !fold(ones_sum(&pseudo));
        // Partial: the field holds the folded pseudo-header sum.
        let ph = fold(ones_sum(&[10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 10]));
        f[40..42].copy_from_slice(&ph.to_be_bytes());
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 6,
            ..VnetHdr::default()
        };
        assert_eq!(to_plain(&hdr, &mut f), Plain::Ok);
        assert_eq!(u16::from_be_bytes([f[40], f[41]]), full);
    }

    #[test]
    fn refuses_gso_and_bad_offsets() {
        let mut f = vec![0u8; 60];
        let gso = VnetHdr {
            gso_type: umlvnf_packet::vnet::GSO_TCPV4,
            gso_size: 1448,
            ..VnetHdr::default()
        };
        assert_eq!(to_plain(&gso, &mut f), Plain::Drop);
        let bad = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 59,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        assert_eq!(to_plain(&bad, &mut f), Plain::Drop);
        assert_eq!(to_plain(&VnetHdr::default(), &mut f), Plain::Ok);
    }
}
