//! The scrape manager: turns discovered target groups into targets, scrapes
//! each on its own task and appends what it reads to storage.

pub mod status;
