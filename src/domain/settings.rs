//! Phone-side settings that merge in one fixed order: defaults → tenant → site → device.

use serde::{Deserialize, Serialize};

use super::RuleError;
use super::zone::ZoneRules;

/// SIP transport between the phone and the registrar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// UDP [default].
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
    /// Let the phone pick by DNS NAPTR/SRV.
    DnsSrv,
}

impl Transport {
    /// The wire name (`udp`, `tcp`, `tls`, `dns_srv`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::DnsSrv => "dns_srv",
        }
    }

    /// Parses a wire name for `field`.
    pub fn parse(input: &str, field: &str) -> Result<Self, RuleError> {
        match input {
            "udp" => Ok(Self::Udp),
            "tcp" => Ok(Self::Tcp),
            "tls" => Ok(Self::Tls),
            "dns_srv" => Ok(Self::DnsSrv),
            _ => Err(RuleError::new(
                field,
                "transport_unknown",
                "transport is one of udp, tcp, tls, dns_srv",
            )),
        }
    }
}

/// Language codes deskprov knows how to map onto vendor language names.
pub const LANGUAGES: [&str; 16] = [
    "en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "nb", "fi", "cs", "tr", "ru", "zh",
];

/// Settings at one level; `None` means "inherit".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Registrar host name or address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_server: Option<String>,
    /// Registrar port.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 65535)]
    pub sip_port: Option<u16>,
    /// SIP transport.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// Outbound proxy host, when the PBX needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_proxy: Option<String>,
    /// Outbound proxy port.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 65535)]
    pub outbound_proxy_port: Option<u16>,
    /// Registration expiry in seconds (30 to 86400).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 30, maximum = 86400)]
    pub registration_expires: Option<u32>,
    /// IANA time zone (`Europe/Berlin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// NTP server host name or address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntp_server: Option<String>,
    /// Language code (`en`, `de`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Number the phone dials for voicemail (`*97`); with it, every account subscribes to
    /// message-waiting notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voicemail_number: Option<String>,
}

/// Settings with every value decided: what a phone file is rendered from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EffectiveSettings {
    /// Registrar host ("" when no level sets one).
    pub sip_server: String,
    /// Registrar port [5060].
    #[schema(minimum = 1, maximum = 65535)]
    pub sip_port: u16,
    /// SIP transport [udp].
    pub transport: Transport,
    /// Outbound proxy, if any.
    pub outbound_proxy: Option<String>,
    /// Outbound proxy port [sip_port].
    #[schema(minimum = 1, maximum = 65535)]
    pub outbound_proxy_port: u16,
    /// Registration expiry in seconds [3600].
    #[schema(minimum = 30, maximum = 86400)]
    pub registration_expires: u32,
    /// IANA time zone [UTC].
    pub timezone: String,
    /// NTP server [pool.ntp.org].
    pub ntp_server: String,
    /// Language code [en].
    pub language: String,
    /// Voicemail number, if any level sets one.
    pub voicemail_number: Option<String>,
}

impl Settings {
    /// Checks every value that is set; field names carry `prefix` (`site.` etc.).
    pub fn validate(&self, prefix: &str) -> Result<(), RuleError> {
        let field = |name: &str| format!("{prefix}{name}");
        for (name, value) in [
            ("sip_server", &self.sip_server),
            ("outbound_proxy", &self.outbound_proxy),
            ("ntp_server", &self.ntp_server),
        ] {
            if let Some(host) = value {
                check_host(host, &field(name))?;
            }
        }
        for (name, port) in [
            ("sip_port", self.sip_port),
            ("outbound_proxy_port", self.outbound_proxy_port),
        ] {
            if port == Some(0) {
                return Err(RuleError::new(
                    field(name),
                    "port_invalid",
                    "a port is 1 to 65535",
                ));
            }
        }
        if let Some(expires) = self.registration_expires
            && !(30..=86_400).contains(&expires)
        {
            return Err(RuleError::new(
                field("registration_expires"),
                "expires_invalid",
                "registration expiry is 30 to 86400 seconds",
            ));
        }
        if let Some(tz) = &self.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            return Err(RuleError::new(
                field("timezone"),
                "timezone_unknown",
                "time zone must be an IANA name such as Europe/Berlin or America/New_York",
            ));
        }
        if let Some(lang) = &self.language
            && !LANGUAGES.contains(&lang.as_str())
        {
            return Err(RuleError::new(
                field("language"),
                "language_unknown",
                format!("language is one of {}", LANGUAGES.join(", ")),
            ));
        }
        if let Some(number) = &self.voicemail_number {
            check_voicemail_number(number, &field("voicemail_number"))?;
        }
        Ok(())
    }

    /// `self` with every value of `over` that is set laid on top.
    pub fn overlay(&self, over: &Settings) -> Settings {
        Settings {
            sip_server: over.sip_server.clone().or_else(|| self.sip_server.clone()),
            sip_port: over.sip_port.or(self.sip_port),
            transport: over.transport.or(self.transport),
            outbound_proxy: over
                .outbound_proxy
                .clone()
                .or_else(|| self.outbound_proxy.clone()),
            outbound_proxy_port: over.outbound_proxy_port.or(self.outbound_proxy_port),
            registration_expires: over.registration_expires.or(self.registration_expires),
            timezone: over.timezone.clone().or_else(|| self.timezone.clone()),
            ntp_server: over.ntp_server.clone().or_else(|| self.ntp_server.clone()),
            language: over.language.clone().or_else(|| self.language.clone()),
            voicemail_number: over
                .voicemail_number
                .clone()
                .or_else(|| self.voicemail_number.clone()),
        }
    }

    /// Merges the levels in the fixed order (built-in defaults → tenant → site → device).
    pub fn merge(levels: &[&Settings]) -> EffectiveSettings {
        let merged = levels
            .iter()
            .fold(Settings::default(), |acc, level| acc.overlay(level));
        let sip_port = merged.sip_port.unwrap_or(5060);
        EffectiveSettings {
            sip_server: merged.sip_server.unwrap_or_default(),
            sip_port,
            transport: merged.transport.unwrap_or(Transport::Udp),
            outbound_proxy_port: merged.outbound_proxy_port.unwrap_or(sip_port),
            outbound_proxy: merged.outbound_proxy,
            registration_expires: merged.registration_expires.unwrap_or(3600),
            timezone: merged.timezone.unwrap_or_else(|| "UTC".into()),
            ntp_server: merged.ntp_server.unwrap_or_else(|| "pool.ntp.org".into()),
            language: merged.language.unwrap_or_else(|| "en".into()),
            voicemail_number: merged.voicemail_number,
        }
    }
}

impl EffectiveSettings {
    /// The zone's rules (standard offset, summer-time rule, abbreviations) in the reference
    /// year; an unknown name (never stored: input is checked) falls back to UTC.
    pub fn zone_rules(&self) -> ZoneRules {
        ZoneRules::of(self.timezone.parse().unwrap_or(chrono_tz::UTC))
    }

    /// The zone's standard (winter) offset from UTC in seconds; phones apply DST themselves.
    pub fn standard_utc_offset_seconds(&self) -> i32 {
        self.zone_rules().std_offset_seconds
    }

    /// Whether the zone observes daylight saving time.
    pub fn observes_dst(&self) -> bool {
        self.zone_rules().observes_dst
    }
}

/// Longest voicemail number.
pub const MAX_VOICEMAIL_NUMBER_CHARS: usize = 32;

/// A voicemail number: 1 to 32 of digits, `*` and `#`, with an optional leading `+`.
fn check_voicemail_number(number: &str, field: &str) -> Result<(), RuleError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    let ok = !digits.is_empty()
        && number.len() <= MAX_VOICEMAIL_NUMBER_CHARS
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
    if ok {
        Ok(())
    } else {
        Err(RuleError::new(
            field,
            "voicemail_number_invalid",
            format!(
                "a voicemail number is 1 to {MAX_VOICEMAIL_NUMBER_CHARS} digits, '*' and '#', with an optional leading '+' (e.g. *97)"
            ),
        ))
    }
}

/// A host name or IP address: letters, digits, `.`, `-`, `:` (IPv6), `[`/`]`; at most 253.
fn check_host(host: &str, field: &str) -> Result<(), RuleError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        && !host.starts_with('.')
        && !host.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(RuleError::new(
            field,
            "host_invalid",
            "must be a host name or IP address (letters, digits, '.', '-', ':'), without scheme or port",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_levels_win_and_defaults_fill_the_rest() {
        let tenant = Settings {
            sip_server: Some("pbx.testsite.com".into()),
            timezone: Some("Europe/Berlin".into()),
            language: Some("de".into()),
            ..Default::default()
        };
        let site = Settings {
            timezone: Some("Europe/London".into()),
            ..Default::default()
        };
        let device = Settings {
            language: Some("en".into()),
            ..Default::default()
        };
        let eff = Settings::merge(&[&tenant, &site, &device]);
        assert_eq!(eff.sip_server, "pbx.testsite.com");
        assert_eq!(eff.timezone, "Europe/London");
        assert_eq!(eff.language, "en");
        assert_eq!(eff.sip_port, 5060);
        assert_eq!(eff.transport, Transport::Udp);
        assert_eq!(eff.ntp_server, "pool.ntp.org");
    }

    #[test]
    fn standard_offsets_ignore_summer_time() {
        let eff = |tz: &str| {
            Settings::merge(&[&Settings {
                timezone: Some(tz.into()),
                ..Default::default()
            }])
        };
        assert_eq!(eff("Europe/Berlin").standard_utc_offset_seconds(), 3600);
        assert!(eff("Europe/Berlin").observes_dst());
        assert_eq!(
            eff("America/New_York").standard_utc_offset_seconds(),
            -5 * 3600
        );
        assert_eq!(
            eff("Asia/Kolkata").standard_utc_offset_seconds(),
            5 * 3600 + 1800
        );
        assert!(!eff("Asia/Kolkata").observes_dst());
        assert_eq!(
            eff("Australia/Sydney").standard_utc_offset_seconds(),
            10 * 3600
        );
        assert_eq!(
            eff("Australia/Sydney").zone_rules().posix_tz(),
            "AEST-10AEDT,M10.1.0,M4.1.0/3"
        );
        assert_eq!(Settings::merge(&[]).zone_rules().posix_tz(), "UTC0");
    }

    #[test]
    fn bad_values_name_their_field() {
        let bad = Settings {
            sip_server: Some("pbx.example.com\nx = y".into()),
            ..Default::default()
        };
        assert_eq!(bad.validate("").unwrap_err().field, "sip_server");
        let bad = Settings {
            timezone: Some("Mars/Olympus".into()),
            ..Default::default()
        };
        assert_eq!(bad.validate("site.").unwrap_err().field, "site.timezone");
        let bad = Settings {
            language: Some("xx".into()),
            ..Default::default()
        };
        assert_eq!(bad.validate("").unwrap_err().code, "language_unknown");
        let bad = Settings {
            sip_port: Some(0),
            ..Default::default()
        };
        assert_eq!(bad.validate("").unwrap_err().code, "port_invalid");
    }

    #[test]
    fn voicemail_numbers_are_dial_strings() {
        let with = |n: &str| Settings {
            voicemail_number: Some(n.into()),
            ..Default::default()
        };
        for good in ["*97", "#123", "+4930123456", "8500", "*86#"] {
            assert!(with(good).validate("").is_ok(), "{good}");
        }
        for bad in [
            "",
            "+",
            "97 ",
            "*97\nx = y",
            "sip:vm@pbx",
            "1+2",
            &"1".repeat(33),
        ] {
            let err = with(bad).validate("site.").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("site.voicemail_number", "voicemail_number_invalid"),
                "{bad:?}"
            );
        }
        let tenant = with("*97");
        let site = with("*98");
        assert_eq!(
            Settings::merge(&[&tenant, &site])
                .voicemail_number
                .as_deref(),
            Some("*98")
        );
        assert_eq!(Settings::merge(&[]).voicemail_number, None);
    }
}
