//! Typed errors of the library. Every variant names the file, key or value it is about, so the
//! CLI can print a single line (`{err}`) that tells the user what to fix.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An OS-level I/O failure on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A media file (or stream) that cannot be opened, demuxed or decoded; `what` names it.
    #[error("{what}: {message}")]
    Media { what: String, message: String },
    /// An encoder/decoder/scaler problem; `what` names the codec or filter.
    #[error("{what}: {message}")]
    Codec { what: String, message: String },
    /// A configuration value (recipe key, CLI option) that is wrong; `key` names it.
    #[error("{key}: {message}")]
    Config { key: String, message: String },
    /// A quality model that cannot be loaded or used; `model` names the file or built-in name.
    #[error("model {model}: {message}")]
    Model { model: String, message: String },
    /// Input data (points file, CSV, store entry) that is malformed; `what` names it.
    #[error("{what}: {message}")]
    Data { what: String, message: String },
    /// Two inputs that must agree do not (frame counts, sizes, frame rates).
    #[error("{0}")]
    Mismatch(String),
    /// Worker threads could not be started (the OS refused them).
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    /// The quality engine's own error (a frame it cannot score, a model, an engine setting).
    #[error(transparent)]
    Quality(#[from] crate::quality::Error),
    /// The caller asked to stop (Ctrl-C or a progress callback returning false).
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// The run was cancelled (by the caller's callback), here or in the quality engine.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            Error::Cancelled | Error::Quality(crate::quality::Error::Cancelled)
        )
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn media(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Media {
            what: what.into(),
            message: message.into(),
        }
    }
    pub fn codec(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Codec {
            what: what.into(),
            message: message.into(),
        }
    }
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }
    pub fn model(model: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Model {
            model: model.into(),
            message: message.into(),
        }
    }
    pub fn data(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Data {
            what: what.into(),
            message: message.into(),
        }
    }
}
