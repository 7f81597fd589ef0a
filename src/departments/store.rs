//! Department rows.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::error::DepartmentError;
use super::{DepartmentDraft, DepartmentKind};
use crate::db::schema::departments;
use crate::db::{from_db_time, to_db_time, DbConnection};
use crate::ids::DepartmentId;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = departments)]
pub struct Department {
    pub id: DepartmentId,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: String,
    pub contact_email: String,
    pub head_email: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The full view, for administrators.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct DepartmentView {
    pub id: String,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: DepartmentKind,
    pub contact_email: String,
    pub head_email: String,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

/// The public view, for the complaint form.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct PublicDepartment {
    pub id: String,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: DepartmentKind,
}

impl Department {
    pub fn kind(&self) -> DepartmentKind {
        DepartmentKind::parse(&self.kind).unwrap_or(DepartmentKind::Department)
    }

    pub fn view(self) -> DepartmentView {
        DepartmentView {
            kind: self.kind(),
            id: self.id.into(),
            code: self.code,
            name_zh: self.name_zh,
            name_en: self.name_en,
            contact_email: self.contact_email,
            head_email: self.head_email,
            active: self.active,
            updated_at: from_db_time(self.updated_at),
        }
    }

    pub fn public(self) -> PublicDepartment {
        PublicDepartment {
            kind: self.kind(),
            id: self.id.into(),
            code: self.code,
            name_zh: self.name_zh,
            name_en: self.name_en,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = departments)]
struct NewDepartment<'a> {
    id: &'a str,
    code: &'a str,
    name_zh: &'a str,
    name_en: &'a str,
    kind: &'a str,
    contact_email: &'a str,
    head_email: &'a str,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

pub fn create(
    conn: &mut DbConnection,
    d: &DepartmentDraft,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Department, DepartmentError> {
    let id = DepartmentId::generate();
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        if find_by_code(conn, &d.code)?.is_some() {
            return Err(DepartmentError::CodeTaken { code: d.code.clone() });
        }
        diesel::insert_into(departments::table)
            .values(NewDepartment {
                id: &id,
                code: &d.code,
                name_zh: &d.name_zh,
                name_en: &d.name_en,
                kind: d.kind.as_str(),
                contact_email: d.contact_email.as_str(),
                head_email: d.head_email.as_str(),
                active: true,
                created_at: to_db_time(now),
                updated_at: to_db_time(now),
            })
            .execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            actor,
            "department.create",
            &format!("department:{id}"),
            serde_json::json!({"code": d.code}),
        )?;
        Ok(find(conn, &id)?.expect("just inserted"))
    })
}

/// Fields an admin may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct DepartmentChange {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub contact_email: Option<String>,
    pub head_email: Option<String>,
    pub active: Option<bool>,
}

#[derive(AsChangeset)]
#[diesel(table_name = departments)]
struct DepartmentChangeset {
    name_zh: Option<String>,
    name_en: Option<String>,
    contact_email: Option<String>,
    head_email: Option<String>,
    active: Option<bool>,
    updated_at: NaiveDateTime,
}

pub fn update(
    conn: &mut DbConnection,
    id: &DepartmentId,
    change: DepartmentChange,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Department, DepartmentError> {
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        let before = find(conn, id)?.ok_or(DepartmentError::NotFound)?;
        let detail = serde_json::json!({
            "name_zh": change.name_zh.as_ref().map(|n| [&before.name_zh, n]),
            "name_en": change.name_en.as_ref().map(|n| [&before.name_en, n]),
            "active": change.active.map(|a| [before.active, a]),
            "emails_changed": change.contact_email.is_some() || change.head_email.is_some(),
        });
        diesel::update(departments::table.find(id))
            .set(DepartmentChangeset {
                name_zh: change.name_zh,
                name_en: change.name_en,
                contact_email: change.contact_email,
                head_email: change.head_email,
                active: change.active,
                updated_at: to_db_time(now),
            })
            .execute(conn)?;
        crate::admin_log::record(conn, now, actor, "department.update", &format!("department:{id}"), detail)?;
        Ok(find(conn, id)?.expect("exists"))
    })
}

pub fn find(conn: &mut DbConnection, id: &DepartmentId) -> QueryResult<Option<Department>> {
    departments::table.find(id).select(Department::as_select()).first(conn).optional()
}

/// Which of these departments exist (one statement for a group of filings).
pub fn existing_ids(conn: &mut DbConnection, ids: &[&DepartmentId]) -> QueryResult<Vec<DepartmentId>> {
    departments::table.filter(departments::id.eq_any(ids)).select(departments::id).load(conn)
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<Department>> {
    departments::table.filter(departments::code.eq(code)).select(Department::as_select()).first(conn).optional()
}

pub fn list(conn: &mut DbConnection, include_inactive: bool) -> QueryResult<Vec<Department>> {
    let mut query = departments::table.select(Department::as_select()).order(departments::code.asc()).into_boxed();
    if !include_inactive {
        query = query.filter(departments::active.eq(true));
    }
    query.load(conn)
}
