//! deskprov: a phone auto-provisioning and device-configuration server.
//!
//! # Layout
//!
//! - [`domain`]: pure types and rules (MACs, extensions, passwords, the line plan). No I/O.
//! - [`store`]: SQLite, the only place with SQL.
//! - [`vendor`]: vendor profiles from `vendors/`, request matching, UA parsing, rendering.
//! - [`http`]: the phone-facing handler, the admin/installer JSON API, errors, auth.
//! - [`server`]: listeners (phone HTTP, phone HTTPS, admin) and graceful shutdown.
//! - [`cli`], [`config`]: commands and settings (flags, `DESKPROV_*` environment, settings file).

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod vendor;
