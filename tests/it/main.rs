//! Integration tests: one binary, real SQLite files, real sockets on 127.0.0.1.

mod helpers;

mod api;
mod architecture;
mod audit;
mod backup;
mod binary;
mod cli;
mod config;
mod conns;
mod demo;
mod docs;
mod import;
mod keys;
mod layers;
mod metrics;
mod openapi;
mod openapi_bounds;
mod phone_auth;
mod phone_cache;
mod phone_settings;
mod provisioning;
mod retention;
mod rules;
mod security;
mod tls;
mod ui;
mod uploads;
mod vendor_cisco_mpp;
mod vendor_cisco_spa;
mod vendor_fanvil;
mod vendor_grandstream;
mod vendor_kit;
mod vendor_polycom;
mod vendor_snom;
mod vendor_yealink;
