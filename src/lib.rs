//! deskprov: a phone auto-provisioning and device-configuration server.
//!
//! # Layout
//!
//! - [`domain`]: pure types and rules (MACs, extensions, passwords, the line plan). No I/O.
//! - [`store`]: SQLite, the only place with SQL.
//! - [`service`]: every use case once, transport-neutral (users, devices, tenants, tokens, the
//!   CSV import and export, restores from the audit log); the API, the pages and the CLI call it.
//! - [`sheet`]: the CSV sheet format of the bulk import and export (no store calls).
//! - [`vendor`]: vendor profiles from `vendors/`, request matching, UA parsing, rendering.
//! - [`http`]: the phone-facing handler, the admin/installer JSON API, the HTML pages under
//!   `/ui`, errors, auth.
//! - [`server`]: listeners (phone HTTP, phone HTTPS, admin) and graceful shutdown.
//! - [`cli`], [`config`]: commands and settings (flags, `DESKPROV_*` environment, settings file).
//! - [`tls`]: TLS files (certificate and key, client CA bundles), loaded and checked.

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
