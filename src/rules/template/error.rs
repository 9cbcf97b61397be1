//! The template engine's errors, spelled as Prometheus spells them.

use thiserror::Error;

/// A template failed to parse: `template: NAME:LINE: MESSAGE`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("template: {location}: {message}")]
pub struct ParseError {
    /// `name:line`.
    pub location: String,
    pub message: String,
}

/// A template failed while running. The text is complete, in Go's form:
/// `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ExecError(pub String);

/// Why a template could not be expanded.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("error parsing template {name}: {source}")]
    Parse { name: String, source: ParseError },
    #[error("error executing template {name}: {source}")]
    Exec { name: String, source: ExecError },
}
