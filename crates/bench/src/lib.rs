//! umlvnf-bench (being written).
