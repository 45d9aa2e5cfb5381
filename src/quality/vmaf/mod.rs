//! VMAF features and models. (in progress)
pub mod adm;
