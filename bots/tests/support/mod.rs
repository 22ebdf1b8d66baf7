pub mod fake_server;
pub mod matchmaker;
pub mod tls;
