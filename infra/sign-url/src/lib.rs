//! `sign-url`: signs a call to a function URL for a tenant, so an admin can configure a
//! ChannelOnline button and a developer can call the local stack by hand. The key is read from
//! the local secrets file or an environment variable and is never printed.

pub mod args;
pub mod key;
pub mod output;

pub use args::{Form, SignRequest, parse_args};
pub use key::{KeySource, load_key};
pub use output::render;

/// Everything that can stop the command, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SignUrlError {
    #[error("{0}\n\n{usage}", usage = args::USAGE)]
    Usage(String),
    #[error("cannot read the signing key: {0}")]
    Key(String),
}
