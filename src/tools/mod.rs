//! Command-line tools that run instead of the server, in the one binary:
//! what `promtool` offers for configuration and rule files ([`check`]).
//! (`tsdb import` lives in [`crate::import`].)

pub mod check;
