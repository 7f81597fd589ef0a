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

diesel::joinable!(users -> departments (department_id));
diesel::allow_tables_to_appear_in_same_query!(departments, users, admin_events, calendar_years);
