//! Recording and alerting rules; for now only the template engine that
//! expands alert labels and annotations.

pub mod template;
