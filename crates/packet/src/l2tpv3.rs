//! The L2TPv3 data header as UML's `l2tpv3` vector transport builds it (RFC 3931 / 4719).
//!
//! Layout, all fields network byte order:
//! - UDP mode (`udp=1`) starts with the u32 word `0x00030000` (T=0 data message, version 3);
//!   IP mode (IP protocol 115) has no such word.
//! - `u32 session`.
//! - the cookie, 4 or 8 bytes, if configured (`rx_cookie`/`tx_cookie`, `cookie64`).
//! - a 4-byte counter if configured (`counter`).
//!
//! The counter UML writes (`l2tpv3_form_header` in `arch/um/drivers/vector_transports.c`) is a
//! plain big-endian u32 that starts at 1 and increments per frame; with `pin_counter` it is
//! always 0. UML does **not** set the RFC 4719 S bit (0x40000000) and never checks the counter
//! on receive; Linux's `l2tp_core` only reads a sequence number when that S bit is set, so it
//! ignores UML's counter too. [`L2tpv3Repr::parse`] returns the counter word verbatim.
//!
//! Over IPv4 in IP mode a raw socket delivers the IP header first: strip it with
//! [`crate::ipv4::strip_header`].

use crate::bytes::{be32, be64, put, room};
use crate::PacketError;

/// The first word of every UDP-mode data header: T bit 0, version 3.
pub const UDP_DATA_WORD: u32 = 0x0003_0000;
/// IP protocol number of L2TPv3 over IP.
pub const IPPROTO_L2TP: u8 = 115;

/// An L2TPv3 cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    /// No cookie configured.
    None,
    /// A 4-byte cookie.
    C32(u32),
    /// An 8-byte cookie (UML option `cookie64`).
    C64(u64),
}

impl Cookie {
    /// The cookie's length on the wire (0, 4 or 8).
    pub fn len(&self) -> u8 {
        match self {
            Cookie::None => 0,
            Cookie::C32(_) => 4,
            Cookie::C64(_) => 8,
        }
    }

    /// True for [`Cookie::None`].
    pub fn is_empty(&self) -> bool {
        matches!(self, Cookie::None)
    }
}

/// What both ends agree on (UML options: `udp=1`, `cookie64`, `counter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2tpv3Config {
    /// UDP encapsulation (otherwise IP protocol 115).
    pub udp: bool,
    /// Cookie length: 0, 4 or 8.
    pub cookie_len: u8,
    /// Whether a 4-byte counter (L2-specific sublayer) follows the cookie.
    pub counter: bool,
}

impl L2tpv3Config {
    /// Checks that `cookie_len` is 0, 4 or 8.
    pub fn validate(&self) -> Result<(), PacketError> {
        if matches!(self.cookie_len, 0 | 4 | 8) {
            Ok(())
        } else {
            Err(PacketError::InvalidConfig(
                "the L2TPv3 cookie length must be 0, 4 or 8 bytes",
            ))
        }
    }
}

/// A parsed or to-be-emitted L2TPv3 data header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2tpv3Repr {
    /// The session id (the peer's `rx_session` when sending).
    pub session: u32,
    /// The cookie; must match `cookie_len` of the configuration.
    pub cookie: Cookie,
    /// The counter word; `Some` exactly when the configuration has `counter`
    /// (on emit, `None` with `counter` configured writes 0, like UML's `pin_counter`).
    pub counter: Option<u32>,
}

impl L2tpv3Repr {
    /// Header length for a configuration: 4 (UDP word) + 4 (session) + cookie + 4 (counter).
    pub fn header_len(cfg: &L2tpv3Config) -> usize {
        (if cfg.udp { 4 } else { 0 })
            + 4
            + usize::from(cfg.cookie_len)
            + if cfg.counter { 4 } else { 0 }
    }

    /// Parses a header laid out per `cfg` and returns it with the payload (an Ethernet frame).
    ///
    /// In UDP mode the first word must be a version-3 data message ([`UDP_DATA_WORD`]; the
    /// reserved low 16 bits are ignored), else [`PacketError::BadVersion`].
    pub fn parse<'a>(
        cfg: &L2tpv3Config,
        buf: &'a [u8],
    ) -> Result<(L2tpv3Repr, &'a [u8]), PacketError> {
        cfg.validate()?;
        let mut off = 0;
        if cfg.udp {
            let word = be32(buf, 0)?;
            let t_bit = word & 0x8000_0000 != 0;
            let version = (word >> 16) & 0x000f;
            if t_bit || version != 3 {
                return Err(PacketError::BadVersion {
                    protocol: "L2TPv3 data",
                    found: if t_bit { word >> 16 } else { version },
                    expected: 3,
                });
            }
            off = 4;
        }
        let session = be32(buf, off)?;
        off += 4;
        let cookie = match cfg.cookie_len {
            4 => Cookie::C32(be32(buf, off)?),
            8 => Cookie::C64(be64(buf, off)?),
            _ => Cookie::None,
        };
        off += usize::from(cfg.cookie_len);
        let counter = if cfg.counter {
            let c = be32(buf, off)?;
            off += 4;
            Some(c)
        } else {
            None
        };
        let payload = buf.get(off..).unwrap_or_default();
        Ok((
            L2tpv3Repr {
                session,
                cookie,
                counter,
            },
            payload,
        ))
    }

    /// Writes the header at the start of `buf`; returns the bytes written
    /// ([`Self::header_len`]). The cookie must have `cfg.cookie_len` bytes, and a counter
    /// value needs `cfg.counter`, else [`PacketError::InvalidConfig`].
    pub fn emit(&self, cfg: &L2tpv3Config, buf: &mut [u8]) -> Result<usize, PacketError> {
        cfg.validate()?;
        if self.cookie.len() != cfg.cookie_len {
            return Err(PacketError::InvalidConfig(
                "the L2TPv3 cookie's length differs from the configured cookie length",
            ));
        }
        if self.counter.is_some() && !cfg.counter {
            return Err(PacketError::InvalidConfig(
                "an L2TPv3 counter value was given but the configuration has no counter",
            ));
        }
        let len = Self::header_len(cfg);
        room(buf, len)?;
        let mut off = 0;
        if cfg.udp {
            put(buf, 0, &UDP_DATA_WORD.to_be_bytes())?;
            off = 4;
        }
        put(buf, off, &self.session.to_be_bytes())?;
        off += 4;
        match self.cookie {
            Cookie::None => {}
            Cookie::C32(c) => put(buf, off, &c.to_be_bytes())?,
            Cookie::C64(c) => put(buf, off, &c.to_be_bytes())?,
        }
        off += usize::from(cfg.cookie_len);
        if cfg.counter {
            put(buf, off, &self.counter.unwrap_or(0).to_be_bytes())?;
        }
        Ok(len)
    }

    /// Checks a received header against this end's `rx_session` and `rx_cookie`, as UML does
    /// (the counter is not checked).
    pub fn check(&self, rx_session: u32, rx_cookie: Cookie) -> Result<(), PacketError> {
        if self.cookie != rx_cookie {
            return Err(PacketError::CookieMismatch {
                found: self.cookie,
                expected: rx_cookie,
            });
        }
        if self.session != rx_session {
            return Err(PacketError::SessionMismatch {
                found: self.session,
                expected: rx_session,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(udp: bool, cookie_len: u8, counter: bool) -> L2tpv3Config {
        L2tpv3Config {
            udp,
            cookie_len,
            counter,
        }
    }

    #[test]
    fn bytes_match_uml_layout() {
        let cases: Vec<(L2tpv3Config, L2tpv3Repr, Vec<u8>)> = vec![
            (
                cfg(true, 0, false),
                L2tpv3Repr {
                    session: 0x1234,
                    cookie: Cookie::None,
                    counter: None,
                },
                vec![0, 3, 0, 0, 0, 0, 0x12, 0x34],
            ),
            (
                cfg(false, 0, false),
                L2tpv3Repr {
                    session: 0xabcdef01,
                    cookie: Cookie::None,
                    counter: None,
                },
                vec![0xab, 0xcd, 0xef, 0x01],
            ),
            (
                cfg(true, 4, true),
                L2tpv3Repr {
                    session: 2,
                    cookie: Cookie::C32(0x11223344),
                    counter: Some(1),
                },
                vec![0, 3, 0, 0, 0, 0, 0, 2, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1],
            ),
            (
                cfg(false, 8, true),
                L2tpv3Repr {
                    session: 3,
                    cookie: Cookie::C64(0x0102030405060708),
                    counter: Some(0x00ff00ff),
                },
                vec![0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0xff, 0, 0xff],
            ),
            (
                cfg(true, 8, false),
                L2tpv3Repr {
                    session: 7,
                    cookie: Cookie::C64(u64::MAX),
                    counter: None,
                },
                vec![
                    0, 3, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
            ),
            (
                cfg(false, 4, false),
                L2tpv3Repr {
                    session: 9,
                    cookie: Cookie::C32(0xcafe),
                    counter: None,
                },
                vec![0, 0, 0, 9, 0, 0, 0xca, 0xfe],
            ),
        ];
        for (c, repr, bytes) in cases {
            assert_eq!(L2tpv3Repr::header_len(&c), bytes.len(), "{c:?}");
            let mut buf = [0u8; 64];
            let n = repr.emit(&c, &mut buf).unwrap();
            assert_eq!(&buf[..n], &bytes[..], "{c:?} {repr:?}");
            let mut pkt = bytes.clone();
            pkt.extend_from_slice(&[0xaa; 14]);
            let (back, payload) = L2tpv3Repr::parse(&c, &pkt).unwrap();
            assert_eq!(back, repr);
            assert_eq!(payload, &[0xaa; 14]);
            assert_eq!(back.check(repr.session, repr.cookie), Ok(()));
        }
    }

    #[test]
    fn pinned_counter_emits_zero() {
        let c = cfg(true, 0, true);
        let mut buf = [0xffu8; 12];
        let r = L2tpv3Repr {
            session: 1,
            cookie: Cookie::None,
            counter: None,
        };
        assert_eq!(r.emit(&c, &mut buf), Ok(12));
        assert_eq!(&buf[8..12], &[0, 0, 0, 0]);
    }

    #[test]
    fn rejects_mismatches_and_bad_config() {
        let c = cfg(true, 4, false);
        let r = L2tpv3Repr {
            session: 1,
            cookie: Cookie::C64(1),
            counter: None,
        };
        assert!(matches!(
            r.emit(&c, &mut [0u8; 64]),
            Err(PacketError::InvalidConfig(_))
        ));
        let r = L2tpv3Repr {
            session: 1,
            cookie: Cookie::C32(1),
            counter: Some(1),
        };
        assert!(matches!(
            r.emit(&c, &mut [0u8; 64]),
            Err(PacketError::InvalidConfig(_))
        ));
        assert!(matches!(
            L2tpv3Repr::parse(&cfg(false, 3, false), &[0; 64]),
            Err(PacketError::InvalidConfig(_))
        ));
        // A control message (T bit) and a version-2 header are refused in UDP mode.
        assert!(matches!(
            L2tpv3Repr::parse(&c, &[0xc8, 0x03, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
            Err(PacketError::BadVersion { .. })
        ));
        assert!(matches!(
            L2tpv3Repr::parse(&c, &[0x00, 0x02, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
            Err(PacketError::BadVersion { found: 2, .. })
        ));
        let got = L2tpv3Repr {
            session: 5,
            cookie: Cookie::C32(9),
            counter: None,
        };
        assert_eq!(
            got.check(6, Cookie::C32(9)),
            Err(PacketError::SessionMismatch {
                found: 5,
                expected: 6
            })
        );
        assert!(matches!(
            got.check(5, Cookie::C32(8)),
            Err(PacketError::CookieMismatch { .. })
        ));
        let mut small = [0u8; 11];
        let r = L2tpv3Repr {
            session: 1,
            cookie: Cookie::C32(1),
            counter: None,
        };
        assert_eq!(
            r.emit(&c, &mut small),
            Err(PacketError::BufferTooSmall { need: 12, have: 11 })
        );
    }
}
