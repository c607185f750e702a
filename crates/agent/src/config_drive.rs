//! The config drive: a raw block-device image (no filesystem) carrying a [`GuestConfig`].
//!
//! Layout: the magic line `UMLVNF-CONFIG-DRIVE 1\n`, the JSON length in decimal ASCII followed by
//! `\n`, the JSON document, then zero bytes up to the next multiple of 4 KiB (UML's ubd driver
//! wants whole sectors), and to at least 64 KiB. The runtime passes it as `ubd1=PATH`; the
//! agent reads `/dev/ubdb`.

use std::io::{self, Read, Write};
use std::path::Path;

use thiserror::Error;

use crate::config::GuestConfig;

/// The first line of every config drive.
pub const MAGIC: &[u8] = b"UMLVNF-CONFIG-DRIVE 1\n";

/// The largest JSON document a drive may carry (64 MiB).
pub const MAX_JSON_LEN: usize = 64 << 20;

/// Drive images are padded with zeros to a multiple of this many bytes.
pub const ALIGN: usize = 4096;

/// Drive images are at least this large: the guest kernel probes partition tables in the
/// first sectors and logs errors about smaller devices.
pub const MIN_SIZE: usize = 64 * 1024;

/// Why a config drive could not be read.
#[derive(Debug, Error)]
pub enum ConfigDriveError {
    /// The drive does not start with [`MAGIC`].
    #[error("the config drive does not start with the magic line \"UMLVNF-CONFIG-DRIVE 1\" (found {found:?}); it was not written by config_drive::write")]
    BadMagic {
        /// The first bytes found, lossily decoded.
        found: String,
    },
    /// The length line is not a decimal number followed by a newline.
    #[error("the config drive's length line is not a decimal number followed by a newline (found {found:?})")]
    BadLength {
        /// What was found, lossily decoded.
        found: String,
    },
    /// The declared length is larger than [`MAX_JSON_LEN`].
    #[error("the config drive declares {len} bytes of JSON, but at most {max} are valid")]
    TooLarge {
        /// The declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The drive ended before the declared length.
    #[error("the config drive ended before the {len} bytes of JSON its header declares")]
    Truncated {
        /// The declared length.
        len: usize,
    },
    /// The JSON does not describe a valid [`GuestConfig`].
    #[error("the config drive's JSON is not a valid guest configuration: {0}")]
    Json(#[from] serde_json::Error),
    /// Reading failed.
    #[error("reading the config drive failed: {0}")]
    Io(#[from] io::Error),
}

/// Encodes `cfg` as a complete drive image (header, JSON, zero padding).
pub fn to_bytes(cfg: &GuestConfig) -> Vec<u8> {
    // Serializing plain data structures to JSON cannot fail; fall back to an empty object
    // rather than panic if it ever did.
    let json = serde_json::to_vec(cfg).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(json.len() + 64 + ALIGN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{}\n", json.len()).as_bytes());
    out.extend_from_slice(&json);
    let padded = (out.len().div_ceil(ALIGN) * ALIGN).max(MIN_SIZE);
    out.resize(padded, 0);
    out
}

/// Writes `cfg` as a drive image to `path` (created or truncated, then synced).
pub fn write(path: &Path, cfg: &GuestConfig) -> io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(&to_bytes(cfg))?;
    f.sync_all()
}

/// Reads and validates a drive image from `reader` (the agent passes `/dev/ubdb`).
pub fn read_from<R: Read>(mut reader: R) -> Result<GuestConfig, ConfigDriveError> {
    let mut magic = vec![0u8; MAGIC.len()];
    let got = read_up_to(&mut reader, &mut magic)?;
    if got < MAGIC.len() || magic != MAGIC {
        return Err(ConfigDriveError::BadMagic {
            found: String::from_utf8_lossy(&magic[..got]).into_owned(),
        });
    }
    let mut len_line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if read_up_to(&mut reader, &mut byte)? == 0 || len_line.len() > 20 {
            return Err(ConfigDriveError::BadLength {
                found: String::from_utf8_lossy(&len_line).into_owned(),
            });
        }
        if byte[0] == b'\n' {
            break;
        }
        len_line.push(byte[0]);
    }
    let len: usize = std::str::from_utf8(&len_line)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ConfigDriveError::BadLength {
            found: String::from_utf8_lossy(&len_line).into_owned(),
        })?;
    if len > MAX_JSON_LEN {
        return Err(ConfigDriveError::TooLarge {
            len,
            max: MAX_JSON_LEN,
        });
    }
    let mut json = vec![0u8; len];
    if read_up_to(&mut reader, &mut json)? < len {
        return Err(ConfigDriveError::Truncated { len });
    }
    Ok(serde_json::from_slice(&json)?)
}

/// Reads until `buf` is full or EOF; returns how many bytes were read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, InterfaceConfig, RouteConfig};

    fn sample() -> GuestConfig {
        GuestConfig {
            lab: "lab1".into(),
            node: "r1".into(),
            hostname: "r1".into(),
            modules: vec!["ipv6".into()],
            interfaces: vec![InterfaceConfig {
                device: "vec0".into(),
                name: "eth0".into(),
                mtu: Some(1400),
                ipv4: vec!["10.1.0.254/24".into()],
                ipv6: vec!["2001:db8::1/64".into()],
                keepalive: true,
            }],
            routes: vec![RouteConfig {
                route: "default via 10.1.0.1".into(),
                v6: false,
            }],
            sysctls: vec![("net.ipv4.ip_forward".into(), "1".into())],
            nftables: Some("table ip f { }\n".into()),
            iptables: Some("*filter\n-A FORWARD -p tcp --dport 23 -j DROP\nCOMMIT\n".into()),
            ip6tables: None,
            files: vec![FileConfig {
                path: "/etc/x".into(),
                mode: 0o600,
                data: vec![0, 1, 2, 255, b'\n'],
            }],
            exec: vec!["echo hi".into()],
        }
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = std::env::temp_dir().join(format!("umlvnf-cd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("drive.img");
        let cfg = sample();
        write(&path, &cfg).unwrap();
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert_eq!(len % ALIGN, 0, "drive is padded to 4 KiB");
        let back = read_from(std::fs::File::open(&path).unwrap()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn layout_is_magic_length_json_padding() {
        let bytes = to_bytes(&GuestConfig::default());
        assert!(bytes.starts_with(MAGIC));
        let rest = &bytes[MAGIC.len()..];
        let nl = rest.iter().position(|&b| b == b'\n').unwrap();
        let len: usize = std::str::from_utf8(&rest[..nl]).unwrap().parse().unwrap();
        let json = &rest[nl + 1..nl + 1 + len];
        assert_eq!(json[0], b'{');
        assert!(rest[nl + 1 + len..].iter().all(|&b| b == 0));
        assert_eq!(bytes.len(), MIN_SIZE);
        let big = GuestConfig {
            exec: vec!["x".repeat(100_000)],
            ..GuestConfig::default()
        };
        assert_eq!(to_bytes(&big).len() % ALIGN, 0);
        assert!(to_bytes(&big).len() > 100_000);
    }

    #[test]
    fn rejects_wrong_magic() {
        let err = read_from(&[0u8; 4096][..]).unwrap_err();
        assert!(matches!(err, ConfigDriveError::BadMagic { .. }), "{err}");
        assert!(err.to_string().contains("magic"));
        let err = read_from(&b"UMLVNF"[..]).unwrap_err();
        assert!(matches!(err, ConfigDriveError::BadMagic { .. }), "{err}");
    }

    #[test]
    fn rejects_bad_length_truncation_and_json() {
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(b"12x\n{}");
        assert!(matches!(
            read_from(&d[..]),
            Err(ConfigDriveError::BadLength { .. })
        ));
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(b"999999999999\n");
        assert!(matches!(
            read_from(&d[..]),
            Err(ConfigDriveError::TooLarge { .. })
        ));
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(b"100\n{}");
        assert!(matches!(
            read_from(&d[..]),
            Err(ConfigDriveError::Truncated { len: 100 })
        ));
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(b"2\n[]");
        assert!(matches!(read_from(&d[..]), Err(ConfigDriveError::Json(_))));
    }
}
