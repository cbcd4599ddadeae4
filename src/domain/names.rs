//! Display names and labels: printable text that is safe in every vendor format.

use std::fmt;

use serde::Serialize;
use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

use super::RuleError;

/// Printable text up to a length limit, in Unicode NFC: no control characters (CR, LF, TAB,
/// NUL, DEL, C1…), no noncharacters (U+FFFE, U+FFFF, …), no invisible or direction-changing
/// format characters (zero-width spaces and joiners, bidi embeddings, overrides and isolates,
/// byte-order marks, …), no line or paragraph separators, no leading or trailing spaces, not
/// empty. Used for names, labels, departments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PrintableText(String);

/// Longest display name or label, in characters.
pub const MAX_TEXT_CHARS: usize = 64;

impl PrintableText {
    /// Parses `input` for `field`, allowing at most `max_chars` characters.
    pub fn parse(input: &str, field: &str, max_chars: usize) -> Result<Self, RuleError> {
        let normalized: String = input.nfc().collect();
        let input = normalized.as_str();
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
        if let Some(c) = input.chars().find(|c| is_noncharacter(*c)) {
            return Err(RuleError::new(
                field,
                "text_not_printable",
                format!(
                    "must be printable text: U+{:04X} is a noncharacter, which is not text (and U+FFFE and U+FFFF cannot be written in XML)",
                    u32::from(c)
                ),
            ));
        }
        if let Some(c) = input.chars().find(|c| is_invisible(*c)) {
            return Err(RuleError::new(
                field,
                "text_invisible_characters",
                format!(
                    "must not contain invisible or direction-changing characters (found U+{:04X}): they can reorder or hide what a phone displays",
                    u32::from(c)
                ),
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

    /// Text a phone shows on a key, at most `max_chars` long: [`PrintableText::parse`], which
    /// already refuses the invisible characters that would make a label look unlike its text.
    pub fn label(input: &str, field: &str, max_chars: usize) -> Result<Self, RuleError> {
        Self::parse(input, field, max_chars)
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

/// Whether `c` changes how text is shown without being seen itself: format characters
/// (zero-width spaces and joiners, bidi controls, byte-order marks, soft hyphens, …) and the
/// line and paragraph separators.
fn is_invisible(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Whether `c` is one of Unicode's 66 noncharacters (U+FDD0–U+FDEF, and the last two code
/// points of every plane): never text, and U+FFFE and U+FFFF are not allowed in XML at all.
fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
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
            assert_eq!(err.code, "text_invisible_characters", "{bad:?}");
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

    #[test]
    fn noncharacters_are_refused() {
        // U+FFFE and U+FFFF may not appear in XML at all: a name with one made every XML file
        // of its phone unreadable (found by the `render` fuzz target).
        for c in [
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{1FFFF}',
            '\u{10FFFE}',
        ] {
            let err = PrintableText::name(&format!("John{c}Smith"), "name").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("name", "text_not_printable"),
                "U+{:04X}",
                u32::from(c)
            );
            assert!(err.message.contains("noncharacter"), "{}", err.message);
        }
        for ok in ['\u{FFFD}', '\u{FDCF}', '\u{FDF0}', '\u{E000}', '\u{1FFFD}'] {
            assert!(
                PrintableText::name(&format!("a{ok}b"), "name").is_ok(),
                "{ok:?}"
            );
        }
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}',
            '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            '\u{FEFF}', '\u{2028}', '\u{2029}', '\u{00AD}', '\u{2060}',
        ] {
            let err = PrintableText::name(&format!("John{c}Smith"), "name").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("name", "text_invisible_characters"),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn names_are_stored_in_nfc() {
        let decomposed = "Zoe\u{0308} A\u{030A}ngstro\u{0308}m";
        let name = PrintableText::name(decomposed, "name").unwrap();
        assert_eq!(name.as_str(), "Zoë Ångström");
        assert_eq!(name.as_str().chars().count(), 12);
    }
}
