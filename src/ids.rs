//! The identifiers of the records people act on, one type each: a function that takes a
//! complaint and a department cannot be handed them the wrong way round.

use crate::db::text_id;

text_id!(
    /// A complaint (not its public tracking number).
    ComplaintId
);
text_id!(
    /// A department or escalation office.
    DepartmentId
);
text_id!(
    /// A staff account.
    UserId
);
text_id!(
    /// A ballot round.
    RoundId
);
