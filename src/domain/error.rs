//! The one error type of the rules: which field broke which rule, in words a person can act on.

use std::fmt;

/// A broken provisioning rule: the field, a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The input field that broke the rule, as named in the API (`extension`, `sip_password`, …).
    pub field: String,
    /// A stable code scripts can match on (`extension_reserved`, `password_too_weak`, …).
    pub code: &'static str,
    /// What is wrong and what the rule is.
    pub message: String,
}

impl RuleError {
    /// A new rule error for `field`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error reported under another field name (`aliases[2].name` rather than `name`).
    pub fn in_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RuleError {}
