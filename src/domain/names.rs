//! Display names and labels: printable text that is safe in every vendor format.

use std::fmt;

use serde::Serialize;

use super::RuleError;

/// Printable text up to a length limit: no control characters (CR, LF, TAB, NUL, DEL, C1…),
/// no leading or trailing spaces, not empty. Used for names, labels, departments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PrintableText(String);

/// Longest display name or label, in characters.
pub const MAX_TEXT_CHARS: usize = 64;

impl PrintableText {
    /// Parses `input` for `field`, allowing at most `max_chars` characters.
    pub fn parse(input: &str, field: &str, max_chars: usize) -> Result<Self, RuleError> {
        if input.trim().is_empty() {
            return Err(RuleError::new(field, "text_empty", "must not be empty"));
        }
        if input.chars().any(char::is_control) {
            return Err(RuleError::new(
                field,
                "text_not_printable",
                "must be printable text: line breaks, tabs and other control characters are not allowed",
            ));
        }
        if input.trim() != input {
            return Err(RuleError::new(
                field,
                "text_untrimmed",
                "must not begin or end with spaces",
            ));
        }
        if input.chars().count() > max_chars {
            return Err(RuleError::new(
                field,
                "text_too_long",
                format!("must be at most {max_chars} characters"),
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// A display name: the common case of [`PrintableText::parse`].
    pub fn name(input: &str, field: &str) -> Result<Self, RuleError> {
        Self::parse(input, field, MAX_TEXT_CHARS)
    }

    /// Text a phone shows on a key: [`PrintableText::parse`] without format characters
    /// either (invisible joiners, direction overrides), which would make a label look unlike
    /// the text it holds.
    pub fn label(input: &str, field: &str, max_chars: usize) -> Result<Self, RuleError> {
        let text = Self::parse(input, field, max_chars)?;
        if input.chars().any(is_format) {
            return Err(RuleError::new(
                field,
                "text_not_printable",
                "must be printable text: invisible format characters (joiners, direction marks) are not allowed",
            ));
        }
        Ok(text)
    }

    /// Text read back from the store, where it was validated on the way in.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrintableText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `c` is a Unicode format character (general category Cf): soft hyphen, Arabic number
/// signs, zero-width and joiner characters, direction marks, embeddings, overrides and
/// isolates, invisible operators, the byte-order mark, interlinear annotation, tags.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// A device label as an installer types it.
pub type Label = PrintableText;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_markup_and_non_ascii_are_fine() {
        for ok in [
            "John Smith",
            "A & B <x> \"q\" 'r'",
            "Zoë Ångström",
            "李小龍",
            "😀 Support",
        ] {
            assert_eq!(PrintableText::name(ok, "name").unwrap().as_str(), ok);
        }
    }

    #[test]
    fn control_characters_are_refused_naming_the_field() {
        for bad in [
            "Bob\naccount.1.sip_server.1.address = evil",
            "a\rb",
            "a\tb",
            "a\0b",
            "a\u{7f}",
            "a\u{85}b",
        ] {
            let err = PrintableText::name(bad, "display_name").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("display_name", "text_not_printable"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn key_labels_refuse_format_characters_too() {
        for bad in ["a\u{200b}b", "\u{202e}txt.exe", "x\u{feff}", "a\u{2066}b"] {
            let err = PrintableText::label(bad, "label", 32).unwrap_err();
            assert_eq!(err.code, "text_not_printable", "{bad:?}");
        }
        assert_eq!(
            PrintableText::label("a\nb", "label", 32).unwrap_err().code,
            "text_not_printable"
        );
        assert!(PrintableText::label("Zoë 😀 Park", "label", 32).is_ok());
        assert_eq!(
            PrintableText::label(&"x".repeat(33), "label", 32)
                .unwrap_err()
                .code,
            "text_too_long"
        );
    }

    #[test]
    fn empty_padded_and_long_text_is_refused() {
        assert_eq!(
            PrintableText::name("  ", "name").unwrap_err().code,
            "text_empty"
        );
        assert_eq!(
            PrintableText::name(" a", "name").unwrap_err().code,
            "text_untrimmed"
        );
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(
            PrintableText::name(&long, "name").unwrap_err().code,
            "text_too_long"
        );
        assert!(
            PrintableText::name(&"é".repeat(MAX_TEXT_CHARS), "name").is_ok(),
            "the limit counts characters"
        );
    }
}
