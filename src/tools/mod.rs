//! Command-line tools that run instead of the server, in the one binary:
//! what `promtool` offers for configuration and rule files ([`check`]) and
//! rule unit tests ([`test_rules`]).
//! (`tsdb import` lives in [`crate::import`].)

pub mod check;
pub mod test_rules;
