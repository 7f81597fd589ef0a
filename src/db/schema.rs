//! Table definitions shared by both backends (kept by hand to match migrations/*/).

diesel::table! {
    departments (id) {
        id -> Text,
        code -> Text,
        name_zh -> Text,
        name_en -> Text,
        kind -> Text,
        contact_email -> Text,
        head_email -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        department_id -> Nullable<Text>,
        active -> Bool,
        must_change_password -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    admin_events (id) {
        id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        action -> Text,
        subject -> Text,
        detail -> Text,
        seq -> Nullable<Integer>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_seals (chain) {
        chain -> Text,
        key_id -> Text,
        sealed_at -> Timestamp,
    }
}

diesel::table! {
    calendar_years (year) {
        year -> Integer,
        source_toml -> Text,
        version -> Text,
        loaded_by -> Nullable<Text>,
        loaded_at -> Timestamp,
    }
}

diesel::table! {
    investor_mail_log (id) {
        id -> Text,
        address_key -> Text,
        complaint_id -> Text,
        notice -> Text,
        withheld -> Bool,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    access_code_resets (token_hash) {
        token_hash -> Text,
        complaint_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    callbacks (id) {
        id -> Text,
        complaint_id -> Text,
        notice -> Text,
        language -> Text,
        subject -> Text,
        message -> Text,
        dedupe_key -> Text,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
        done_by -> Nullable<Text>,
    }
}

diesel::joinable!(users -> departments (department_id));

diesel::table! {
    tracking_counters (year) {
        year -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    complaints (id) {
        id -> Text,
        tracking_number -> Text,
        tracking_year -> Integer,
        tracking_seq -> BigInt,
        channel -> Text,
        status -> Text,
        language -> Text,
        complainant_type -> Text,
        complainant_name -> Text,
        company -> Text,
        nationality -> Text,
        email -> Text,
        phone -> Text,
        agent_name -> Nullable<Text>,
        agent_contact -> Nullable<Text>,
        project -> Text,
        concerned_department_id -> Nullable<Text>,
        concerned_staff -> Nullable<Text>,
        matter_type -> Text,
        subject -> Text,
        facts -> Text,
        request -> Text,
        review_or_lawsuit -> Bool,
        confidential -> Bool,
        contact_consent -> Nullable<Bool>,
        filed_by -> Nullable<Text>,
        access_code_hash -> Text,
        department_id -> Nullable<Text>,
        received_at -> Timestamp,
        due_at -> Nullable<Timestamp>,
        overdue -> Bool,
        reply_text -> Nullable<Text>,
        reply_outcome -> Nullable<Text>,
        replied_at -> Nullable<Timestamp>,
        rating -> Nullable<Text>,
        rating_comment -> Nullable<Text>,
        rated_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        idempotency_key_hash -> Nullable<Text>,
        idempotency_body_hash -> Nullable<Text>,
        idempotency_sealed_code -> Nullable<Text>,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    complaint_clocks (id) {
        id -> Text,
        complaint_id -> Text,
        kind -> Text,
        ordinal -> Integer,
        started_at -> Timestamp,
        working_days -> Integer,
        extension_days -> Integer,
        due_at -> Timestamp,
        due_date -> Date,
        provisional -> Bool,
        stopped_at -> Nullable<Timestamp>,
        stop_reason -> Nullable<Text>,
        breached_at -> Nullable<Timestamp>,
        next_step -> Nullable<Text>,
        next_step_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    clock_escalations (clock_id, step) {
        clock_id -> Text,
        step -> Text,
        taken_at -> Timestamp,
        counts_as_escalation -> Bool,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        dedupe_key -> Text,
        complaint_id -> Nullable<Text>,
        notice -> Text,
        language -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Nullable<Text>,
        html_body -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        message_id -> Text,
        payload -> Nullable<Text>,
        clock_id -> Nullable<Text>,
        clock_due_at -> Nullable<Timestamp>,
        department_id -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
    }
}

diesel::table! {
    ballot_rounds (id) {
        id -> Text,
        title -> Text,
        year -> Integer,
        status -> Text,
        opens_at -> Timestamp,
        closes_at -> Timestamp,
        min_group_size -> Integer,
        questions -> Text,
        points -> Text,
        quotas -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        trustees -> Integer,
        threshold -> Integer,
        seal_recipient -> Nullable<Text>,
        revocation_recipient -> Nullable<Text>,
    }
}

diesel::table! {
    ballot_round_departments (round_id, department_id) {
        round_id -> Text,
        department_id -> Text,
    }
}

diesel::table! {
    ballot_voters (id) {
        id -> Text,
        round_id -> Text,
        name -> Text,
        category -> Text,
        contact -> Text,
        departments -> Text,
        letter_issued -> Bool,
    }
}

diesel::table! {
    ballot_credentials (code_hash) {
        code_hash -> Text,
        round_id -> Text,
        scope -> Text,
        used -> Bool,
        roll_tag -> Nullable<Text>,
    }
}

diesel::table! {
    sealed_ballots (id) {
        id -> Text,
        round_id -> Text,
        sealed -> Binary,
    }
}

diesel::table! {
    ballots (id) {
        id -> Text,
        round_id -> Text,
        department_id -> Text,
        category -> Text,
        answers -> Text,
    }
}

diesel::table! {
    ballot_receipts (receipt) {
        receipt -> Text,
        round_id -> Text,
    }
}

diesel::table! {
    clock_pauses (id) {
        id -> Text,
        clock_id -> Text,
        paused_at -> Timestamp,
        resumed_at -> Nullable<Timestamp>,
        question -> Text,
        answer -> Nullable<Text>,
    }
}

diesel::table! {
    complaint_assignments (id) {
        id -> Text,
        complaint_id -> Text,
        department_id -> Text,
        assigned_at -> Timestamp,
        assigned_by -> Nullable<Text>,
        released_at -> Nullable<Timestamp>,
        release_reason -> Nullable<Text>,
        working_days_held -> Nullable<Integer>,
    }
}

diesel::table! {
    extension_requests (id) {
        id -> Text,
        complaint_id -> Text,
        clock_id -> Text,
        department_id -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        days_requested -> Integer,
        reason -> Text,
        decision -> Nullable<Text>,
        days_approved -> Nullable<Integer>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_reason -> Nullable<Text>,
    }
}

diesel::table! {
    complaint_events (id) {
        id -> Text,
        complaint_id -> Text,
        seq -> Integer,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        detail -> Text,
        investor_visible -> Bool,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    complaint_attachments (id) {
        id -> Text,
        complaint_id -> Text,
        sha256 -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        uploaded_at -> Timestamp,
        uploaded_by -> Text,
    }
}

diesel::table! {
    attachment_blobs (sha256) {
        sha256 -> Text,
        size_bytes -> BigInt,
        chunks -> Integer,
    }
}

diesel::table! {
    attachment_chunks (sha256, seq) {
        sha256 -> Text,
        seq -> Integer,
        bytes -> Binary,
    }
}

// `rate_limits` (PostgreSQL's shared limits) is reached through SQL only: its upsert is not
// expressible through the connection enum. See http::shared_limit.

diesel::table! {
    assessment_snapshots (year, version) {
        year -> Integer,
        version -> Integer,
        formula_version -> Text,
        computed_at -> Timestamp,
        finalized_by -> Text,
        reason -> Nullable<Text>,
        report -> Text,
    }
}

diesel::table! {
    assessment_reviews (id) {
        id -> Text,
        year -> Integer,
        department_id -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        reasons -> Text,
        decision_due_at -> Timestamp,
        decision -> Nullable<Text>,
        decision_reason -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        new_version -> Nullable<Integer>,
    }
}

diesel::joinable!(complaint_clocks -> complaints (complaint_id));
diesel::joinable!(clock_pauses -> complaint_clocks (clock_id));
diesel::joinable!(complaint_assignments -> complaints (complaint_id));
diesel::joinable!(complaint_events -> complaints (complaint_id));
diesel::joinable!(attachment_chunks -> attachment_blobs (sha256));
diesel::allow_tables_to_appear_in_same_query!(
    departments,
    users,
    admin_events,
    calendar_years,
    tracking_counters,
    complaints,
    complaint_clocks,
    clock_pauses,
    complaint_assignments,
    extension_requests,
    complaint_events,
    complaint_attachments,
    attachment_blobs,
    attachment_chunks,
    clock_escalations,
    outbox,
    investor_mail_log,
    access_code_resets,
    callbacks,
    audit_seals,
    ballot_rounds,
    sealed_ballots,
    ballot_round_departments,
    ballot_voters,
    ballot_credentials,
    ballots,
    ballot_receipts,
    assessment_snapshots,
    assessment_reviews,
);
