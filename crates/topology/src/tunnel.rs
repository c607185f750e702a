//! The tunnel and wire vocabulary of links: GRE and L2TPv3 options, remote endpoints, umlvnf's
//! own datapath (`transport: wire`), impairments and per-end packet filters.
//!
//! Numbers that reach UML (keys, sessions, cookies) are kept as the unsigned values people
//! write; the planner renders them the way UML parses them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use umlvnf_packet::units::{self, ImpairError};

use crate::endpoint::{Endpoint, ValueError};

/// GRE options of a `transport: gre` link. Keys are seen from the link's first endpoint:
/// `rx_key` is what it expects to receive, `tx_key` what it sends; the other end mirrors them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GreOptions {
    /// One key for both directions (0 to 0xffffffff).
    pub key: Option<TunnelId>,
    /// The key the first endpoint receives (with `tx_key`, instead of `key`).
    pub rx_key: Option<TunnelId>,
    /// The key the first endpoint sends (with `rx_key`, instead of `key`).
    pub tx_key: Option<TunnelId>,
    /// Carry GRE sequence numbers.
    pub sequence: Option<bool>,
}

/// How L2TPv3 frames travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum L2tpMode {
    /// Over UDP (needs no privileges).
    Udp,
    /// Directly over IP, protocol 115 (needs CAP_NET_RAW).
    Ip,
}

/// L2TPv3 options of a `transport: l2tpv3` link, seen from the link's first endpoint like
/// [`GreOptions`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct L2tpv3Options {
    /// `udp` (default) or `ip`.
    pub mode: Option<L2tpMode>,
    /// One session id for both directions, 1 to 0xffffffff (default 1).
    pub session: Option<TunnelId>,
    /// The session id the first endpoint receives (with `tx_session`).
    pub rx_session: Option<TunnelId>,
    /// The session id the first endpoint sends (with `rx_session`).
    pub tx_session: Option<TunnelId>,
    /// One cookie for both directions (32 bits, or 64 with `cookie64`).
    pub cookie: Option<Cookie>,
    /// The cookie the first endpoint expects (with `tx_cookie`).
    pub rx_cookie: Option<Cookie>,
    /// The cookie the first endpoint sends (with `rx_cookie`).
    pub tx_cookie: Option<Cookie>,
    /// Cookies are 64 bits long instead of 32.
    pub cookie64: Option<bool>,
    /// Carry the 4-byte L2-specific sublayer with a sequence counter (what Linux `ip l2tp`
    /// expects by default).
    pub counter: Option<bool>,
}

/// The far end of a tunnel link with a single endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteEnd {
    /// The remote tunnel address.
    #[schemars(with = "String")]
    pub address: IpAddr,
    /// The remote UDP port (L2TPv3 over UDP only; default 1701).
    pub port: Option<u16>,
    /// The local address to send from (default: an address allocated on the loopback, which
    /// only works when `address` is a loopback address too).
    #[schemars(with = "Option<String>")]
    pub local: Option<IpAddr>,
    /// The local UDP port (L2TPv3 over UDP only; default: allocated).
    pub local_port: Option<u16>,
    /// What is at the far end, when umlvnf knows it: for a link to a node on another host,
    /// that node's endpoint and host (`r2:eth0 on b`). Shown with the address by `plan` and
    /// `inspect`; never read from a topology file.
    #[serde(skip)]
    pub peer: Option<String>,
}

/// How a guest end of a `transport: wire` link attaches to umlvnf's datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WireAttach {
    /// A unix seqpacket socket (UML `transport=bess`), one frame per message.
    Bess,
    /// L2TPv3 over UDP on the loopback.
    L2tpv3,
}

/// How a host node or `host:` end of a `transport: wire` link attaches to umlvnf's datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WireHostEnd {
    /// A veth pair; the datapath reads its root-namespace end with AF_PACKET.
    Veth,
    /// A tap that is the host node's interface itself; the datapath holds its descriptor
    /// (one crossing fewer than a veth, one frame per system call).
    Tap,
}

/// How the datapath moves batches of frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WireBackend {
    /// `recvmmsg`/`sendmmsg`.
    Mmsg,
    /// io_uring.
    IoUring,
}

/// Options of a `transport: wire` link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireOptions {
    /// How guest ends attach: `bess` (default) or `l2tpv3`.
    pub attach: Option<WireAttach>,
    /// `mmsg` (default) or `io_uring`.
    pub backend: Option<WireBackend>,
    /// How host node and `host:` ends attach: `veth` (default) or `tap`.
    pub host_end: Option<WireHostEnd>,
}

/// Impairments of one direction, written like `tc netem`: `{loss: 10%, delay: 5ms}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Impairment {
    /// Share of frames dropped, such as `10%`.
    pub loss: Option<Percent>,
    /// Added latency, such as `5ms`.
    pub delay: Option<Delay>,
    /// Random variation of the latency, plus or minus, such as `1ms`.
    pub jitter: Option<Delay>,
    /// Rate limit, such as `100mbit`.
    pub rate: Option<Rate>,
    /// Share of frames sent twice, such as `0.1%`.
    pub duplicate: Option<Percent>,
    /// Share of frames sent at once, overtaking delayed ones, such as `1%`.
    pub reorder: Option<Percent>,
}

/// Impairments of a wire: the same both ways, or per endpoint (applied to the frames that
/// endpoint sends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Impairments {
    /// The same impairment in both directions.
    Both(Impairment),
    /// Per endpoint: the impairment of the frames it sends.
    PerEnd(BTreeMap<Endpoint, Impairment>),
}

/// A 32-bit GRE key or L2TPv3 session id, written in decimal or hex (`0x...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "NumberText", into = "u64")]
#[schemars(with = "NumberText")]
pub struct TunnelId(pub u32);

/// An L2TPv3 cookie, up to 64 bits, written in decimal or hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "NumberText", into = "u64")]
#[schemars(with = "NumberText")]
pub struct Cookie(pub u64);

/// A share from 0 % to 100 %, written `10%`, `0.5%` or as a fraction `0.1` (see
/// [`umlvnf_packet::units`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "NumberText", into = "String")]
#[schemars(schema_with = "crate::impair_schema::percent")]
pub struct Percent {
    /// The share as a fraction, 0 to 1.
    pub ratio: f64,
}

/// A duration written `5ms`, `250us`, `1.5s`, or `0` (see [`umlvnf_packet::units`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "NumberText", into = "String")]
#[schemars(schema_with = "crate::impair_schema::delay")]
pub struct Delay {
    /// The duration, in whole nanoseconds, at most one hour.
    pub duration: Duration,
}

/// A rate written `100mbit`, `1gbit`, `500kbit` or `64000bit` (see [`umlvnf_packet::units`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "NumberText", into = "String")]
#[schemars(schema_with = "crate::impair_schema::rate")]
pub struct Rate {
    /// Bits per second.
    pub bits_per_second: u64,
}

/// Numbers come from YAML as integers or text (hex, or with a `%`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum NumberText {
    /// An integer.
    Int(u64),
    /// A fraction.
    Float(f64),
    /// Text such as `0xfffffff0` or `10%`.
    Text(String),
}

impl NumberText {
    /// The number as text, for the parser that reads it written.
    fn into_text(self) -> String {
        match self {
            NumberText::Int(n) => n.to_string(),
            NumberText::Float(f) => f.to_string(),
            NumberText::Text(t) => t,
        }
    }
}

/// Parses a whole number in decimal, `0x` hex or `0o` octal, up to 64 bits.
pub fn parse_number(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = t.strip_prefix("0o") {
        (o, 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

impl std::str::FromStr for TunnelId {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let n = parse_number(s).ok_or_else(|| {
            ValueError::new(format!(
                "`{}` is not a 32-bit number: write 0 to 4294967295 in decimal or 0x0 to 0xffffffff in hex",
                s.escape_debug()
            ))
        })?;
        u32::try_from(n).map(TunnelId).map_err(|_| {
            ValueError::new(format!(
                "{n} does not fit in 32 bits: keys and sessions are 0 to 4294967295 (0xffffffff)"
            ))
        })
    }
}

impl TryFrom<NumberText> for TunnelId {
    type Error = ValueError;
    fn try_from(v: NumberText) -> Result<Self, ValueError> {
        v.into_text().parse()
    }
}

impl From<TunnelId> for u64 {
    fn from(v: TunnelId) -> u64 {
        u64::from(v.0)
    }
}

impl std::str::FromStr for Cookie {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        parse_number(s).map(Cookie).ok_or_else(|| {
            ValueError::new(format!(
                "`{}` is not a cookie: write a whole number in decimal or hex, up to 32 bits (64 with `cookie64: true`), such as 0xdeadbeef",
                s.escape_debug()
            ))
        })
    }
}

impl TryFrom<NumberText> for Cookie {
    type Error = ValueError;
    fn try_from(v: NumberText) -> Result<Self, ValueError> {
        match v {
            NumberText::Int(n) => Ok(Cookie(n)),
            NumberText::Float(f) => f.to_string().parse(),
            NumberText::Text(t) => t.parse(),
        }
    }
}

impl From<Cookie> for u64 {
    fn from(v: Cookie) -> u64 {
        v.0
    }
}

impl From<ImpairError> for ValueError {
    fn from(e: ImpairError) -> ValueError {
        ValueError::new(e.to_string())
    }
}

impl std::str::FromStr for Percent {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Ok(Percent {
            ratio: units::parse_percent(s)?,
        })
    }
}

impl TryFrom<NumberText> for Percent {
    type Error = ValueError;
    fn try_from(v: NumberText) -> Result<Self, ValueError> {
        v.into_text().parse()
    }
}

impl From<Percent> for String {
    fn from(p: Percent) -> String {
        p.to_string()
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&units::format_percent(self.ratio))
    }
}

impl std::str::FromStr for Delay {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Ok(Delay {
            duration: units::parse_duration(s)?,
        })
    }
}

impl TryFrom<NumberText> for Delay {
    type Error = ValueError;
    fn try_from(v: NumberText) -> Result<Self, ValueError> {
        v.into_text().parse()
    }
}

impl From<Delay> for String {
    fn from(d: Delay) -> String {
        units::format_duration(d.duration)
    }
}

impl std::str::FromStr for Rate {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Ok(Rate {
            bits_per_second: units::parse_rate(s)?,
        })
    }
}

impl TryFrom<NumberText> for Rate {
    type Error = ValueError;
    fn try_from(v: NumberText) -> Result<Self, ValueError> {
        v.into_text().parse()
    }
}

impl From<Rate> for String {
    fn from(r: Rate) -> String {
        units::format_rate(r.bits_per_second)
    }
}

/// What is wrong with the jitter of an [`Impairment`]: jitter varies a delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JitterError {
    /// Jitter without a delay.
    #[error("`jitter` varies the delay, and no `delay` is set: add one, such as `delay: 5ms`")]
    NoDelay,
    /// Jitter larger than the delay.
    #[error(
        "`jitter` is larger than `delay`, which would need negative delays: give at most the delay"
    )]
    LargerThanDelay,
}

impl Impairment {
    /// True if nothing is impaired.
    pub fn is_none(&self) -> bool {
        *self == Impairment::default()
    }

    /// Checks the one rule between fields: `jitter` needs a `delay` and may not exceed it.
    pub fn check_jitter(&self) -> Result<(), JitterError> {
        match (self.jitter, self.delay) {
            (Some(_), None) => Err(JitterError::NoDelay),
            (Some(j), Some(d)) if j > d => Err(JitterError::LargerThanDelay),
            _ => Ok(()),
        }
    }
}

/// The impairment the datapath applies: absent fields impair nothing.
impl From<&Impairment> for umlvnf_packet::impair::Impairment {
    fn from(i: &Impairment) -> Self {
        umlvnf_packet::impair::Impairment {
            loss: i.loss.map_or(0.0, |p| p.ratio),
            delay: i.delay.map_or(Duration::ZERO, |d| d.duration),
            jitter: i.jitter.map_or(Duration::ZERO, |d| d.duration),
            rate_bps: i.rate.map(|r| r.bits_per_second),
            duplicate: i.duplicate.map_or(0.0, |p| p.ratio),
            reorder: i.reorder.map_or(0.0, |p| p.ratio),
        }
    }
}

impl Impairments {
    /// The impairment of the frames `sender` sends, if any.
    pub fn for_sender(&self, sender: &Endpoint) -> Option<&Impairment> {
        match self {
            Impairments::Both(i) => Some(i),
            Impairments::PerEnd(m) => m.get(sender),
        }
    }
}

/// A GRE or L2TPv3 key pair seen from one side: what it receives and what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxTx<T> {
    /// Received.
    pub rx: T,
    /// Sent.
    pub tx: T,
}

impl<T: Copy> RxTx<T> {
    /// The same pair seen from the other side.
    pub fn mirrored(self) -> Self {
        RxTx {
            rx: self.tx,
            tx: self.rx,
        }
    }
}

impl GreOptions {
    /// The keys seen from the first endpoint, or `None` for a GRE tunnel without keys.
    pub fn keys(&self) -> Option<RxTx<u32>> {
        match (self.key, self.rx_key, self.tx_key) {
            (Some(k), _, _) => Some(RxTx { rx: k.0, tx: k.0 }),
            (None, Some(r), Some(t)) => Some(RxTx { rx: r.0, tx: t.0 }),
            _ => None,
        }
    }
}

/// The session used when an L2TPv3 link names none.
pub const DEFAULT_SESSION: u32 = 1;

impl L2tpv3Options {
    /// The mode, `udp` if unset.
    pub fn effective_mode(&self) -> L2tpMode {
        self.mode.unwrap_or(L2tpMode::Udp)
    }

    /// The sessions seen from the first endpoint (default 1 both ways).
    pub fn sessions(&self) -> RxTx<u32> {
        match (self.session, self.rx_session, self.tx_session) {
            (Some(s), _, _) => RxTx { rx: s.0, tx: s.0 },
            (None, Some(r), Some(t)) => RxTx { rx: r.0, tx: t.0 },
            _ => RxTx {
                rx: DEFAULT_SESSION,
                tx: DEFAULT_SESSION,
            },
        }
    }

    /// The cookies seen from the first endpoint, or `None` without cookies.
    pub fn cookies(&self) -> Option<RxTx<u64>> {
        match (self.cookie, self.rx_cookie, self.tx_cookie) {
            (Some(c), _, _) => Some(RxTx { rx: c.0, tx: c.0 }),
            (None, Some(r), Some(t)) => Some(RxTx { rx: r.0, tx: t.0 }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_in_decimal_and_hex_over_the_whole_range() {
        assert_eq!("0xfffffff0".parse::<TunnelId>(), Ok(TunnelId(0xffff_fff0)));
        assert_eq!("4294967295".parse::<TunnelId>(), Ok(TunnelId(u32::MAX)));
        assert_eq!("0".parse::<TunnelId>(), Ok(TunnelId(0)));
        assert!("0x100000000".parse::<TunnelId>().is_err());
        assert!("-1".parse::<TunnelId>().is_err());
        assert!("0xg".parse::<TunnelId>().is_err());
        assert_eq!("0xffffffffffffffff".parse::<Cookie>(), Ok(Cookie(u64::MAX)));
        assert!("0x1ffffffffffffffff".parse::<Cookie>().is_err());
    }

    #[test]
    fn impairment_values_parse_with_the_packet_units() {
        assert_eq!("10%".parse::<Percent>().map(|p| p.ratio), Ok(0.1));
        assert_eq!("0.1".parse::<Percent>().map(|p| p.ratio), Ok(0.1));
        assert_eq!(
            "250us".parse::<Delay>().map(|d| d.duration),
            Ok(Duration::from_micros(250))
        );
        assert_eq!(
            "100mbit".parse::<Rate>().map(|r| r.bits_per_second),
            Ok(100_000_000)
        );
        let e = "61 parsecs".parse::<Delay>().unwrap_err();
        assert_eq!(
            e.message,
            units::parse_duration("61 parsecs").unwrap_err().to_string()
        );
        assert_eq!(String::from("5ms".parse::<Delay>().unwrap()), "5ms");
        assert_eq!(String::from("1.5gbit".parse::<Rate>().unwrap()), "1500mbit");
        assert_eq!("0.5%".parse::<Percent>().unwrap().to_string(), "0.5%");
    }

    #[test]
    fn jitter_needs_a_delay_at_least_as_long() {
        let imp = |delay: Option<&str>, jitter: Option<&str>| Impairment {
            delay: delay.map(|d| d.parse().unwrap()),
            jitter: jitter.map(|j| j.parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(imp(None, None).check_jitter(), Ok(()));
        assert_eq!(imp(Some("5ms"), None).check_jitter(), Ok(()));
        assert_eq!(imp(Some("5ms"), Some("5ms")).check_jitter(), Ok(()));
        assert_eq!(
            imp(None, Some("1ms")).check_jitter(),
            Err(JitterError::NoDelay)
        );
        assert_eq!(
            imp(Some("1ms"), Some("1001us")).check_jitter(),
            Err(JitterError::LargerThanDelay)
        );
    }

    #[test]
    fn options_resolve_from_the_first_endpoint() {
        let g = GreOptions {
            rx_key: Some(TunnelId(1)),
            tx_key: Some(TunnelId(2)),
            ..Default::default()
        };
        assert_eq!(g.keys(), Some(RxTx { rx: 1, tx: 2 }));
        assert_eq!(g.keys().map(RxTx::mirrored), Some(RxTx { rx: 2, tx: 1 }));
        let l = L2tpv3Options::default();
        assert_eq!(l.sessions(), RxTx { rx: 1, tx: 1 });
        assert_eq!(l.effective_mode(), L2tpMode::Udp);
        assert_eq!(l.cookies(), None);
    }
}
