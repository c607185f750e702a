//! The `umlvnf` command.
fn main() {}
