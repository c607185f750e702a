//! Bounds-checked big-endian field access.

use crate::PacketError;

/// Reads `N` bytes at `off`, or reports how many bytes were needed.
pub(crate) fn array<const N: usize>(buf: &[u8], off: usize) -> Result<[u8; N], PacketError> {
    let need = off.saturating_add(N);
    buf.get(off..need)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(PacketError::Truncated {
            need,
            have: buf.len(),
        })
}

/// Reads a big-endian u16 at `off`.
pub(crate) fn be16(buf: &[u8], off: usize) -> Result<u16, PacketError> {
    array::<2>(buf, off).map(u16::from_be_bytes)
}

/// Reads a big-endian u32 at `off`.
pub(crate) fn be32(buf: &[u8], off: usize) -> Result<u32, PacketError> {
    array::<4>(buf, off).map(u32::from_be_bytes)
}

/// Reads a big-endian u64 at `off`.
pub(crate) fn be64(buf: &[u8], off: usize) -> Result<u64, PacketError> {
    array::<8>(buf, off).map(u64::from_be_bytes)
}

/// Checks that an output buffer has room for `need` bytes.
pub(crate) fn room(buf: &[u8], need: usize) -> Result<(), PacketError> {
    if buf.len() < need {
        Err(PacketError::BufferTooSmall {
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Copies `src` into `buf` at `off`; the caller has checked the room with [`room`].
pub(crate) fn put(buf: &mut [u8], off: usize, src: &[u8]) -> Result<(), PacketError> {
    let need = off.saturating_add(src.len());
    let have = buf.len();
    buf.get_mut(off..need)
        .ok_or(PacketError::BufferTooSmall { need, have })?
        .copy_from_slice(src);
    Ok(())
}
