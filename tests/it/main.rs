//! Integration tests: one binary, real SQLite files, real sockets on 127.0.0.1.

mod helpers;

mod api;
mod cli;
mod golden;
mod provisioning;
mod rules;
