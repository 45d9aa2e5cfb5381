//! Reports: plots and markdown. (in progress)
