//! `promtool test rules` unit-test files: the file format ([`file`]) and
//! the expanding notation of their input series ([`series`]).

pub mod file;
pub mod series;

pub use file::{load_unit_test_file, parse_unit_test_file, UnitTestFile, UnitTestFileError};
pub use series::{parse_input_series, SampleValue, SeriesError, SeriesValues};
