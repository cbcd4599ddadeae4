//! deskprov: a phone auto-provisioning and device-configuration server.
//!
//! # Layout
//!
//! - [`domain`]: pure types and rules (MACs, extensions, passwords, the line plan). No I/O.
//! - [`store`]: SQLite, the only place with SQL.
//! - [`bulk`]: CSV import and export of a tenant; [`restore`]: deleted records back from the
//!   audit log. Both go through the domain drafts and the store functions the API uses.
//! - [`vendor`]: vendor profiles from `vendors/`, request matching, UA parsing, rendering.
//! - [`http`]: the phone-facing handler, the admin/installer JSON API, the HTML pages under
//!   `/ui`, errors, auth.
//! - [`server`]: listeners (phone HTTP, phone HTTPS, admin) and graceful shutdown.
//! - [`cli`], [`config`]: commands and settings (flags, `DESKPROV_*` environment, settings file).

pub mod bulk;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod profile;
pub mod restore;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
