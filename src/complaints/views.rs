//! What the API shows of a complaint: the staff view, the investor's tracking view, the clock.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use super::attachments::AttachmentView;
use super::context::{calendar_clock, contest_deadline, Ctx};
use super::events::{EventRow, EventView};
use super::model::{Channel, ExtensionVerdict, Language, StopReason};
pub use super::related_cache::Related;
use super::state::Status;
use super::store::{ClockRow, ComplaintRow, ListedComplaint, PauseRow};
use crate::calendar::{shanghai, Cutoff, Explanation, WorkingCalendar};
use crate::complaints::error::ComplaintResult;
use crate::db::from_db_time;

pub(crate) fn local(t: chrono::NaiveDateTime) -> DateTime<FixedOffset> {
    from_db_time(t).with_timezone(&shanghai())
}

/// The state of one response clock at `now`.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ClockView {
    pub kind: String,
    /// 1 for the first reply clock, 2 after a contest, …
    pub ordinal: i32,
    pub started_at: DateTime<FixedOffset>,
    pub working_days: i32,
    pub extension_days: i32,
    pub due_date: NaiveDate,
    pub due_at: DateTime<FixedOffset>,
    /// The due date depends on a year without an official holiday notice and may still move.
    pub provisional: bool,
    pub running: bool,
    pub paused: bool,
    /// Working days after today up to the due date; negative once breached.
    pub working_days_left: i64,
    pub breached: bool,
    pub stopped_at: Option<DateTime<FixedOffset>>,
    pub stop_reason: Option<StopReason>,
    /// Whether it stopped (reply or refusal) before it ran out.
    pub met: Option<bool>,
    /// Day-by-day: why the due date is this date.
    #[schema(value_type = Object)]
    pub explanation: Explanation,
}

pub fn clock_view(
    clock: &ClockRow,
    pauses: &[PauseRow],
    cal: &WorkingCalendar,
    cutoff: Cutoff,
    now: DateTime<Utc>,
) -> ClockView {
    let c = calendar_clock(clock, pauses, cutoff);
    // A stopped clock is judged as of its stop; a running one as of now.
    let as_of = clock.stopped_at.map(from_db_time).unwrap_or(now);
    let explanation = c.explain(cal, as_of);
    let running = clock.stopped_at.is_none();
    ClockView {
        kind: clock.kind.clone(),
        ordinal: clock.ordinal,
        started_at: local(clock.started_at),
        working_days: clock.working_days,
        extension_days: clock.extension_days,
        due_date: explanation.due_date,
        due_at: explanation.due_at,
        provisional: explanation.provisional,
        running,
        paused: running && c.is_paused(now),
        working_days_left: if running { c.working_days_left(cal, now) } else { 0 },
        breached: explanation.breached,
        stopped_at: clock.stopped_at.map(local),
        stop_reason: clock.stop_reason,
        met: clock.stopped_at.map(|s| s < clock.due_at),
        explanation,
    }
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct DepartmentRef {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
}

impl From<super::store::HandlingDepartment> for DepartmentRef {
    fn from(d: super::store::HandlingDepartment) -> Self {
        DepartmentRef { id: d.id.into(), name_zh: d.name_zh, name_en: d.name_en }
    }
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ReplyView {
    pub text: String,
    /// `resolved | explained | partially_resolved | not_competent`; absent for a refusal.
    pub outcome: Option<String>,
    pub replied_at: DateTime<FixedOffset>,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct RatingView {
    pub rating: String,
    pub comment: Option<String>,
    pub rated_at: DateTime<FixedOffset>,
}

fn reply_view(row: &ComplaintRow) -> Option<ReplyView> {
    Some(ReplyView {
        text: row.reply_text.clone()?,
        outcome: row.reply_outcome.clone(),
        replied_at: local(row.replied_at?),
    })
}

fn rating_view(row: &ComplaintRow) -> Option<RatingView> {
    Some(RatingView {
        rating: row.rating.clone()?,
        comment: row.rating_comment.clone(),
        rated_at: local(row.rated_at?),
    })
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct AssignmentView {
    pub department_id: String,
    pub assigned_at: DateTime<FixedOffset>,
    pub released_at: Option<DateTime<FixedOffset>>,
    pub release_reason: Option<String>,
    /// Working days the department held the complaint (set when released).
    pub working_days_held: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ExtensionView {
    pub id: String,
    pub days_requested: i32,
    pub reason: String,
    pub requested_at: DateTime<FixedOffset>,
    /// `approved | refused`, absent while pending.
    pub decision: Option<ExtensionVerdict>,
    pub days_approved: Option<i32>,
    pub decision_reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct PauseView {
    pub paused_at: DateTime<FixedOffset>,
    pub resumed_at: Option<DateTime<FixedOffset>>,
    pub question: String,
    pub answer: Option<String>,
}

/// An internal note (staff only; never in the investor's view).
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct NoteView {
    pub at: DateTime<FixedOffset>,
    /// Who wrote it: `coordinator` or `department`.
    pub author_role: String,
    /// The author's display name when the note was written.
    pub author: Option<String>,
    pub text: String,
}

/// The internal notes of a complaint, oldest first, from its trail.
fn notes(events: &[super::events::EventRow]) -> Vec<NoteView> {
    events
        .iter()
        .filter(|e| e.action == "note")
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
            NoteView {
                at: local(e.at),
                author_role: e.actor_kind.clone(),
                author: detail["author"].as_str().map(str::to_string),
                text: detail["text"].as_str().unwrap_or_default().to_string(),
            }
        })
        .collect()
}

/// Everything staff see of a complaint.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ComplaintView {
    pub id: String,
    pub tracking_number: String,
    pub status: Status,
    pub channel: Channel,
    pub language: String,
    pub complainant_type: String,
    pub complainant_name: String,
    pub company: String,
    pub nationality: String,
    pub email: String,
    pub phone: String,
    pub agent_name: Option<String>,
    pub agent_contact: Option<String>,
    pub project: String,
    pub concerned_department_id: Option<String>,
    pub concerned_staff: Option<String>,
    pub matter_type: String,
    pub subject: String,
    pub facts: String,
    pub request: String,
    pub review_or_lawsuit: bool,
    pub confidential: bool,
    pub contact_consent: Option<bool>,
    pub filed_by: Option<String>,
    pub department: Option<DepartmentRef>,
    pub received_at: DateTime<FixedOffset>,
    pub overdue: bool,
    /// The newest reply clock.
    pub clock: ClockView,
    /// The MOFCOM `accept` and `conclude` clocks, where enabled.
    pub other_clocks: Vec<ClockView>,
    /// The reply clock's due date was moved by a calendar change (the latest such move).
    pub deadline_moved: Option<DeadlineMoved>,
    pub reply: Option<ReplyView>,
    pub rating: Option<RatingView>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    pub assignments: Vec<AssignmentView>,
    pub extensions: Vec<ExtensionView>,
    pub pauses: Vec<PauseView>,
    pub attachments: Vec<AttachmentView>,
    /// Internal notes of the staff, oldest first.
    pub notes: Vec<NoteView>,
}

/// A due date a calendar change moved: from what, to what, and which official year caused it.
#[derive(Serialize, utoipa::ToSchema, Debug, Clone)]
pub struct DeadlineMoved {
    pub previous_due_date: NaiveDate,
    pub due_date: NaiveDate,
    /// The official calendar year whose loading moved it (absent for edited calendar files).
    pub calendar_year: Option<i32>,
}

/// The latest calendar move of the current reply clock's due date, from the audit trail.
fn deadline_moved(l: &Loaded) -> Option<DeadlineMoved> {
    l.events
        .iter()
        .rev()
        .filter(|e| e.action == "calendar_recomputed")
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
        .filter(|d| d["clock_id"].as_str() == Some(l.clock.id.as_str()))
        .find_map(|d| {
            let previous: NaiveDate = d["previous_due_date"].as_str()?.parse().ok()?;
            (previous != l.clock.due_date).then(|| DeadlineMoved {
                previous_due_date: previous,
                due_date: l.clock.due_date,
                calendar_year: d["calendar_year"].as_i64().map(|y| y as i32),
            })
        })
}

/// A complaint as its views read it: the row and its department as stored now, and the rest
/// (`Related`, shared with the cache while the row's version stands).
pub struct Loaded {
    pub row: ComplaintRow,
    pub department: Option<DepartmentRef>,
    pub related: std::sync::Arc<Related>,
}

impl std::ops::Deref for Loaded {
    type Target = Related;
    fn deref(&self) -> &Related {
        &self.related
    }
}

pub fn complaint_view(l: &Loaded, ctx: &Ctx) -> ComplaintResult<ComplaintView> {
    let r = &l.row;
    Ok(ComplaintView {
        id: r.id.to_string(),
        tracking_number: r.tracking_number.clone(),
        status: r.status,
        channel: r.channel,
        language: r.language.clone(),
        complainant_type: r.complainant_type.clone(),
        complainant_name: r.complainant_name.clone(),
        company: r.company.clone(),
        nationality: r.nationality.clone(),
        email: r.email.clone(),
        phone: r.phone.clone(),
        agent_name: r.agent_name.clone(),
        agent_contact: r.agent_contact.clone(),
        project: r.project.clone(),
        concerned_department_id: r.concerned_department_id.clone().map(String::from),
        concerned_staff: r.concerned_staff.clone(),
        matter_type: r.matter_type.clone(),
        subject: r.subject.clone(),
        facts: r.facts.clone(),
        request: r.request.clone(),
        review_or_lawsuit: r.review_or_lawsuit,
        confidential: r.confidential,
        contact_consent: r.contact_consent,
        filed_by: r.filed_by.clone().map(String::from),
        department: l.department.as_ref().map(|d| DepartmentRef {
            id: d.id.clone(),
            name_zh: d.name_zh.clone(),
            name_en: d.name_en.clone(),
        }),
        received_at: local(r.received_at),
        overdue: r.overdue,
        clock: clock_view(&l.clock, &l.pauses, ctx.cal, ctx.rules.cutoff, ctx.now),
        other_clocks: l
            .other_clocks
            .iter()
            .map(|(c, p)| clock_view(c, p, ctx.cal, ctx.rules.cutoff, ctx.now))
            .collect(),
        deadline_moved: deadline_moved(l),
        reply: reply_view(r),
        rating: rating_view(r),
        closed_at: r.closed_at.map(local),
        assignments: l
            .assignments
            .iter()
            .map(|a| AssignmentView {
                department_id: a.department_id.to_string(),
                assigned_at: local(a.assigned_at),
                released_at: a.released_at.map(local),
                release_reason: a.release_reason.clone(),
                working_days_held: a.working_days_held,
            })
            .collect(),
        extensions: l
            .extensions
            .iter()
            .map(|e| ExtensionView {
                id: e.id.clone(),
                days_requested: e.days_requested,
                reason: e.reason.clone(),
                requested_at: local(e.requested_at),
                decision: e.decision,
                days_approved: e.days_approved,
                decision_reason: e.decision_reason.clone(),
            })
            .collect(),
        pauses: l
            .pauses
            .iter()
            .map(|p| PauseView {
                paused_at: local(p.paused_at),
                resumed_at: p.resumed_at.map(local),
                question: p.question.clone(),
                answer: p.answer.clone(),
            })
            .collect(),
        attachments: l.attachments.iter().map(Into::into).collect(),
        notes: notes(&l.events),
    })
}

/// One line of a staff list (inbox or console).
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ComplaintSummary {
    pub id: String,
    pub tracking_number: String,
    pub status: Status,
    pub subject: String,
    pub company: String,
    pub department_id: Option<String>,
    pub received_at: DateTime<FixedOffset>,
    pub due_at: Option<DateTime<FixedOffset>>,
    pub overdue: bool,
}

pub fn summary(r: &ListedComplaint) -> ComplaintSummary {
    ComplaintSummary {
        id: r.id.to_string(),
        tracking_number: r.tracking_number.clone(),
        status: r.status,
        subject: r.subject.clone(),
        company: r.company.clone(),
        department_id: r.department_id.clone().map(String::from),
        received_at: local(r.received_at),
        due_at: r.due_at.map(local),
        overdue: r.overdue,
    }
}

/// What the investor sees on the tracking page.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct TrackingView {
    pub tracking_number: String,
    pub status: Status,
    /// The status in the requested language.
    pub status_label: String,
    pub language: Language,
    pub subject: String,
    pub received_at: DateTime<FixedOffset>,
    pub department: Option<DepartmentRef>,
    pub clock: ClockView,
    /// The due date was moved by an official calendar (the latest such move).
    pub deadline_moved: Option<DeadlineMoved>,
    /// The question the department asked, while it waits for the investor.
    pub pending_question: Option<String>,
    pub reply: Option<ReplyView>,
    pub rating: Option<RatingView>,
    /// Until when the reply may be contested (while that is possible).
    pub contest_until: Option<DateTime<FixedOffset>>,
    pub can_answer: bool,
    pub can_rate: bool,
    pub can_contest: bool,
    pub can_withdraw: bool,
    /// The files on this complaint (the investor's own and those staff added for them).
    pub attachments: Vec<AttachmentView>,
    /// The questions, answers, replies and files between the investor and the office, in order.
    pub thread: Vec<super::thread::ThreadEntry>,
    pub history: Vec<EventView>,
}

pub fn tracking_view(l: &Loaded, ctx: &Ctx, lang: Language) -> ComplaintResult<TrackingView> {
    let r = &l.row;
    let status = r.status;
    let contest_until = match (status, r.replied_at) {
        (Status::Replied | Status::Rejected, Some(at)) => Some(contest_deadline(ctx, from_db_time(at))),
        _ => None,
    };
    let can_contest = contest_until.is_some_and(|until| ctx.now < until);
    Ok(TrackingView {
        tracking_number: r.tracking_number.clone(),
        status,
        status_label: status.label(lang).to_string(),
        language: lang,
        subject: r.subject.clone(),
        received_at: local(r.received_at),
        department: l.department.as_ref().map(|d| DepartmentRef {
            id: d.id.clone(),
            name_zh: d.name_zh.clone(),
            name_en: d.name_en.clone(),
        }),
        clock: clock_view(&l.clock, &l.pauses, ctx.cal, ctx.rules.cutoff, ctx.now),
        pending_question: (status == Status::AwaitingInvestor)
            .then(|| l.pauses.iter().rev().find(|p| p.resumed_at.is_none()).map(|p| p.question.clone()))
            .flatten(),
        deadline_moved: deadline_moved(l),
        reply: reply_view(r),
        rating: rating_view(r),
        contest_until: contest_until.filter(|_| can_contest),
        can_answer: status == Status::AwaitingInvestor,
        can_rate: status == Status::Replied,
        can_contest,
        can_withdraw: !matches!(status, Status::Closed | Status::Withdrawn | Status::Rejected),
        attachments: l.attachments.iter().map(Into::into).collect(),
        thread: super::thread::conversation(r, &l.related),
        history: l.events.iter().filter(|e| e.investor_visible).map(investor_event).collect(),
    })
}

impl TrackingView {
    /// For a reader who may not open the files (`attachments::may_open`): every file name the
    /// view carries (the list, the trail, the conversation) is replaced.
    pub fn hide_file_names(&mut self) {
        hide_file_names(&mut self.attachments);
        hide_file_names_in_events(&mut self.history);
        for entry in &mut self.thread {
            if let Some(file) = &mut entry.file {
                file.filename = super::attachments::HIDDEN_NAME.to_string();
            }
        }
    }
}

/// Names of files the reader may not open are replaced (`attachments::may_open`).
fn hide_file_names(attachments: &mut [AttachmentView]) {
    for a in attachments {
        a.filename = super::attachments::HIDDEN_NAME.to_string();
    }
}

/// The same for the audit trail: an `attach` event names its file.
pub fn hide_file_names_in_events(events: &mut [EventView]) {
    for e in events.iter_mut().filter(|e| e.action == "attach") {
        if let Some(obj) = e.detail.as_object_mut() {
            obj.insert("filename".into(), serde_json::Value::String(super::attachments::HIDDEN_NAME.to_string()));
        }
    }
}

/// Investor-visible events with staff-only details (ids of staff) removed.
fn investor_event(e: &EventRow) -> EventView {
    let mut v = EventView::from(e);
    if let Some(obj) = v.detail.as_object_mut() {
        for staff_only in [
            "previous_department_id",
            "previous_working_days_held",
            "request_id",
            "attachment_id",
            "notified",
            "clock_id",
        ] {
            obj.remove(staff_only);
        }
        // A reassignment's or an extension decision's reason is the coordination office's
        // internal note; the investor reads the note meant for them.
        if e.action == "reassign" || e.action == "decide_extension" {
            obj.remove("reason");
        }
        if obj.get("investor_note").is_some_and(|n| n.is_null()) {
            obj.remove("investor_note");
        }
    }
    v
}
