//! Typed errors of the library. Every variant names the file, setting or value it is about, so a
//! caller can print a single line (`{err}`) that tells the user what to fix.
//!
//! The library speaks in its own terms: a wrong setting is a [`Field`] (a recipe key, the frame
//! count, the raw input's size, ...) and an [`Origin`] (recipe text, or a value the caller passed).
//! A caller with its own names for these (the CLI's flags) maps them itself; no message here names
//! a command-line flag.

use std::fmt;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a configuration value that is wrong belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// A recipe key as the TOML spells it (`grid.crf`, `encoder.params.x264-params`), or
    /// `recipe` for the document as a whole.
    Recipe(String),
    /// How many source frames to use (`job::run`'s `frames`).
    Frames,
    /// Worker threads ([`crate::pipeline::RunOptions::threads`]).
    Threads,
    /// A raw input's frame size ([`crate::media::InputOptions::size`]).
    InputSize,
    /// A raw input's pixel format ([`crate::media::InputOptions::pix_fmt`]).
    InputPixFmt,
    /// A raw input's frame rate ([`crate::media::InputOptions::fps`]).
    InputFps,
    /// Any other named setting of a library API (an encoder option, a filter graph).
    Setting(String),
}

impl Field {
    /// A recipe key.
    pub fn recipe(key: impl Into<String>) -> Field {
        Field::Recipe(key.into())
    }

    /// The recipe key, if this is one.
    pub fn recipe_key(&self) -> Option<&str> {
        match self {
            Field::Recipe(k) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Recipe(k) | Field::Setting(k) => k,
            Field::Frames => "frames",
            Field::Threads => "threads",
            Field::InputSize => "input size",
            Field::InputPixFmt => "input pixel format",
            Field::InputFps => "input frame rate",
        })
    }
}

/// Where a wrong configuration value came from: what the user has to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// Recipe text (a file, an embedded recipe), or a value the library derived from a recipe.
    Recipe,
    /// A value the caller passed in: a [`crate::recipe::RecipeOverrides`] entry, a run or input
    /// option.
    Caller,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// An input whose data is damaged (truncated, or frames the decoder reported errors in);
    /// `what` names it. A caller may accept such input with
    /// [`crate::media::InputOptions::allow_decode_errors`].
    #[error("{what}: {message}")]
    Damaged { what: String, message: String },
    /// An encoder/decoder/scaler problem; `what` names the codec or filter.
    #[error("{what}: {message}")]
    Codec { what: String, message: String },
    /// A configuration value that is wrong: what it belongs to, where it came from, the value as
    /// given (empty when there is none, e.g. a missing key) and why (a sentence naming the value).
    #[error("{field}: {reason}")]
    Config {
        field: Field,
        origin: Origin,
        value: String,
        reason: String,
    },
    /// A quality model that cannot be loaded or used; `model` names the file or built-in name.
    #[error("model {model}: {message}")]
    Model { model: String, message: String },
    /// Input data (points file, CSV, store entry) that is malformed; `what` names it.
    #[error("{what}: {message}")]
    Data { what: String, message: String },
    /// Two inputs that must agree do not (frame counts, sizes, frame rates).
    #[error("{0}")]
    Mismatch(String),
    /// Something the run needs that the system would not give (threads); `what` names it.
    #[error("{what}: {message}")]
    Resource { what: String, message: String },
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
    /// A wrong value of a configuration field.
    pub fn invalid(
        field: Field,
        origin: Origin,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Config {
            field,
            origin,
            value: value.into(),
            reason: reason.into(),
        }
    }
    /// A wrong value the caller passed in ([`Origin::Caller`]).
    pub fn caller(field: Field, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::invalid(field, Origin::Caller, value, reason)
    }
    /// A recipe key whose value (from recipe text) is wrong; `message` says why.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::invalid(Field::Recipe(key.into()), Origin::Recipe, "", message)
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
    pub fn resource(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Resource {
            what: what.into(),
            message: message.into(),
        }
    }
}
