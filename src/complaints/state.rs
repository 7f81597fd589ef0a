//! The complaint state machine: a table of allowed transitions and who may make each. Pure.
//!
//! ```text
//! received ──assign──▶ assigned ──request_info──▶ awaiting_investor
//!    ▲  │                 │  ▲ ◀────answer_info─────────┘
//!    │  reject        return│  └─reassign
//!    │  ▼                 ▼
//!    │ rejected ◀─┐    received            assigned ──reply──▶ replied ──rate / auto_close──▶ closed
//!    │            │                                              │
//!    └─ contested ◀──────────────contest─────────────────────────┘ (also from rejected)
//!  withdraw: from any open state → withdrawn
//! ```

use serde::{Deserialize, Serialize};

use crate::db::text_enum;

text_enum!(
    /// Where a complaint stands.
    Status {
        /// Filed; waiting for the coordination office to assign it (also after a department returns it).
        Received => "received",
        /// A department holds it and owes the reply.
        Assigned => "assigned",
        /// The department asked the investor for more information; the clock is paused.
        AwaitingInvestor => "awaiting_investor",
        /// The department replied; the investor may rate or contest.
        Replied => "replied",
        /// The investor contested the reply; a new clock runs while the coordination office re-handles.
        Contested => "contested",
        Closed => "closed",
        Withdrawn => "withdrawn",
        /// Refused as not investment-related; this refusal is itself the clear reply.
        Rejected => "rejected",
    }
);

impl Status {
    /// A reply clock is running (or paused) in these states.
    pub fn clock_open(self) -> bool {
        matches!(self, Status::Received | Status::Assigned | Status::AwaitingInvestor | Status::Contested)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Closed | Status::Withdrawn)
    }

    /// The status as the investor is told it (tracking page and API). Staff pages use
    /// [`Status::staff_label`]; these two are the only place status wording lives.
    pub fn label(self, lang: crate::complaints::model::Language) -> &'static str {
        use crate::complaints::model::Language::*;
        match (self, lang) {
            (Status::Received, Zh) => "已受理，待分派",
            (Status::Received, ZhHant) => "已受理，待分派",
            (Status::Received, En) => "Received, awaiting assignment",
            (Status::Assigned, Zh) => "承办部门办理中",
            (Status::Assigned, ZhHant) => "承辦部門辦理中",
            (Status::Assigned, En) => "Being handled by the department",
            (Status::AwaitingInvestor, Zh) => "待投诉人补充材料",
            (Status::AwaitingInvestor, ZhHant) => "待投訴人補充資料",
            (Status::AwaitingInvestor, En) => "Waiting for your information",
            (Status::Replied, Zh) => "已答复",
            (Status::Replied, ZhHant) => "已答覆",
            (Status::Replied, En) => "Replied",
            (Status::Contested, Zh) => "投诉人有异议，重新办理中",
            (Status::Contested, ZhHant) => "投訴人有異議，重新辦理中",
            (Status::Contested, En) => "Contested, being handled again",
            (Status::Closed, Zh) => "已办结",
            (Status::Closed, ZhHant) => "已辦結",
            (Status::Closed, En) => "Closed",
            (Status::Withdrawn, Zh) => "已撤回",
            (Status::Withdrawn, ZhHant) => "已撤回",
            (Status::Withdrawn, En) => "Withdrawn",
            (Status::Rejected, Zh) => "不予受理（非投资类事项）",
            (Status::Rejected, ZhHant) => "不予受理（非投資類事項）",
            (Status::Rejected, En) => "Not accepted (not investment-related)",
        }
    }

    /// The short word staff lists, filters and records show.
    pub fn staff_label(self, lang: crate::complaints::model::Language) -> &'static str {
        use crate::complaints::model::Language::*;
        match (self, lang.for_staff()) {
            (Status::Received, Zh) => "已受理，待分派",
            (Status::Received, En) => "Received",
            (Status::Assigned, Zh) => "办理中",
            (Status::Assigned, En) => "Assigned",
            (Status::AwaitingInvestor, Zh) => "待补充材料",
            (Status::AwaitingInvestor, En) => "Awaiting investor",
            (Status::Replied, Zh) => "已答复",
            (Status::Replied, En) => "Replied",
            (Status::Contested, Zh) => "有异议",
            (Status::Contested, En) => "Contested",
            (Status::Closed, Zh) => "已办结",
            (Status::Closed, En) => "Closed",
            (Status::Withdrawn, Zh) => "已撤回",
            (Status::Withdrawn, En) => "Withdrawn",
            (Status::Rejected, Zh) => "不予受理",
            (Status::Rejected, En) => "Rejected",
            (_, ZhHant) => unreachable!("for_staff gives zh or en"),
        }
    }
}

/// Who acts. Staff roles map one-to-one; the investor acts with the access code; the system
/// is the sweeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Investor,
    Operator,
    Department,
    Coordinator,
    Commission,
    Admin,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Assign,
    Reassign,
    Reject,
    Return,
    RequestExtension,
    DecideExtension,
    RequestInfo,
    AnswerInfo,
    Reply,
    Rate,
    Contest,
    Withdraw,
    AutoClose,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Assign,
        Action::Reassign,
        Action::Reject,
        Action::Return,
        Action::RequestExtension,
        Action::DecideExtension,
        Action::RequestInfo,
        Action::AnswerInfo,
        Action::Reply,
        Action::Rate,
        Action::Contest,
        Action::Withdraw,
        Action::AutoClose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Assign => "assign",
            Action::Reassign => "reassign",
            Action::Reject => "reject",
            Action::Return => "return",
            Action::RequestExtension => "request_extension",
            Action::DecideExtension => "decide_extension",
            Action::RequestInfo => "request_info",
            Action::AnswerInfo => "answer_info",
            Action::Reply => "reply",
            Action::Rate => "rate",
            Action::Contest => "contest",
            Action::Withdraw => "withdraw",
            Action::AutoClose => "auto_close",
        }
    }

    /// Who may take this action at all.
    pub fn actors(self) -> &'static [Actor] {
        use Actor::*;
        match self {
            Action::Assign | Action::Reassign | Action::Reject | Action::DecideExtension => &[Coordinator],
            Action::Return | Action::RequestExtension | Action::RequestInfo | Action::Reply => &[Department],
            Action::AnswerInfo | Action::Rate | Action::Contest => &[Investor],
            // The hotline may withdraw for a caller who asks by phone.
            Action::Withdraw => &[Investor, Operator],
            Action::AutoClose => &[System],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{action} is not possible while the complaint is {current}")]
    NotInThisState { action: &'static str, current: &'static str },
    #[error("{actor:?} may not {action}")]
    NotThisActor { action: &'static str, actor: Actor },
}

/// The state after `action` by `actor` from `current`, or why it is not allowed.
pub fn transition(current: Status, action: Action, actor: Actor) -> Result<Status, TransitionError> {
    use Status::*;
    if !action.actors().contains(&actor) {
        return Err(TransitionError::NotThisActor { action: action.as_str(), actor });
    }
    let next = match (action, current) {
        (Action::Assign, Received | Contested) => Assigned,
        (Action::Reassign, Assigned) => Assigned,
        (Action::Reassign, AwaitingInvestor) => AwaitingInvestor,
        (Action::Reject, Received | Contested) => Rejected,
        (Action::Return, Assigned) => Received,
        (Action::RequestExtension | Action::DecideExtension, Assigned | AwaitingInvestor) => current,
        (Action::RequestInfo, Assigned) => AwaitingInvestor,
        (Action::AnswerInfo, AwaitingInvestor) => Assigned,
        (Action::Reply, Assigned | AwaitingInvestor) => Replied,
        (Action::Rate, Replied) => Closed,
        (Action::Contest, Replied | Rejected) => Contested,
        (Action::Withdraw, Received | Assigned | AwaitingInvestor | Replied | Contested) => Withdrawn,
        (Action::AutoClose, Replied | Rejected) => Closed,
        _ => return Err(TransitionError::NotInThisState { action: action.as_str(), current: current.as_str() }),
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTORS: [Actor; 7] = [
        Actor::Investor,
        Actor::Operator,
        Actor::Department,
        Actor::Coordinator,
        Actor::Commission,
        Actor::Admin,
        Actor::System,
    ];

    /// The whole table, written out once more by hand: every (state, action) that is allowed.
    fn expected(current: Status, action: Action) -> Option<Status> {
        use Status::*;
        Some(match (current, action) {
            (Received, Action::Assign) | (Contested, Action::Assign) => Assigned,
            (Assigned, Action::Reassign) => Assigned,
            (AwaitingInvestor, Action::Reassign) => AwaitingInvestor,
            (Received, Action::Reject) | (Contested, Action::Reject) => Rejected,
            (Assigned, Action::Return) => Received,
            (Assigned, Action::RequestExtension) | (Assigned, Action::DecideExtension) => Assigned,
            (AwaitingInvestor, Action::RequestExtension) | (AwaitingInvestor, Action::DecideExtension) => {
                AwaitingInvestor
            }
            (Assigned, Action::RequestInfo) => AwaitingInvestor,
            (AwaitingInvestor, Action::AnswerInfo) => Assigned,
            (Assigned, Action::Reply) | (AwaitingInvestor, Action::Reply) => Replied,
            (Replied, Action::Rate) => Closed,
            (Replied, Action::Contest) | (Rejected, Action::Contest) => Contested,
            (Received | Assigned | AwaitingInvestor | Replied | Contested, Action::Withdraw) => Withdrawn,
            (Replied | Rejected, Action::AutoClose) => Closed,
            _ => return None,
        })
    }

    #[test]
    fn exhaustive_table() {
        for &state in Status::ALL {
            for action in Action::ALL {
                for actor in ACTORS {
                    let got = transition(state, action, actor);
                    match (action.actors().contains(&actor), expected(state, action)) {
                        (false, _) => assert!(
                            matches!(got, Err(TransitionError::NotThisActor { .. })),
                            "{state:?} {action:?} {actor:?}"
                        ),
                        (true, None) => assert_eq!(
                            got,
                            Err(TransitionError::NotInThisState { action: action.as_str(), current: state.as_str() })
                        ),
                        (true, Some(next)) => assert_eq!(got, Ok(next), "{state:?} {action:?} {actor:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn terminal_states_allow_nothing() {
        for state in [Status::Closed, Status::Withdrawn] {
            for action in Action::ALL {
                for actor in ACTORS {
                    assert!(transition(state, action, actor).is_err());
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for &s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            // serde, the database and `as_str` speak the same word.
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
