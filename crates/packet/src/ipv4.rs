//! IPv4 header stripping for raw IPv4 sockets (GRE, L2TPv3 over IP), which deliver the IP header.

use crate::bytes::{array, be16};
use crate::PacketError;

/// Returns the IPv4 payload of `buf`, which starts with an IPv4 header.
///
/// Checks the version (4) and the header length (20–60 bytes, within the packet). When the
/// total-length field is non-zero and shorter than `buf`, trailing bytes are cut off; a zero
/// total length (as with GSO) means "the whole buffer". A total length longer than `buf` is
/// [`PacketError::Truncated`].
pub fn strip_header(buf: &[u8]) -> Result<&[u8], PacketError> {
    let [vihl] = array::<1>(buf, 0)?;
    let version = vihl >> 4;
    if version != 4 {
        return Err(PacketError::BadVersion {
            protocol: "IPv4",
            found: u32::from(version),
            expected: 4,
        });
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 {
        return Err(PacketError::BadHeaderLength { found: ihl });
    }
    let total = usize::from(be16(buf, 2)?);
    if buf.len() < ihl {
        return Err(PacketError::Truncated {
            need: ihl,
            have: buf.len(),
        });
    }
    let end = if total == 0 {
        buf.len()
    } else if total < ihl {
        return Err(PacketError::BadHeaderLength { found: ihl });
    } else if total > buf.len() {
        return Err(PacketError::Truncated {
            need: total,
            have: buf.len(),
        });
    } else {
        total
    };
    buf.get(ihl..end).ok_or(PacketError::Truncated {
        need: end,
        have: buf.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ihl_words: u8, total: u16) -> Vec<u8> {
        let mut h = vec![0u8; usize::from(ihl_words) * 4];
        h[0] = 0x40 | ihl_words;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[9] = 47;
        h
    }

    #[test]
    fn strips_plain_and_option_headers() {
        let mut p = header(5, 24);
        p.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(strip_header(&p).unwrap(), &[1, 2, 3, 4]);
        let mut p = header(6, 26);
        p.extend_from_slice(&[9, 8, 0xee, 0xee]); // 2 bytes of trailing padding
        assert_eq!(strip_header(&p).unwrap(), &[9, 8]);
        let mut p = header(5, 0);
        p.extend_from_slice(&[5; 100]);
        assert_eq!(strip_header(&p).unwrap().len(), 100);
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(matches!(
            strip_header(&[]),
            Err(PacketError::Truncated { need: 1, have: 0 })
        ));
        let mut v6 = header(5, 20);
        v6[0] = 0x65;
        assert!(matches!(
            strip_header(&v6),
            Err(PacketError::BadVersion { found: 6, .. })
        ));
        assert!(matches!(
            strip_header(&header(4, 20)[..]),
            Err(PacketError::BadHeaderLength { found: 16 })
        ));
        assert!(matches!(
            strip_header(&header(5, 40)),
            Err(PacketError::Truncated { need: 40, have: 20 })
        ));
        assert!(matches!(
            strip_header(&header(15, 60)[..30]),
            Err(PacketError::Truncated { need: 60, have: 30 })
        ));
    }
}
