//! Staff accounts: storage and the rules for creating them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::error::AccountError;
use super::password;
use super::roles::Role;
use crate::db::schema::{departments, users};
use crate::db::{from_db_time, to_db_time, DbConnection};
use crate::error::FieldError;
use crate::fields::{required_text, Checker, EmailAddress};
use crate::ids::{DepartmentId, UserId};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub department_id: Option<DepartmentId>,
    pub active: bool,
    pub must_change_password: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl User {
    pub fn role(&self) -> Result<Role, AccountError> {
        Role::parse(&self.role).ok_or_else(|| AccountError::internal("user row", format!("unknown role {}", self.role)))
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    id: &'a str,
    email: &'a str,
    display_name: &'a str,
    password_hash: &'a str,
    role: &'a str,
    department_id: Option<&'a str>,
    active: bool,
    must_change_password: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// What the API shows of an account (never the hash).
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub department_id: Option<String>,
    pub active: bool,
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<User> for UserView {
    type Error = AccountError;
    fn try_from(u: User) -> Result<Self, AccountError> {
        Ok(UserView {
            role: u.role()?,
            id: u.id.into(),
            email: u.email,
            display_name: u.display_name,
            department_id: u.department_id.map(String::from),
            active: u.active,
            must_change_password: u.must_change_password,
            created_at: from_db_time(u.created_at),
        })
    }
}

/// A validated request to create an account.
pub struct AccountRequest {
    pub email: EmailAddress,
    pub display_name: String,
    pub role: Role,
    pub department_id: Option<DepartmentId>,
    /// `None`: generate a one-time password that must be changed at first sign-in.
    pub password: Option<String>,
}

impl AccountRequest {
    pub fn parse(
        email: &str,
        display_name: &str,
        role: Role,
        department_id: Option<DepartmentId>,
        password_given: Option<String>,
        min_password_length: usize,
    ) -> Result<AccountRequest, AccountError> {
        let mut check = Checker::default();
        let email = check.check(EmailAddress::parse("email", email));
        let display_name = check.check(required_text("display_name", display_name, 100));
        match (role, &department_id) {
            (Role::Department, None) => {
                check.push(FieldError::new("department_id", "required", "department staff belong to a department"))
            }
            (r, Some(_)) if r != Role::Department => check.push(FieldError::new(
                "department_id",
                "not_allowed",
                "only department staff belong to a department",
            )),
            _ => {}
        }
        if let Some(p) = &password_given {
            if let Err(msg) = password::check_policy(p, min_password_length) {
                check.push(FieldError::new("password", "weak_password", msg.to_string()));
            }
        }
        check.finish()?;
        Ok(AccountRequest {
            email: email.expect("checked"),
            display_name: display_name.expect("checked"),
            role,
            department_id,
            password: password_given,
        })
    }
}

/// Creates the account; returns it and, when generated, the one-time password (shown once).
pub fn create(
    conn: &mut DbConnection,
    req: &AccountRequest,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(User, Option<String>), AccountError> {
    let (password, generated) = match &req.password {
        Some(p) => (p.clone(), None),
        None => {
            let p = password::generate_password();
            (p.clone(), Some(p))
        }
    };
    let hash = password::hash_password(&password)?;
    let id = UserId::generate();
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        if let Some(dept) = &req.department_id {
            let exists: i64 = departments::table.filter(departments::id.eq(dept)).count().get_result(conn)?;
            if exists == 0 {
                return Err(AccountError::invalid("department_id", "unknown", "no such department"));
            }
        }
        let taken: i64 = users::table.filter(users::email.eq(req.email.as_str())).count().get_result(conn)?;
        if taken > 0 {
            return Err(AccountError::EmailTaken);
        }
        diesel::insert_into(users::table)
            .values(NewUser {
                id: &id,
                email: req.email.as_str(),
                display_name: &req.display_name,
                password_hash: &hash,
                role: req.role.as_str(),
                department_id: req.department_id.as_deref(),
                active: true,
                must_change_password: generated.is_some(),
                created_at: to_db_time(now),
                updated_at: to_db_time(now),
            })
            .execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            actor,
            "user.create",
            &format!("user:{id}"),
            serde_json::json!({"email": req.email.masked(), "role": req.role}),
        )?;
        Ok(())
    })?;
    let user = find(conn, &id)?.ok_or_else(|| AccountError::internal("user create", "row vanished"))?;
    Ok((user, generated))
}

pub fn find(conn: &mut DbConnection, id: &UserId) -> QueryResult<Option<User>> {
    crate::db::on_backend!(conn, c => users::table.find(id).select(User::as_select()).first(c).optional())
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email.trim().to_lowercase())).select(User::as_select()).first(conn).optional()
}

pub fn any_active_admin(conn: &mut DbConnection) -> QueryResult<bool> {
    let n: i64 = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::active.eq(true))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<User>> {
    users::table.order(users::email.asc()).select(User::as_select()).load(conn)
}

pub fn set_password(
    conn: &mut DbConnection,
    id: &str,
    hash: &str,
    must_change: bool,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::must_change_password.eq(must_change),
            users::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)
}

/// Ends every token of the account issued up to `now` (tokens issued before the account's
/// last change are refused; see `auth::extract::still_valid`).
pub fn end_sessions(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(users::table.find(id)).set(users::updated_at.eq(to_db_time(now))).execute(conn)
}

pub fn set_active(conn: &mut DbConnection, id: &str, active: bool, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::active.eq(active), users::updated_at.eq(to_db_time(now))))
        .execute(conn)
}

/// Activates or deactivates an account for administrator `actor`, recorded in the admin log.
/// Deactivating ends the account's tokens; asking for the state the account already has changes
/// nothing (re-activating an active account must not end its sessions). An administrator
/// cannot deactivate their own account (the last administrator could lock everyone out).
pub fn change_active(
    conn: &mut DbConnection,
    actor: &UserId,
    id: &UserId,
    active: bool,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    if id == actor && !active {
        return Err(AccountError::OwnAccount);
    }
    conn.transaction(|conn| {
        // Writes first (SQLite: a transaction that reads first cannot wait for the lock).
        crate::db::write_lock(conn)?;
        let user = find(conn, id)?.ok_or(AccountError::NotFound)?;
        if user.active == active {
            return Ok(user);
        }
        set_active(conn, id, active, now)?;
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "user.set_active",
            &format!("user:{id}"),
            serde_json::json!({"active": active}),
        )?;
        find(conn, id)?.ok_or(AccountError::NotFound)
    })
}

/// Replaces an account's password with a generated one-time password (returned once, to hand
/// to the person; it must be changed at the next sign-in) and ends its sessions; recorded in
/// the admin log without the password.
pub fn reset_to_one_time_password(
    conn: &mut DbConnection,
    actor: &UserId,
    id: &UserId,
    now: DateTime<Utc>,
) -> Result<(User, String), AccountError> {
    let generated = password::generate_password();
    let hash = password::hash_password(&generated)?;
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        // The hash change and the new updated_at end every token issued before now.
        if set_password(conn, id, &hash, true, now)? == 0 {
            return Err(AccountError::NotFound);
        }
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "user.reset_password",
            &format!("user:{id}"),
            serde_json::json!({}),
        )?;
        let user = find(conn, id)?.ok_or(AccountError::NotFound)?;
        Ok((user, generated))
    })
}
