//! GRE as UML's `gre` vector transport builds it.
//!
//! Layout (network byte order): `u16 flags` (0x2000 key present, 0x1000 sequence present; no
//! checksum, version 0), `u16 protocol` = 0x6558 (transparent Ethernet bridging), then the
//! optional `u32 key`, then the optional `u32 sequence`. The payload is an Ethernet frame.
//! Over IPv4 a raw `IPPROTO_GRE` socket delivers the IP header first: strip it with
//! [`crate::ipv4::strip_header`].

use crate::bytes::{be16, be32, put, room};
use crate::PacketError;

/// Flag bit: a key follows the protocol type.
pub const FLAG_KEY: u16 = 0x2000;
/// Flag bit: a sequence number follows the key.
pub const FLAG_SEQ: u16 = 0x1000;
/// GRE protocol type for transparent Ethernet bridging.
pub const PROTO_TEB: u16 = 0x6558;
/// IP protocol number of GRE.
pub const IPPROTO_GRE: u8 = 47;

/// A parsed or to-be-emitted GRE header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreRepr {
    /// The key, when the key bit is set.
    pub key: Option<u32>,
    /// The sequence number, when the sequence bit is set.
    pub seq: Option<u32>,
}

impl GreRepr {
    /// Header length in bytes: 4, plus 4 for a key, plus 4 for a sequence number.
    pub fn header_len(&self) -> usize {
        4 + if self.key.is_some() { 4 } else { 0 } + if self.seq.is_some() { 4 } else { 0 }
    }

    /// The flags word this header carries (key and sequence bits only).
    pub fn flags(&self) -> u16 {
        (if self.key.is_some() { FLAG_KEY } else { 0 })
            | (if self.seq.is_some() { FLAG_SEQ } else { 0 })
    }

    /// Parses a GRE header (starting at the GRE flags, not at an IP header) and returns it with
    /// the payload (the Ethernet frame).
    ///
    /// Rejects version ≠ 0, any flag other than key/sequence, and protocols other than 0x6558.
    pub fn parse(buf: &[u8]) -> Result<(GreRepr, &[u8]), PacketError> {
        let flags = be16(buf, 0)?;
        let version = flags & 0x0007;
        if version != 0 {
            return Err(PacketError::BadVersion {
                protocol: "GRE",
                found: u32::from(version),
                expected: 0,
            });
        }
        if flags & !(FLAG_KEY | FLAG_SEQ) != 0 {
            return Err(PacketError::UnsupportedFlags { flags });
        }
        let proto = be16(buf, 2)?;
        if proto != PROTO_TEB {
            return Err(PacketError::BadProtocol { found: proto });
        }
        let mut off = 4;
        let key = if flags & FLAG_KEY != 0 {
            let k = be32(buf, off)?;
            off += 4;
            Some(k)
        } else {
            None
        };
        let seq = if flags & FLAG_SEQ != 0 {
            let s = be32(buf, off)?;
            off += 4;
            Some(s)
        } else {
            None
        };
        let payload = buf.get(off..).unwrap_or_default();
        Ok((GreRepr { key, seq }, payload))
    }

    /// Writes the header at the start of `buf`; returns the bytes written ([`Self::header_len`]).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, PacketError> {
        let len = self.header_len();
        room(buf, len)?;
        put(buf, 0, &self.flags().to_be_bytes())?;
        put(buf, 2, &PROTO_TEB.to_be_bytes())?;
        let mut off = 4;
        if let Some(k) = self.key {
            put(buf, off, &k.to_be_bytes())?;
            off += 4;
        }
        if let Some(s) = self.seq {
            put(buf, off, &s.to_be_bytes())?;
        }
        Ok(len)
    }

    /// Checks a received header against this end's receive settings, as UML does: the key and
    /// sequence bits must match exactly ([`PacketError::FlagsMismatch`]) and the key must equal
    /// `self.key` ([`PacketError::KeyMismatch`]). Sequence values are not compared.
    pub fn check(&self, received: &GreRepr) -> Result<(), PacketError> {
        if self.flags() != received.flags() {
            return Err(PacketError::FlagsMismatch {
                found: received.flags(),
                expected: self.flags(),
            });
        }
        if self.key != received.key {
            return Err(PacketError::KeyMismatch {
                found: received.key,
                expected: self.key,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_uml_layout() {
        let cases: [(GreRepr, &[u8]); 4] = [
            (
                GreRepr {
                    key: None,
                    seq: None,
                },
                &[0x00, 0x00, 0x65, 0x58],
            ),
            (
                GreRepr {
                    key: Some(0x0102_0304),
                    seq: None,
                },
                &[0x20, 0x00, 0x65, 0x58, 1, 2, 3, 4],
            ),
            (
                GreRepr {
                    key: None,
                    seq: Some(7),
                },
                &[0x10, 0x00, 0x65, 0x58, 0, 0, 0, 7],
            ),
            (
                GreRepr {
                    key: Some(0xdead_beef),
                    seq: Some(0x0000_0102),
                },
                &[0x30, 0x00, 0x65, 0x58, 0xde, 0xad, 0xbe, 0xef, 0, 0, 1, 2],
            ),
        ];
        for (repr, bytes) in cases {
            let mut buf = [0u8; 32];
            let n = repr.emit(&mut buf).unwrap();
            assert_eq!(n, bytes.len());
            assert_eq!(&buf[..n], bytes, "{repr:?}");
            assert_eq!(repr.header_len(), bytes.len());
            let mut pkt = bytes.to_vec();
            pkt.extend_from_slice(b"ETHERNETFRAME");
            let (back, payload) = GreRepr::parse(&pkt).unwrap();
            assert_eq!(back, repr);
            assert_eq!(payload, b"ETHERNETFRAME");
        }
    }

    #[test]
    fn rejects_foreign_headers() {
        assert_eq!(
            GreRepr::parse(&[0x00, 0x00, 0x08, 0x00]),
            Err(PacketError::BadProtocol { found: 0x0800 })
        );
        assert_eq!(
            GreRepr::parse(&[0x80, 0x00, 0x65, 0x58, 0, 0, 0, 0]),
            Err(PacketError::UnsupportedFlags { flags: 0x8000 })
        );
        assert!(matches!(
            GreRepr::parse(&[0x00, 0x01, 0x65, 0x58]),
            Err(PacketError::BadVersion { found: 1, .. })
        ));
        assert_eq!(
            GreRepr::parse(&[0x20, 0x00, 0x65, 0x58, 1, 2]),
            Err(PacketError::Truncated { need: 8, have: 6 })
        );
        let mut small = [0u8; 7];
        assert_eq!(
            GreRepr {
                key: None,
                seq: None
            }
            .emit(&mut small),
            Ok(4)
        );
        assert_eq!(
            GreRepr {
                key: Some(1),
                seq: None
            }
            .emit(&mut small),
            Err(PacketError::BufferTooSmall { need: 8, have: 7 })
        );
        assert_eq!(
            GreRepr {
                key: Some(1),
                seq: Some(1)
            }
            .emit(&mut small),
            Err(PacketError::BufferTooSmall { need: 12, have: 7 })
        );
    }

    #[test]
    fn check_compares_flags_and_key() {
        let rx = GreRepr {
            key: Some(5),
            seq: Some(0),
        };
        assert_eq!(
            rx.check(&GreRepr {
                key: Some(5),
                seq: Some(99)
            }),
            Ok(())
        );
        assert!(matches!(
            rx.check(&GreRepr {
                key: Some(5),
                seq: None
            }),
            Err(PacketError::FlagsMismatch {
                found: 0x2000,
                expected: 0x3000
            })
        ));
        assert!(matches!(
            rx.check(&GreRepr {
                key: Some(6),
                seq: Some(1)
            }),
            Err(PacketError::KeyMismatch { .. })
        ));
    }
}
