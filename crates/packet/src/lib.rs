//! umlvnf-packet (being written).
