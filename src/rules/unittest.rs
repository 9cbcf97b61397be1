//! `promtool test rules` unit-test files: the file format ([`file`]), the
//! expanding notation of their input series ([`series`]), and running
//! them ([`run`]: the input data in `input`, the comparisons and
//! promtool's failure texts in `compare`).

mod compare;
pub mod file;
mod input;
pub mod run;
pub mod series;

pub use file::{load_unit_test_file, parse_unit_test_file, UnitTestFile, UnitTestFileError};
pub use run::{run_file, RunOptions};
pub use series::{parse_input_series, SampleValue, SeriesError, SeriesValues};
