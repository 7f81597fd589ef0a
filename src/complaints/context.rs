//! What every complaint operation is given besides the connection, and the reading of stored
//! facts they all share: the rules from configuration (`Rules`, with the notices' templates and
//! the ladder), the calendar and the instant (`Ctx`), who acts (`Acting`), the clock kinds, a
//! row's status, a stored clock as the calendar sees it, the contest window. It sits below the
//! service, the notices, the views and the sweeper, and imports none of them.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::model::Language;
use super::state::Actor;
use super::store::{ClockRow, ComplaintRow, PauseRow};
use crate::calendar::{Clock, Cutoff, PausedSpan, WorkingCalendar};
use crate::complaints::error::{ComplaintError, ComplaintResult};
use crate::config::Settings;
use crate::db::from_db_time;
use crate::escalation::ladder::Ladder;
use crate::ids::{DepartmentId, UserId};
use crate::mail::templates::Templates;

pub const REPLY_CLOCK: &str = "reply";
/// MOFCOM 2020 No. 3, when enabled: accept (assign) or refuse within N working days of receipt.
pub const ACCEPT_CLOCK: &str = "accept";
/// MOFCOM 2020 No. 3, when enabled: conclude (close) within N working days of acceptance.
pub const CONCLUDE_CLOCK: &str = "conclude";

/// What every operation needs besides the connection: the calendar, the rules and the instant.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub cal: &'a WorkingCalendar,
    pub rules: &'a Rules,
    pub now: DateTime<Utc>,
}

/// Who acts, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub user_id: Option<UserId>,
    /// For department staff: their department (they may act only on its complaints).
    pub department_id: Option<DepartmentId>,
}

impl Acting {
    pub fn investor() -> Self {
        Acting { actor: Actor::Investor, user_id: None, department_id: None }
    }
    pub fn system() -> Self {
        Acting { actor: Actor::System, user_id: None, department_id: None }
    }
}

/// The rules of `Ctx` that come from configuration, owned so they can move into blocking work.
#[derive(Clone)]
pub struct Rules {
    pub cutoff: Cutoff,
    pub reply_working_days: u32,
    pub accept_working_days: Option<u32>,
    pub conclude_working_days: Option<u32>,
    pub contest_window_working_days: u32,
    pub max_extension_working_days: u32,
    pub tracking_prefix: String,
    pub notices: std::sync::Arc<Notices>,
    /// Not a rule: the views' cache, shared by every clone of the rules (so by every request of
    /// this instance) and reached where the views are built, through `Ctx`.
    pub related: Arc<super::related_cache::RelatedCache>,
}

/// Why the rules cannot be built from the settings: a bad edit stops the start.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(transparent)]
    Templates(#[from] crate::mail::templates::TemplateError),
    #[error(transparent)]
    Ladder(#[from] crate::escalation::ladder::LadderError),
}

impl Rules {
    /// Fails when an email template or the ladder is broken, so a bad edit stops the start.
    pub fn from_settings(s: &crate::config::Settings) -> Result<Rules, RulesError> {
        Ok(Rules {
            cutoff: s.clocks.cutoff,
            reply_working_days: s.clocks.reply.working_days,
            accept_working_days: s.clocks.accept.days_if_enabled(),
            conclude_working_days: s.clocks.conclude.days_if_enabled(),
            contest_window_working_days: s.complaints.contest_window_working_days,
            max_extension_working_days: s.complaints.max_extension_working_days,
            tracking_prefix: s.complaints.tracking_prefix.clone(),
            notices: Notices::from_settings(s)?,
            related: Arc::new(super::related_cache::RelatedCache::default()),
        })
    }

    pub fn ctx<'a>(&'a self, cal: &'a WorkingCalendar, now: DateTime<Utc>) -> Ctx<'a> {
        Ctx { cal, rules: self, now }
    }
}

/// Everything needed to write notices: templates, the ladder, and how links are made.
pub struct Notices {
    pub templates: Templates,
    pub ladder: Ladder,
    pub staff_language: Language,
    pub public_base_url: String,
    /// Right-hand side of Message-IDs.
    pub domain: String,
    /// Investor emails an address may get a day before anonymous-caused ones stop (`mail::budget`).
    pub investor_emails_per_address_per_day: i64,
}

impl Notices {
    pub fn from_settings(s: &Settings) -> Result<Arc<Notices>, RulesError> {
        let templates = Templates::load(&s.mail.template_dir)?;
        let ladder = Ladder::from_settings(&s.escalation)?;
        Ok(Arc::new(Notices {
            templates,
            ladder,
            staff_language: s.mail.staff_language,
            public_base_url: s.server.public_base_url.trim_end_matches('/').to_string(),
            domain: s.mail.from.email.domain().to_string(),
            investor_emails_per_address_per_day: s.mail.investor_emails_per_address_per_day,
        }))
    }
}

/// Department staff see and act only on complaints their department holds.
pub fn ensure_department_scope(row: &ComplaintRow, acting: &Acting) -> ComplaintResult<()> {
    if acting.actor == Actor::Department && (row.department_id.is_none() || row.department_id != acting.department_id) {
        return Err(ComplaintError::OutsideDepartment);
    }
    Ok(())
}

/// The calendar's view of a stored clock.
pub fn calendar_clock(clock: &ClockRow, pauses: &[PauseRow], cutoff: Cutoff) -> Clock {
    Clock {
        received_at: from_db_time(clock.started_at),
        working_days: clock.working_days as u32,
        extension_days: clock.extension_days as u32,
        paused: pauses
            .iter()
            .map(|p| PausedSpan { from: from_db_time(p.paused_at), until: p.resumed_at.map(from_db_time) })
            .collect(),
        cutoff,
    }
}

/// The last instant at which a reply given at `replied_at` may be contested.
pub fn contest_deadline(ctx: &Ctx, replied_at: DateTime<Utc>) -> DateTime<chrono::FixedOffset> {
    let mut window = Clock::new(replied_at, ctx.rules.contest_window_working_days);
    window.cutoff = Cutoff::EndOfDay;
    window.due(ctx.cal, ctx.now).due_at
}
