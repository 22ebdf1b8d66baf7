//! Headless ticksync bots: a client library that keeps the world exactly as a browser does, a
//! load-test behaviour, and the aggregation behind the CLI's report.

pub mod bot;
pub mod cli;
pub mod client;
pub mod load;
pub mod process;
pub mod report;

pub use client::{Client, ClientError, ConnectOptions, Received};
