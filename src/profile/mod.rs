//! Vendor profiles (loaded from `vendors/`), request matching, User-Agent parsing and rendering.
//!
//! A profile is data: OUIs, a User-Agent pattern, file-name patterns with their templates and
//! content types, models with their line capacity, and the vendor's codes for transports and
//! languages. `build.rs` compiles every template a profile names, so nothing here changes when
//! a vendor is added.

pub mod catalog;
pub mod context;
pub mod provision;
pub mod registry;
pub mod render;
pub mod spec;
mod templates;

pub use context::{CommonContext, DeviceContext, LineContext, SettingsContext};
pub use registry::{FileHits, FileMatch, UaInfo, Vendor, Vendors};
pub use render::{RenderError, Rendered};
pub use spec::{FileKind, FileSpec, Format, VendorProfile};
