//! What the instance's filing thread (`db::group_commit`) does with the filings handed to it
//! (`operations::file`): a group written together (`service::file_together`), or, when that
//! gives up, one filing after another (`service::file`).

use std::sync::Arc;

use super::context::{Acting, Rules};
use super::intake::ValidComplaint;
use super::service::{self, Filed, IdempotencyKey};
use crate::calendar::WorkingCalendar;
use crate::db;
use crate::error::ApiError;

/// A filing waiting for the filing thread, with the calendar current when it arrived.
pub struct Filing {
    calendar: Arc<WorkingCalendar>,
    valid: ValidComplaint,
    acting: Acting,
    idempotency: Option<(IdempotencyKey, String)>,
}

impl Filing {
    pub fn new(
        calendar: Arc<WorkingCalendar>,
        valid: ValidComplaint,
        acting: Acting,
        idempotency: Option<(IdempotencyKey, String)>,
    ) -> Filing {
        Filing { calendar, valid, acting, idempotency }
    }
}

/// The filing thread's work: a group of filings together (`service::file_together`: the
/// statements of one filing for the group), or, when that gives up, one after another.
pub struct Filings {
    pub rules: Rules,
}

impl db::group_commit::Work for Filings {
    type Item = Filing;
    type Output = Filed;

    fn alone(&self, conn: &mut db::DbConnection, f: &Filing) -> Result<Filed, ApiError> {
        let ctx = self.rules.ctx(&f.calendar, db::now());
        service::file(conn, &ctx, &f.valid, &f.acting, f.idempotency.as_ref()).map_err(ApiError::from)
    }

    fn together(
        &self,
        conn: &mut db::DbConnection,
        group: &[Filing],
    ) -> Result<Vec<Result<Filed, ApiError>>, ApiError> {
        let now = db::now();
        let group: Vec<service::ToFile<'_>> = group
            .iter()
            .map(|f| service::ToFile {
                ctx: self.rules.ctx(&f.calendar, now),
                complaint: &f.valid,
                acting: &f.acting,
                idempotency: f.idempotency.as_ref(),
            })
            .collect();
        let outcomes = service::file_together(conn, &group)?;
        Ok(outcomes.into_iter().map(|o| o.map_err(ApiError::from)).collect())
    }
}
