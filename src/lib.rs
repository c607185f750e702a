//! umlvnf: User Mode Linux network appliances deployed from topology files.
