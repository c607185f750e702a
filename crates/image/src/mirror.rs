//! Finding the Debian main archive mirror in the host's apt sources.
//!
//! Both formats are read: one-line `sources.list` entries
//! (`deb [options] URI suite components...`) and deb822 `*.sources` stanzas
//! (`Types:`, `URIs:`, `Suites:`, `Components:`, `Enabled:`). A mirror qualifies
//! when it serves binary packages (`deb`), the `main` component and a Debian
//! release suite (a codename or `stable`/`testing`/...), and is not the security
//! archive. Sources offering `bookworm` are preferred.

use std::path::Path;

use crate::ImageError;

/// The Debian suite the `debian` image is built from.
pub const DEBIAN_SUITE: &str = "bookworm";

/// Suite names that identify the Debian main archive (as opposed to third-party repositories).
const DEBIAN_SUITES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "oldoldstable",
    "oldstable",
    "stable",
    "testing",
    "unstable",
];

/// One apt source: a repository URI with its suites and components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// `deb` and/or `deb-src`.
    pub types: Vec<String>,
    /// Repository base URIs.
    pub uris: Vec<String>,
    /// Suites (codenames, possibly with `-updates`, `-security`...).
    pub suites: Vec<String>,
    /// Components such as `main`.
    pub components: Vec<String>,
}

/// Parses the one-line format of `/etc/apt/sources.list` (comments and `deb-src` lines kept as such).
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (kind, rest) = match line.split_once(char::is_whitespace) {
            Some(parts) => parts,
            None => continue,
        };
        if kind != "deb" && kind != "deb-src" {
            continue;
        }
        let mut rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('[') {
            match after.find(']') {
                Some(end) => rest = after[end + 1..].trim_start(),
                None => continue,
            }
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(AptSource {
            types: vec![kind.to_string()],
            uris: vec![uri.to_string()],
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
        });
    }
    out
}

/// Parses the deb822 format of `/etc/apt/sources.list.d/*.sources`; stanzas with `Enabled: no` are skipped.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut flush = |fields: &mut Vec<(String, String)>| {
        if fields.is_empty() {
            return;
        }
        let get = |name: &str| -> Vec<String> {
            fields
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
                .collect()
        };
        let enabled = get("Enabled");
        let disabled = enabled
            .first()
            .is_some_and(|v| v.eq_ignore_ascii_case("no") || v.eq_ignore_ascii_case("false"));
        if !disabled {
            let source = AptSource {
                types: get("Types"),
                uris: get("URIs"),
                suites: get("Suites"),
                components: get("Components"),
            };
            if !source.uris.is_empty() {
                out.push(source);
            }
        }
        fields.clear();
    };
    for raw in text.lines() {
        if raw.trim().is_empty() {
            flush(&mut fields);
            continue;
        }
        if raw.starts_with('#') {
            continue;
        }
        if raw.starts_with(' ') || raw.starts_with('\t') {
            if let Some(last) = fields.last_mut() {
                let cont = raw.trim();
                if cont != "." {
                    last.1.push(' ');
                    last.1.push_str(cont);
                }
            }
            continue;
        }
        if let Some((key, value)) = raw.split_once(':') {
            fields.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    flush(&mut fields);
    out
}

/// Picks the Debian main archive mirror URI (without a trailing `/`) from parsed sources.
pub fn pick_debian_mirror(sources: &[AptSource]) -> Option<String> {
    let mut best: Option<(u8, String)> = None;
    for source in sources {
        if !source.types.iter().any(|t| t == "deb")
            || !source.components.iter().any(|c| c == "main")
        {
            continue;
        }
        let release_suites: Vec<&String> = source
            .suites
            .iter()
            .filter(|s| DEBIAN_SUITES.contains(&s.as_str()))
            .collect();
        if release_suites.is_empty() {
            continue;
        }
        let score = if release_suites.iter().any(|s| *s == DEBIAN_SUITE) {
            2
        } else {
            1
        };
        for uri in &source.uris {
            let lower = uri.to_ascii_lowercase();
            let is_http = lower.starts_with("http://") || lower.starts_with("https://");
            if !is_http || lower.contains("security") {
                continue;
            }
            let better = match &best {
                Some((s, _)) => score > *s,
                None => true,
            };
            if better {
                best = Some((score, uri.trim_end_matches('/').to_string()));
            }
        }
    }
    best.map(|(_, uri)| uri)
}

/// Reads the host's apt sources under `etc_apt` (normally `/etc/apt`) and returns the Debian mirror.
///
/// `UMLVNF_DEBIAN_MIRROR`, when set and non-empty, overrides the apt sources.
pub fn host_debian_mirror(etc_apt: &Path) -> Result<String, ImageError> {
    if let Ok(value) = std::env::var("UMLVNF_DEBIAN_MIRROR") {
        let value = value.trim();
        if !value.is_empty() {
            return Ok(value.trim_end_matches('/').to_string());
        }
    }
    let mut sources = Vec::new();
    if let Ok(text) = std::fs::read_to_string(etc_apt.join("sources.list")) {
        sources.extend(parse_one_line(&text));
    }
    let dir = etc_apt.join("sources.list.d");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("sources") => sources.extend(parse_deb822(&text)),
            Some("list") => sources.extend(parse_one_line(&text)),
            _ => {}
        }
    }
    pick_debian_mirror(&sources).ok_or(ImageError::NoMirror)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "Types: deb\n\
# http://snapshot.debian.org/archive/debian/20250520T000000Z\n\
URIs: http://deb.example.org/debian\n\
Suites: bookworm bookworm-updates\n\
Components: main\n\
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\
\n\
Types: deb\n\
URIs: http://deb.example.org/debian-security\n\
Suites: bookworm-security\n\
Components: main\n";

    #[test]
    fn deb822_picks_main_archive_not_security() {
        let sources = parse_deb822(DEB822);
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].suites, vec!["bookworm", "bookworm-updates"]);
        assert_eq!(
            pick_debian_mirror(&sources).as_deref(),
            Some("http://deb.example.org/debian")
        );
    }

    #[test]
    fn deb822_skips_disabled_and_third_party() {
        let text = "Types: deb\nURIs: https://repo.example.com/node_20.x\nSuites: nodistro\nComponents: main\n\n\
Types: deb\nURIs: http://mirror.example.net/debian/\nSuites: bookworm\nComponents: main contrib\nEnabled: no\n";
        assert_eq!(pick_debian_mirror(&parse_deb822(text)), None);
    }

    #[test]
    fn one_line_with_options_and_comments() {
        let text = "# comment\n\
deb-src http://src.example.org/debian bookworm main\n\
deb https://cloud.example.com/apt cloud-sdk-bookworm main\n\
deb http://security.example.org/debian-security bookworm-security main\n\
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://ftp.example.org/debian/ bookworm main contrib # trailing\n";
        let sources = parse_one_line(text);
        assert_eq!(sources.len(), 4);
        assert_eq!(sources[3].components, vec!["main", "contrib"]);
        assert_eq!(
            pick_debian_mirror(&sources).as_deref(),
            Some("http://ftp.example.org/debian")
        );
    }

    #[test]
    fn bookworm_preferred_over_other_release() {
        let text = "deb http://a.example.org/debian bullseye main\ndeb http://b.example.org/debian bookworm main\n";
        assert_eq!(
            pick_debian_mirror(&parse_one_line(text)).as_deref(),
            Some("http://b.example.org/debian")
        );
    }

    #[test]
    fn nothing_usable_gives_none() {
        assert_eq!(
            pick_debian_mirror(&parse_one_line("deb-src http://x/debian bookworm main\n")),
            None
        );
        assert_eq!(pick_debian_mirror(&parse_one_line("garbage\n\n")), None);
    }
}
