//! Cross-cutting HTTP concerns of the outbound clients (Autotask, ChannelOnline).

pub mod retry;
