//! The staff roles and the rules that name which roles an endpoint admits.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Hotline staff of the Commerce Bureau.
    Operator,
    /// Staff of one department.
    Department,
    /// The coordination office.
    Coordinator,
    /// The discipline commission.
    Commission,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Operator, Role::Department, Role::Coordinator, Role::Commission, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Department => "department",
            Role::Coordinator => "coordinator",
            Role::Commission => "commission",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which roles an endpoint admits. Each endpoint names its rule in its signature
/// (`Staff<AdminOnly>`), so the authorisation of every route is visible where it is declared.
pub trait RoleRule {
    const ALLOWED: &'static [Role];
    /// Tokens issued while the account must still change its one-time password are refused
    /// everywhere except where this is true.
    const DURING_PASSWORD_CHANGE: bool = false;
}

macro_rules! role_rule {
    ($(#[$doc:meta])* $name:ident => [$($role:ident),+]) => {
        $(#[$doc])*
        pub struct $name;
        impl RoleRule for $name {
            const ALLOWED: &'static [Role] = &[$(Role::$role),+];
        }
    };
}

role_rule!(/// Any signed-in staff member.
    AnyStaff => [Operator, Department, Coordinator, Commission, Admin]);
role_rule!(/// Administrators only.
    AdminOnly => [Admin]);

role_rule!(/// The hotline operators of the Commerce Bureau.
    OperatorOnly => [Operator]);
role_rule!(/// The coordination office.
    CoordinatorOnly => [Coordinator]);
role_rule!(/// Staff of a department (acting on their own department's complaints only).
    DepartmentOnly => [Department]);
role_rule!(/// Those who handle complaints: the coordination office and departments (scoped).
    Handlers => [Coordinator, Department]);
role_rule!(/// Those who may read the audit trail of a complaint.
    AuditReaders => [Coordinator, Department, Commission, Admin]);
role_rule!(/// Those who read a complaint's status back to a caller by tracking number.
    StatusReaders => [Operator, Coordinator]);

role_rule!(/// Staff who file or add material for a caller: the hotline and the coordination office.
    Intake => [Operator, Coordinator]);

role_rule!(/// Who runs ballot rounds: the discipline commission and the coordination office.
    BallotOfficers => [Commission, Coordinator]);

role_rule!(/// Who reads the yearly assessment: the coordination office, the commission, administrators.
    Assessors => [Coordinator, Commission, Admin]);
role_rule!(/// The discipline commission.
    CommissionOnly => [Commission]);

/// The password-change endpoint: any staff, including a token that must change its password.
pub struct PasswordChange;
impl RoleRule for PasswordChange {
    const ALLOWED: &'static [Role] = &Role::ALL;
    const DURING_PASSWORD_CHANGE: bool = true;
}
