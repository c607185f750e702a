//! Loading iptables / ip6tables rulesets with `iptables-legacy-restore` (x_tables).
//!
//! Debian's UML kernel has no `NF_TABLES_IPV4`/`IPV6`/`INET`, so nft can only filter in the
//! `bridge` family there; IP filtering and NAT go through the legacy x_tables interface. The
//! ruleset (iptables-save format) is written to a file for the record and fed to the first
//! restore program found on `PATH` on its standard input.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::files::write_file;
use super::step::{args, failure, run_with_input, StepFailure};
use super::supervisor::Supervisor;

/// Where the IPv4 ruleset is written before it is loaded.
pub const IPTABLES_PATH: &str = "/etc/umlvnf/iptables.rules";
/// Where the IPv6 ruleset is written before it is loaded.
pub const IP6TABLES_PATH: &str = "/etc/umlvnf/ip6tables.rules";

/// One address family of x_tables: where its rules go and which programs load them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The configuration step's name (`iptables` or `ip6tables`).
    pub step: &'static str,
    /// Where the ruleset is written.
    pub rules_path: &'static str,
    /// Restore programs, in order of preference; the first one on `PATH` is used.
    pub restore: &'static [&'static str],
    /// The kernel module loaded with `modprobe` first, when `modprobe` is installed.
    pub module: Option<&'static str>,
    /// The file that exists once that module is loaded (or built in).
    pub loaded_marker: &'static str,
}

/// IPv4: `iptables-legacy-restore`, else `iptables-restore`, after `modprobe ip_tables`.
pub const IPV4: Family = Family {
    step: "iptables",
    rules_path: IPTABLES_PATH,
    restore: &["iptables-legacy-restore", "iptables-restore"],
    module: Some("ip_tables"),
    loaded_marker: "/proc/net/ip_tables_names",
};

/// IPv6: `ip6tables-legacy-restore`, else `ip6tables-restore`, after `modprobe ip6_tables`.
pub const IPV6: Family = Family {
    step: "ip6tables",
    rules_path: IP6TABLES_PATH,
    restore: &["ip6tables-legacy-restore", "ip6tables-restore"],
    module: Some("ip6_tables"),
    loaded_marker: "/proc/net/ip6_tables_names",
};

/// Finds an executable `name` in the directories of `$PATH` (the agent's own
/// [`super::PATH`] when unset).
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| super::PATH.into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Writes `rules` to the family's file and loads them: `modprobe MODULE` first (a failure
/// only counts when the module is not there afterwards), then the first restore program on
/// `PATH` with the rules on its standard input.
pub fn load(sup: &mut Supervisor, family: &Family, rules: &str) -> Result<(), StepFailure> {
    let step = family.step;
    write_file(family.rules_path, 0o600, rules.as_bytes())
        .map_err(|e| failure(step, format!("write {}", family.rules_path), e.to_string()))?;
    if let Some(module) = family.module {
        if !Path::new(family.loaded_marker).exists() && find_on_path("modprobe").is_some() {
            let loaded = run_with_input(
                sup,
                step,
                &args(&["modprobe", module]),
                None,
                format!("modprobe {module}"),
            );
            if let Err(e) = loaded {
                if !Path::new(family.loaded_marker).exists() {
                    return Err(e);
                }
            }
        }
    }
    let Some(program) = family.restore.iter().find_map(|p| find_on_path(p)) else {
        return Err(failure(
            step,
            family.restore.join(" or "),
            format!(
                "none of {} is installed in the guest; use an image with iptables \
                 (the minimal and debian images have it)",
                family.restore.join(", ")
            ),
        ));
    };
    let argv = vec![program.to_string_lossy().into_owned()];
    let shown = format!("{} < {}", argv[0], family.rules_path);
    run_with_input(sup, step, &argv, Some(rules.as_bytes()), shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(dir: &Path, restore: &'static [&'static str]) -> Family {
        let path = dir.join("rules").to_string_lossy().into_owned();
        Family {
            step: "iptables",
            rules_path: Box::leak(path.into_boxed_str()),
            restore,
            module: None,
            loaded_marker: "/",
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("umlvnf-xt-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn rules_go_to_the_first_program_found_on_stdin() {
        let dir = temp_dir("ok");
        // `sh` reads its script from stdin: the "rules" run and leave a trace.
        let trace = dir.join("trace");
        let rules = format!("echo loaded > {}\n", trace.display());
        let fam = family(&dir, &["umlvnf-no-such-restore", "sh", "false"]);
        let mut sup = Supervisor::new(false);
        let r = load(&mut sup, &fam, &rules);
        let written = std::fs::read_to_string(fam.rules_path);
        let traced = std::fs::read_to_string(&trace);
        std::fs::remove_dir_all(&dir).unwrap();
        r.unwrap();
        assert_eq!(written.unwrap(), rules);
        assert_eq!(traced.unwrap(), "loaded\n");
    }

    #[test]
    fn a_failing_restore_reports_the_step_and_stderr() {
        let dir = temp_dir("fail");
        let fam = family(&dir, &["sh"]);
        let mut sup = Supervisor::new(false);
        let e = load(&mut sup, &fam, "echo 'line 2 failed' >&2; exit 2\n").unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.step, "iptables");
        assert!(
            e.command.contains("sh < ") && e.command.ends_with("/rules"),
            "{e:?}"
        );
        assert_eq!(e.error, "exit status 2: line 2 failed");
    }

    #[test]
    fn a_missing_restore_program_is_a_failure() {
        let dir = temp_dir("missing");
        let fam = family(&dir, &["umlvnf-no-such-restore"]);
        let mut sup = Supervisor::new(false);
        let e = load(&mut sup, &fam, "*filter\nCOMMIT\n").unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.step, "iptables");
        assert!(e.error.contains("umlvnf-no-such-restore"), "{e:?}");
        assert!(e.error.contains("is installed"), "{e:?}");
    }

    #[test]
    fn families_name_their_steps_and_programs() {
        assert_eq!(IPV4.step, "iptables");
        assert_eq!(IPV4.restore[0], "iptables-legacy-restore");
        assert_eq!(IPV6.step, "ip6tables");
        assert_eq!(IPV6.restore[0], "ip6tables-legacy-restore");
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("umlvnf-no-such-program").is_none());
    }
}
