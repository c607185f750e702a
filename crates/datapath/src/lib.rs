//! umlvnf-datapath (being written).
