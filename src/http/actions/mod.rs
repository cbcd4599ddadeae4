//! What the JSON API and the HTML pages both do: loading what a caller may see, and every
//! change, with each check written once. Changes go through the store, so they are audited
//! with the caller's token name.

pub mod devices;
pub mod tenants;
pub mod users;
