//! Extensions and the tenant's numbering plan.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::RuleError;

/// An extension that satisfies its tenant's plan (uniqueness is the store's job).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Extension(String);

impl Extension {
    /// Parses `input` against `plan`: digits only, length, allowed and reserved ranges.
    pub fn parse(input: &str, plan: &ExtensionPlan) -> Result<Self, RuleError> {
        if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RuleError::new(
                "extension",
                "extension_not_digits",
                "an extension is digits only",
            ));
        }
        let len = input.len() as u32;
        if len < plan.min_digits || len > plan.max_digits {
            return Err(RuleError::new(
                "extension",
                "extension_length",
                format!(
                    "this tenant's extensions have {} to {} digits",
                    plan.min_digits, plan.max_digits
                ),
            ));
        }
        if let Some(range) = plan.reserved.iter().find(|r| r.contains(input)) {
            return Err(RuleError::new(
                "extension",
                "extension_reserved",
                format!("{input} is reserved ({range}) and cannot be an extension"),
            ));
        }
        if !plan.allowed.is_empty() && !plan.allowed.iter().any(|r| r.contains(input)) {
            let ranges: Vec<String> = plan.allowed.iter().map(ToString::to_string).collect();
            return Err(RuleError::new(
                "extension",
                "extension_not_allowed",
                format!(
                    "extensions must be inside the allowed ranges {}",
                    ranges.join(", ")
                ),
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// An extension read back from the store, where it was validated on the way in.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An inclusive range of numbers, or a single number, written `100-899` or `112`.
///
/// Ranges compare numerically and only against numbers of the same length as their bounds, so
/// `112` reserves `112` but not `0112` or `1120`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRange {
    low: String,
    high: String,
}

impl NumberRange {
    /// Parses `100-899` or `112`; `field` names the input for errors.
    pub fn parse(input: &str, field: &str) -> Result<Self, RuleError> {
        let (low, high) = input.split_once('-').unwrap_or((input, input));
        let ok = |s: &str| !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit());
        if !ok(low) || !ok(high) || low.len() != high.len() || low > high {
            return Err(RuleError::new(
                field,
                "range_invalid",
                format!(
                    "'{input}' is not a range: write 'LOW-HIGH' with digits of equal length and LOW <= HIGH, or a single number"
                ),
            ));
        }
        Ok(Self {
            low: low.to_owned(),
            high: high.to_owned(),
        })
    }

    /// Whether `number` (digits) falls inside the range.
    pub fn contains(&self, number: &str) -> bool {
        number.len() == self.low.len()
            && self.low.as_str() <= number
            && number <= self.high.as_str()
    }

    /// Every number in the range, lowest first.
    pub fn numbers(&self) -> impl Iterator<Item = String> + '_ {
        let width = self.low.len();
        let low: u64 = self.low.parse().unwrap_or(0);
        let high: u64 = self.high.parse().unwrap_or(0);
        (low..=high).map(move |n| format!("{n:0width$}"))
    }
}

impl fmt::Display for NumberRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            f.write_str(&self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

impl Serialize for NumberRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Most digits an extension plan may ask for.
pub const MAX_EXTENSION_DIGITS: u32 = 15;

/// A tenant's extension numbering plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExtensionPlan {
    /// Fewest digits an extension may have.
    #[schema(minimum = 1, maximum = 15)]
    pub min_digits: u32,
    /// Most digits an extension may have.
    #[schema(minimum = 1, maximum = 15)]
    pub max_digits: u32,
    /// Ranges extensions must fall in (`100-899`, or a single number); empty means any.
    #[schema(value_type = Vec<String>)]
    pub allowed: Vec<NumberRange>,
    /// Ranges no extension may use (emergency numbers by default).
    #[schema(value_type = Vec<String>)]
    pub reserved: Vec<NumberRange>,
}

/// The plan as written in API bodies, before it is checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionPlanInput {
    /// Fewest digits (1 to 15, at most `max_digits`) [3].
    #[schema(minimum = 1, maximum = 15)]
    pub min_digits: Option<u32>,
    /// Most digits (1 to 15) [6].
    #[schema(minimum = 1, maximum = 15)]
    pub max_digits: Option<u32>,
    /// Allowed ranges [any].
    pub allowed: Option<Vec<String>>,
    /// Reserved ranges [112, 911, 999, 000].
    pub reserved: Option<Vec<String>>,
}

impl Default for ExtensionPlan {
    fn default() -> Self {
        Self {
            min_digits: 3,
            max_digits: 6,
            allowed: Vec::new(),
            reserved: ["112", "911", "999", "000"]
                .iter()
                .map(|n| {
                    NumberRange::parse(n, "extension_plan.reserved").expect("built-in ranges parse")
                })
                .collect(),
        }
    }
}

impl ExtensionPlan {
    /// Checks a plan from an API body, filling in defaults.
    pub fn parse(input: &ExtensionPlanInput) -> Result<Self, RuleError> {
        let default = Self::default();
        let min_digits = input.min_digits.unwrap_or(default.min_digits);
        let max_digits = input.max_digits.unwrap_or(default.max_digits);
        // Each error names the field at fault: the one out of range, else `min_digits`.
        for (name, digits) in [("min_digits", min_digits), ("max_digits", max_digits)] {
            if !(1..=MAX_EXTENSION_DIGITS).contains(&digits) {
                return Err(RuleError::new(
                    format!("extension_plan.{name}"),
                    "plan_digits_invalid",
                    format!("{name} is 1 to {MAX_EXTENSION_DIGITS}"),
                ));
            }
        }
        if min_digits > max_digits {
            return Err(RuleError::new(
                "extension_plan.min_digits",
                "plan_digits_invalid",
                "min_digits must be at most max_digits",
            ));
        }
        let ranges = |list: &Option<Vec<String>>,
                      field: &str|
         -> Result<Option<Vec<NumberRange>>, RuleError> {
            list.as_ref()
                .map(|items| {
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, r)| NumberRange::parse(r, &format!("{field}[{i}]")))
                        .collect()
                })
                .transpose()
        };
        Ok(Self {
            min_digits,
            max_digits,
            allowed: ranges(&input.allowed, "extension_plan.allowed")?.unwrap_or(default.allowed),
            reserved: ranges(&input.reserved, "extension_plan.reserved")?
                .unwrap_or(default.reserved),
        })
    }

    /// The plan in its input shape, for storage and round trips.
    pub fn to_input(&self) -> ExtensionPlanInput {
        ExtensionPlanInput {
            min_digits: Some(self.min_digits),
            max_digits: Some(self.max_digits),
            allowed: Some(self.allowed.iter().map(ToString::to_string).collect()),
            reserved: Some(self.reserved.iter().map(ToString::to_string).collect()),
        }
    }

    /// The lowest extension of the plan not in `taken`, if any is left.
    ///
    /// Candidates come from the allowed ranges, or from every number of `min_digits` digits
    /// (starting at 10…0) when the plan allows any.
    pub fn next_free(&self, taken: &std::collections::HashSet<String>) -> Option<Extension> {
        let default_range;
        let ranges: &[NumberRange] = if self.allowed.is_empty() {
            let width = self.min_digits as usize;
            let low = format!("1{}", "0".repeat(width - 1));
            let high = "9".repeat(width);
            default_range = [NumberRange { low, high }];
            &default_range
        } else {
            &self.allowed
        };
        ranges
            .iter()
            .flat_map(NumberRange::numbers)
            .filter(|n| !taken.contains(n))
            .find_map(|n| Extension::parse(&n, self).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(allowed: &[&str]) -> ExtensionPlan {
        ExtensionPlan::parse(&ExtensionPlanInput {
            allowed: Some(allowed.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn default_plan_is_three_to_six_digits_without_emergency_numbers() {
        let p = ExtensionPlan::default();
        assert!(Extension::parse("100", &p).is_ok());
        assert!(Extension::parse("123456", &p).is_ok());
        assert_eq!(
            Extension::parse("12", &p).unwrap_err().code,
            "extension_length"
        );
        assert_eq!(
            Extension::parse("1234567", &p).unwrap_err().code,
            "extension_length"
        );
        for n in ["112", "911", "999", "000"] {
            assert_eq!(
                Extension::parse(n, &p).unwrap_err().code,
                "extension_reserved"
            );
        }
        assert!(
            Extension::parse("1120", &p).is_ok(),
            "reserved ranges only match their own length"
        );
    }

    #[test]
    fn non_digits_are_refused() {
        let p = ExtensionPlan::default();
        for bad in ["", "10a", " 100", "100\n", "+100", "１００"] {
            let err = Extension::parse(bad, &p).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("extension", "extension_not_digits"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn allowed_ranges_bound_extensions() {
        let p = plan(&["100-199", "500"]);
        assert!(Extension::parse("150", &p).is_ok());
        assert!(Extension::parse("500", &p).is_ok());
        let err = Extension::parse("200", &p).unwrap_err();
        assert_eq!(err.code, "extension_not_allowed");
        assert!(err.message.contains("100-199, 500"), "{}", err.message);
    }

    #[test]
    fn bad_ranges_name_their_position() {
        let err = ExtensionPlan::parse(&ExtensionPlanInput {
            allowed: Some(vec!["100-199".into(), "300-20".into()]),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "extension_plan.allowed[1]");
        let err = ExtensionPlan::parse(&ExtensionPlanInput {
            min_digits: Some(5),
            max_digits: Some(4),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("extension_plan.min_digits", "plan_digits_invalid")
        );
        for (min, max, field) in [
            (0, 4, "extension_plan.min_digits"),
            (16, 4, "extension_plan.min_digits"),
            (3, 0, "extension_plan.max_digits"),
            (3, 16, "extension_plan.max_digits"),
        ] {
            let err = ExtensionPlan::parse(&ExtensionPlanInput {
                min_digits: Some(min),
                max_digits: Some(max),
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(err.field, field, "{min}..{max}");
        }
    }

    #[test]
    fn next_free_skips_taken_and_reserved_numbers() {
        let p = plan(&["110-115"]);
        let taken = ["110", "111"].iter().map(|s| s.to_string()).collect();
        // 112 is reserved, so 113 is next.
        assert_eq!(p.next_free(&taken).unwrap().as_str(), "113");
        let full = (110..=115).map(|n| n.to_string()).collect();
        assert!(p.next_free(&full).is_none());
        assert_eq!(
            ExtensionPlan::default()
                .next_free(&Default::default())
                .unwrap()
                .as_str(),
            "100"
        );
    }
}
