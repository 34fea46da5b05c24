//! Unit tests for messages

mod codec;
mod export_group_info;
mod proposals;
mod welcome;
