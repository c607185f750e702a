//! Classic pcap file/stream writer (magic 0xa1b2c3d4, microsecond timestamps, version 2.4,
//! `LINKTYPE_ETHERNET`), readable by tcpdump, Wireshark and libpcap. Fields are written in
//! host byte order, as libpcap does; readers detect the order from the magic.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// The pcap magic for microsecond timestamps.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// The snap length used when 0 is asked for.
pub const DEFAULT_SNAPLEN: u32 = 65535;

/// Writes frames to a pcap file or stream.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header and returns the writer. A `snaplen` of 0 means
    /// [`DEFAULT_SNAPLEN`].
    pub fn new(mut w: W, snaplen: u32) -> io::Result<Self> {
        let snaplen = if snaplen == 0 {
            DEFAULT_SNAPLEN
        } else {
            snaplen
        };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&MAGIC_MICROS.to_ne_bytes());
        h[4..6].copy_from_slice(&2u16.to_ne_bytes());
        h[6..8].copy_from_slice(&4u16.to_ne_bytes());
        // thiszone (8..12) and sigfigs (12..16) stay 0.
        h[16..20].copy_from_slice(&snaplen.to_ne_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        w.write_all(&h)?;
        Ok(Self { w, snaplen })
    }

    /// The snap length in the global header.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Writes one frame record: at most `snaplen` bytes of `frame`, with the original length
    /// `frame.len()`. Times before 1970 are written as 0; seconds saturate at `u32::MAX`.
    pub fn write_frame(&mut self, ts: SystemTime, frame: &[u8]) -> io::Result<()> {
        let since = ts.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = u32::try_from(since.as_secs()).unwrap_or(u32::MAX);
        let usecs = since.subsec_micros();
        let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let cap = orig.min(self.snaplen);
        let data = frame.get(..cap as usize).unwrap_or(frame);
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&secs.to_ne_bytes());
        rec[4..8].copy_from_slice(&usecs.to_ne_bytes());
        rec[8..12].copy_from_slice(&cap.to_ne_bytes());
        rec[12..16].copy_from_slice(&orig.to_ne_bytes());
        self.w.write_all(&rec)?;
        self.w.write_all(data)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Returns the underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn header_and_record_layout() {
        let mut p = PcapWriter::new(Vec::new(), 4).unwrap();
        let ts = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        p.write_frame(ts, &[1, 2, 3, 4, 5, 6]).unwrap();
        p.write_frame(UNIX_EPOCH - Duration::from_secs(5), &[7])
            .unwrap();
        let out = p.into_inner();
        assert_eq!(out.len(), 24 + 16 + 4 + 16 + 1);
        assert_eq!(&out[0..4], &MAGIC_MICROS.to_ne_bytes());
        assert_eq!(&out[16..20], &4u32.to_ne_bytes());
        assert_eq!(&out[20..24], &1u32.to_ne_bytes());
        assert_eq!(&out[24..28], &1_700_000_000u32.to_ne_bytes());
        assert_eq!(&out[28..32], &123_456u32.to_ne_bytes());
        assert_eq!(&out[32..36], &4u32.to_ne_bytes());
        assert_eq!(&out[36..40], &6u32.to_ne_bytes());
        assert_eq!(&out[40..44], &[1, 2, 3, 4]);
        assert_eq!(&out[44..48], &0u32.to_ne_bytes());
        assert_eq!(out[60], 7);
        assert_eq!(
            PcapWriter::new(Vec::new(), 0).unwrap().snaplen(),
            DEFAULT_SNAPLEN
        );
    }
}
