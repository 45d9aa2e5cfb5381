//! VMAF features and models. (in progress)
