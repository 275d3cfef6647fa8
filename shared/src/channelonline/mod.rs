//! ChannelOnline (COL): the port the integration uses and its domain records.

pub mod error;
pub mod port;
pub mod types;

pub use error::ChannelOnlineError;
pub use port::ChannelOnline;
pub use types::*;
