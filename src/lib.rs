//! deskprov: a phone auto-provisioning and device-configuration server.
//!
//! The map of the code, the path of a phone request and the rules that keep the parts apart
//! are in `ARCHITECTURE.md` at the repository root. In short, dependencies point inward:
//!
//! - [`server`] (listeners) → [`http`] (phone path, JSON API, pages) → [`service`] (every use
//!   case once) → [`store`] (the only SQL) and [`profile`] (phone profiles, rendering) →
//!   [`domain`] (pure types, entities and rules; no I/O).
//! - [`cli`], [`commands`] and [`config`] are the command line and its settings; [`sheet`] is
//!   the CSV format of the bulk import and export; [`tls`] reads and checks TLS files;
//!   [`demo`] fills a demo through the services; [`access_log`] writes the optional log of
//!   every phone request.

pub mod access_log;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod profile;
pub mod server;
pub mod service;
pub mod sheet;
pub mod store;
pub mod telemetry;
pub mod tls;
