//! Integration tests: one binary, real SQLite files, real sockets on 127.0.0.1.

mod helpers;

mod api;
mod cli;
mod provisioning;
mod rules;
mod vendor_kit;
mod vendor_snom;
mod vendor_yealink;
