//! The virtio-net header carried by raw/tap sockets with `PACKET_VNET_HDR` / `IFF_VNET_HDR`.
//!
//! 10 bytes, u16 fields in host byte order (legacy virtio, as the Linux tap and packet socket
//! use unless `TUNSETVNETBE`/`TUNSETVNETLE` says otherwise).

use crate::bytes::{array, put, room};
use crate::PacketError;

/// Length of the header in bytes.
pub const LEN: usize = 10;
/// `flags` bit: the checksum is partial (`csum_start`/`csum_offset` are valid).
pub const F_NEEDS_CSUM: u8 = 1;
/// `flags` bit: the checksum has been validated.
pub const F_DATA_VALID: u8 = 2;
/// `gso_type`: not a GSO frame.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4 segmentation.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: UDP fragmentation offload.
pub const GSO_UDP: u8 = 3;
/// `gso_type`: TCP over IPv6 segmentation.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type` bit: ECN (CWR) set.
pub const GSO_ECN: u8 = 0x80;

/// The 10-byte virtio-net header (`struct virtio_net_hdr`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHdr {
    /// `VIRTIO_NET_HDR_F_*` bits.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*` type.
    pub gso_type: u8,
    /// Length of the headers before the GSO payload.
    pub hdr_len: u16,
    /// Segment size for GSO.
    pub gso_size: u16,
    /// Where checksumming starts.
    pub csum_start: u16,
    /// Where to put the checksum, relative to `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Parses the first [`LEN`] bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<VnetHdr, PacketError> {
        let b: [u8; LEN] = array(buf, 0)?;
        Ok(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_ne_bytes([b[2], b[3]]),
            gso_size: u16::from_ne_bytes([b[4], b[5]]),
            csum_start: u16::from_ne_bytes([b[6], b[7]]),
            csum_offset: u16::from_ne_bytes([b[8], b[9]]),
        })
    }

    /// Writes the header into the first [`LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), PacketError> {
        room(buf, LEN)?;
        put(buf, 0, &[self.flags, self.gso_type])?;
        put(buf, 2, &self.hdr_len.to_ne_bytes())?;
        put(buf, 4, &self.gso_size.to_ne_bytes())?;
        put(buf, 6, &self.csum_start.to_ne_bytes())?;
        put(buf, 8, &self.csum_offset.to_ne_bytes())
    }

    /// True when the frame is a GSO super-frame (`gso_type` other than none, ignoring ECN).
    pub fn is_gso(&self) -> bool {
        self.gso_type & !GSO_ECN != GSO_NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut buf = [0u8; 12];
        h.emit(&mut buf).unwrap();
        let mut want = vec![1u8, 1];
        for v in [66u16, 1448, 34, 16] {
            want.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(&buf[..LEN], &want[..]);
        assert_eq!(VnetHdr::parse(&buf).unwrap(), h);
        assert!(h.is_gso());
        assert!(!VnetHdr::default().is_gso());
        assert_eq!(VnetHdr::parse(&[0u8; LEN]).unwrap(), VnetHdr::default());
        assert_eq!(
            VnetHdr::parse(&buf[..9]),
            Err(PacketError::Truncated { need: 10, have: 9 })
        );
        assert_eq!(
            h.emit(&mut [0u8; 4]),
            Err(PacketError::BufferTooSmall { need: 10, have: 4 })
        );
    }
}
