//! User scopes (portal roles).

use serde::{Deserialize, Serialize};

use super::RuleError;

/// What a user may do in the PBX portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// No portal access.
    NoPortal,
    /// Minimal self-service.
    SimpleUser,
    /// The usual user [default].
    #[default]
    BasicUser,
    /// Call-centre agent.
    CallCenterAgent,
    /// Call-centre supervisor.
    CallCenterSupervisor,
    /// Manages one site.
    SiteManager,
    /// Manages the office.
    OfficeManager,
}

impl Role {
    /// Every role, in the order of the documentation.
    pub const ALL: [Role; 7] = [
        Role::NoPortal,
        Role::SimpleUser,
        Role::BasicUser,
        Role::CallCenterAgent,
        Role::CallCenterSupervisor,
        Role::SiteManager,
        Role::OfficeManager,
    ];

    /// The wire name (`basic_user`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::NoPortal => "no_portal",
            Role::SimpleUser => "simple_user",
            Role::BasicUser => "basic_user",
            Role::CallCenterAgent => "call_center_agent",
            Role::CallCenterSupervisor => "call_center_supervisor",
            Role::SiteManager => "site_manager",
            Role::OfficeManager => "office_manager",
        }
    }

    /// Parses a wire name for the `role` field.
    pub fn parse(input: &str) -> Result<Self, RuleError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == input)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                RuleError::new(
                    "role",
                    "role_unknown",
                    format!("role must be one of {}", names.join(", ")),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_ones_are_listed() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        let err = Role::parse("superuser").unwrap_err();
        assert_eq!(err.field, "role");
        assert!(err.message.contains("office_manager"));
    }
}
