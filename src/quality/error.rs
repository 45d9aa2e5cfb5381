//! Typed errors of the quality engine. Each variant names what it is about (a setting, a model, a
//! file, a frame) so a caller can print one line or map the setting to its own option name.

use std::fmt;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An engine setting a caller can get wrong; callers map it to their own name for it (a
/// command-line flag, a recipe key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// Which metrics to compute ([`crate::Metrics`]).
    Metrics,
    /// Worker threads ([`crate::EngineConfig::threads`]).
    Threads,
    /// A pooling method name ([`crate::pooling::PoolMethod`]).
    Pooling,
    /// The model's score transform ([`crate::EngineConfig::phone`]).
    Phone,
}

impl Setting {
    /// The setting's name as the engine's types spell it.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Metrics => "metrics",
            Setting::Threads => "threads",
            Setting::Pooling => "pooling",
            Setting::Phone => "phone",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting that cannot be used: which one, the value given, and why.
    #[error("{setting}: {reason}")]
    Setting {
        setting: Setting,
        value: String,
        reason: String,
    },
    /// A quality model that cannot be loaded or used; `model` names the file or built-in name.
    #[error("model {model}: {reason}")]
    Model { model: String, reason: String },
    /// An OS-level I/O failure on a named path (reading a model file).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A frame the engine cannot score (bit depth, size); `what` names it.
    #[error("{what}: {reason}")]
    Unsupported { what: String, reason: String },
    /// Two inputs that must agree do not (frame formats, sizes, counts).
    #[error("{0}")]
    Mismatch(String),
    /// The progress callback asked to stop.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn setting(setting: Setting, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Setting {
            setting,
            value: value.into(),
            reason: reason.into(),
        }
    }
    pub fn model(model: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Model {
            model: model.into(),
            reason: reason.into(),
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn unsupported(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
