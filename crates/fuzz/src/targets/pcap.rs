//! The pcap stream writer ([`umlvnf_packet::pcap`]), read back by a reader of its own.
//!
//! umlvnf writes pcap (captures) but reads none, so this target checks the writer: whatever
//! frames, snap length and times it gets, the stream must be one that a pcap reader takes
//! back frame for frame.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use umlvnf_packet::pcap::{PcapWriter, DEFAULT_SNAPLEN, LINKTYPE_ETHERNET, MAGIC_MICROS};

use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "pcap",
    about: "PcapWriter::new and write_frame with the snap length, frames and times the input \
            gives, read back record by record",
    run,
    max_len: 4096,
    dictionary: &[
        b"\x00\x00\x00\x00",
        b"\xff\xff\x00\x00",
        b"\x00\x01",
        b"\xff\xff",
    ],
};

/// One frame of the input: a time selector byte, a 16-bit length, then the bytes.
fn frames(mut rest: &[u8]) -> Vec<(SystemTime, &[u8])> {
    let mut out = Vec::new();
    while let [sel, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])) % (tail.len() + 1);
        let ts = match sel % 5 {
            0 => UNIX_EPOCH,
            1 => UNIX_EPOCH
                .checked_sub(Duration::from_secs(1))
                .unwrap_or(UNIX_EPOCH),
            2 => UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) + 5),
            3 => SystemTime::now(),
            _ => UNIX_EPOCH + Duration::from_micros(u64::from(*sel) * 1_234_567),
        };
        out.push((ts, &tail[..len]));
        rest = &tail[len..];
    }
    out
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn run(data: &[u8], out: &mut Outcomes) {
    out.add(outcome(data));
}

fn outcome(data: &[u8]) -> u64 {
    let snaplen = match data.get(..4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) % 70_000,
        None => 0,
    };
    let frames = frames(data.get(4..).unwrap_or_default());
    let mut w = PcapWriter::new(Vec::new(), snaplen).expect("writing to memory cannot fail");
    for (ts, f) in &frames {
        w.write_frame(*ts, f)
            .expect("writing to memory cannot fail");
    }
    let want_snap = if snaplen == 0 {
        DEFAULT_SNAPLEN
    } else {
        snaplen
    };
    assert_eq!(w.snaplen(), want_snap);
    let out = w.into_inner();
    // The global header.
    assert!(out.len() >= 24, "the global header is 24 bytes");
    assert_eq!(u32_at(&out, 0), MAGIC_MICROS);
    assert_eq!(
        &out[4..8],
        [2u16.to_ne_bytes(), 4u16.to_ne_bytes()].concat()
    );
    assert_eq!(u32_at(&out, 16), want_snap);
    assert_eq!(u32_at(&out, 20), LINKTYPE_ETHERNET);
    // One record per frame.
    let mut off = 24;
    let mut truncated = 0u64;
    for (ts, f) in &frames {
        assert!(out.len() >= off + 16, "a record header is missing");
        let secs = u32_at(&out, off);
        let usecs = u32_at(&out, off + 4);
        let incl = u32_at(&out, off + 8) as usize;
        let orig = u32_at(&out, off + 12) as usize;
        assert!(usecs < 1_000_000, "microseconds {usecs} out of range");
        let since = ts.duration_since(UNIX_EPOCH).unwrap_or_default();
        let want_secs = u32::try_from(since.as_secs()).unwrap_or(u32::MAX);
        assert_eq!(secs, want_secs);
        assert_eq!(orig, f.len());
        assert_eq!(incl, f.len().min(want_snap as usize));
        assert!(out.len() >= off + 16 + incl, "a record's data is missing");
        assert_eq!(&out[off + 16..off + 16 + incl], &f[..incl]);
        truncated += u64::from(incl < orig);
        off += 16 + incl;
    }
    assert_eq!(off, out.len(), "bytes after the last record");
    (frames.len() as u64).min(8) | truncated.min(4) << 4
}
