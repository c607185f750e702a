//! Host network plumbing for umlvnf, without running `ip`: named network namespaces
//! compatible with iproute2, links, addresses and routes over synchronous route netlink
//! ([`Rtnl`]), persistent taps, sysctls, and commands run inside a namespace.
//!
//! Objects the runtime creates carry the alias `umlvnf:<lab>` ([`Rtnl::links_with_alias`]
//! finds them after a crash); namespaces are found by name prefix with [`netns_list`].
//! Nothing here changes the calling thread's namespace: namespace work happens on short-lived
//! threads or in forked children.

mod addr;
mod cpus;
mod error;
mod ethtool;
mod link;
mod mounts;
mod names;
mod netns;
mod procs;
mod procstat;
mod route;
mod rps;
mod rtnl;
mod socket;
mod sysctl;
mod tap;

pub use cpus::{allowed_cpus, pin_current_thread};
pub use error::{HostError, Result};
pub use ethtool::{offloads_off, EthtoolSocket};
pub use link::{LinkInfo, LinkStats};
pub use mounts::unescape_mount_path;
pub use names::{check_alias, check_ifname, check_netns_name, check_sysctl_key};
pub use netns::{
    command_in_netns, netns_add, netns_del, netns_exists, netns_list, netns_path, open_netns,
    run_in_netns, try_command_in_netns, NETNS_RUN_DIR,
};
pub use procs::{processes, Process};
pub use procstat::{group_usage, GroupUsage};
pub use route::RouteInfo;
pub use rps::{cpu_mask_text, parse_cpu_mask, rps_get, rps_set};
pub use rtnl::Rtnl;
pub use sysctl::{sysctl_get, sysctl_set};
pub use tap::{tap_add_persistent, tap_attach};

pub use ipnet::IpNet;
