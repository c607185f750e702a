//! umlvnf-metrics (being written).
