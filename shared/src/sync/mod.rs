//! Sync services shared by the button functions and the scheduled bulk sync.

pub mod bulk;
