//! ChannelOnline (COL): the port the integration uses, the XML adapter, and the inferred wire
//! protocol. See `README.md` in this folder for what is observed and what is designed.
//!
//! - `types`: domain records (customers, contacts, documents, lines).
//! - `port`: the `ChannelOnline` trait.
//! - `protocol`: everything inferred about the undocumented XML interface, in one place.
//! - `client`: `XmlChannelOnline`, the reqwest adapter (pacing, retry, window splitting).

pub mod client;
pub mod error;
pub mod port;
pub mod protocol;
pub mod types;
pub mod window;

pub use client::{ColCredentials, XmlChannelOnline, XmlChannelOnlineConfig};
pub use error::ChannelOnlineError;
pub use port::ChannelOnline;
pub use types::*;
