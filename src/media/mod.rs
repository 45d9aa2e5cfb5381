//! Media layer: the only code that touches ffmpeg-next. (in progress)
