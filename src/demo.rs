//! Demo data (`config/demo.toml`): the city's units and one account per role.

use serde::Deserialize;

use crate::auth::users::{self, AccountRequest};
use crate::auth::Role;
use crate::db::DbConnection;
use crate::departments::{store, DepartmentDraft, DepartmentKind};
use crate::error::ApiError;

pub const DEMO_TOML: &str = include_str!("../config/demo.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoFile {
    password: String,
    department: Vec<DemoDepartment>,
    user: Vec<DemoUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoDepartment {
    code: String,
    name_zh: String,
    name_en: String,
    kind: DepartmentKind,
    contact_email: String,
    head_email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoUser {
    email: String,
    display_name: String,
    role: Role,
    #[serde(default)]
    department: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoLoaded {
    pub departments_created: usize,
    pub users_created: usize,
}

/// Loads the demo data; existing departments (by code) and users (by email) are kept as they are.
pub fn load(conn: &mut DbConnection, now: chrono::DateTime<chrono::Utc>) -> Result<DemoLoaded, ApiError> {
    let file: DemoFile = toml::from_str(DEMO_TOML).map_err(|e| ApiError::internal("config/demo.toml", e))?;
    let mut loaded = DemoLoaded::default();
    for d in &file.department {
        if store::find_by_code(conn, &d.code)?.is_none() {
            let draft =
                DepartmentDraft::parse(&d.code, &d.name_zh, &d.name_en, d.kind, &d.contact_email, &d.head_email)?;
            store::create(conn, &draft, None, now)?;
            loaded.departments_created += 1;
        }
    }
    for u in &file.user {
        if users::find_by_email(conn, &u.email)?.is_some() {
            continue;
        }
        let department_id = match &u.department {
            Some(code) => Some(
                store::find_by_code(conn, code)?
                    .ok_or_else(|| ApiError::internal("config/demo.toml", format!("unknown department {code}")))?
                    .id,
            ),
            None => None,
        };
        // The demo password is shorter than nothing: it is public, so the policy is not applied.
        let req = AccountRequest::parse(&u.email, &u.display_name, u.role, department_id, None, 10)?;
        let req = AccountRequest { password: Some(file.password.clone()), ..req };
        users::create(conn, &req, None, now)?;
        loaded.users_created += 1;
    }
    Ok(loaded)
}
