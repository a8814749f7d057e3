//! Every command the documentation shows, run (filled in below).
