//! Start, watch, talk to and stop User Mode Linux guest processes.
//!
//! - The [`process`] module: [`spawn`] a UML kernel with the runtime's fd convention (console 0 on fd 0/1,
//!   log on fd 2, agent channel on fd 3), identify it with a [`ProcessId`], signal its group and
//!   wait for it.
//! - The [`mconsole`] module: the guest's management console ([`Mconsole`]).
//! - The [`notify`] module: the `mconsole=notify:` socket ([`NotifySocket`]): readiness, panics, user
//!   notifications.
//! - [`stop()`] does a graceful-then-forceful shutdown.
//! - The [`console`] module: [`ConsolePump`] drains console 0 into a log and lets one client attach.
//! - The [`room`] module: [`check_tmpdir`] verifies that `TMPDIR` can hold the guest's RAM.

pub mod console;
pub mod mconsole;
pub mod notify;
pub mod process;
pub mod room;
pub mod stop;

pub use console::{ConsoleError, ConsolePump};
pub use mconsole::{Mconsole, MconsoleError};
pub use notify::{Notification, NotifyError, NotifySocket, Received};
pub use process::{
    become_subreaper, capability_number, spawn, wait_exit, wait_gone, wait_group_gone,
    ProcessError, ProcessId, UmlChild, UmlCommand,
};
pub use room::{check_tmpdir, RoomError};
pub use stop::{stop, StopOutcome, StopStep};
