//! Form fields as the templates draw them, and rule errors put next to the field they name.

use crate::domain::RuleError;
use crate::http::error::ApiError;

use super::error::PageError;

/// One choice of a `<select>` or `<datalist>`.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Submitted value.
    pub value: String,
    /// Shown text.
    pub label: String,
    /// Whether it is selected.
    pub selected: bool,
}

impl Choice {
    /// A choice, selected when `value == current`.
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Self {
        let value = value.into();
        Self {
            selected: value == current,
            label: label.into(),
            value,
        }
    }
}

/// One form field: input or select, its value, hint and error.
#[derive(Debug, Clone, Default)]
pub struct Field {
    /// Form name (the API's field name, so rule errors land here).
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// `text`, `email`, `password`, `search` or `select`.
    pub kind: &'static str,
    /// Current value.
    pub value: String,
    /// Rule error for this field.
    pub error: Option<String>,
    /// Help under the field.
    pub hint: String,
    /// Whether the field must be filled.
    pub required: bool,
    /// `inputmode` (`numeric`, …), or empty.
    pub inputmode: &'static str,
    /// `autocomplete`, or empty.
    pub autocomplete: &'static str,
    /// Choices of a select, or suggestions of a text input (a `<datalist>`).
    pub choices: Vec<Choice>,
}

impl Field {
    /// A text input.
    pub fn text(name: &'static str, label: &'static str, value: impl Into<String>) -> Self {
        Self {
            name,
            label,
            kind: "text",
            value: value.into(),
            autocomplete: "off",
            ..Self::default()
        }
    }

    /// A select with `choices`.
    pub fn select(name: &'static str, label: &'static str, choices: Vec<Choice>) -> Self {
        Self {
            name,
            label,
            kind: "select",
            choices,
            ..Self::default()
        }
    }

    /// Sets the input type.
    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    /// Marks the field required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the help text.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// Sets `inputmode`.
    pub fn inputmode(mut self, mode: &'static str) -> Self {
        self.inputmode = mode;
        self
    }

    /// Sets `autocomplete`.
    pub fn autocomplete(mut self, value: &'static str) -> Self {
        self.autocomplete = value;
        self
    }

    /// Suggestions for a text input.
    pub fn suggest(mut self, choices: Vec<Choice>) -> Self {
        self.choices = choices;
        self
    }

    /// Whether a rule error about `field` (`name`, `phone_numbers[1]`, `settings.x`) is ours.
    fn owns(&self, field: &str) -> bool {
        field == self.name
            || field
                .strip_prefix(self.name)
                .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
    }
}

/// Puts `rule` next to the field it names; returns it as a form-wide message otherwise.
pub fn place_error(fields: &mut [Field], rule: &RuleError) -> Option<String> {
    match fields.iter_mut().find(|f| f.owns(&rule.field)) {
        Some(f) => {
            f.error = Some(rule.message.clone());
            None
        }
        None => Some(rule.message.clone()),
    }
}

/// The rule a refused change broke, with the API's status, when it is one a form shows
/// in place; anything else (no right, not found, internal) becomes an error page.
pub fn rule_of(e: impl Into<ApiError>) -> Result<(axum::http::StatusCode, RuleError), PageError> {
    let e = e.into();
    let status = e.status();
    match e {
        ApiError::BadRequest(r) | ApiError::Conflict(r) | ApiError::Invalid(r) => Ok((status, r)),
        other => Err(PageError::Api(other)),
    }
}

/// A form value: `None` when left blank.
pub fn given(value: &str) -> Option<String> {
    (!value.trim().is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_land_next_to_their_field_or_on_the_form() {
        let mut fields = vec![
            Field::text("name", "Name", ""),
            Field::text("extension", "Extension", "911"),
        ];
        let rule = RuleError::new("extension", "extension_reserved", "911 is reserved");
        assert_eq!(place_error(&mut fields, &rule), None);
        assert_eq!(fields[1].error.as_deref(), Some("911 is reserved"));
        assert_eq!(fields[0].error, None);
        let other = RuleError::new("sip_username", "sip_username_taken", "in use");
        assert_eq!(place_error(&mut fields, &other).as_deref(), Some("in use"));
        let mut numbers = vec![Field::text("phone_numbers", "Numbers", "")];
        let nested = RuleError::new("phone_numbers[1]", "e164", "not E.164");
        assert_eq!(place_error(&mut numbers, &nested), None);
        let mut names = vec![Field::text("name", "Name", "")];
        let lookalike = RuleError::new("names", "x", "y");
        assert!(place_error(&mut names, &lookalike).is_some());
    }

    #[test]
    fn blank_values_are_absent() {
        assert_eq!(given(""), None);
        assert_eq!(given("  "), None);
        assert_eq!(given("a ").as_deref(), Some("a "));
    }
}
