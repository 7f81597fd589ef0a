//! Values of a ballot round: questions, answers, categories, points. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The answer to one question about one department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
    /// 不了解: not enough contact to judge; excluded from the valid votes.
    NotEnoughContact,
}

impl Answer {
    pub const ALL: [Answer; 4] =
        [Answer::Satisfied, Answer::BasicallySatisfied, Answer::Dissatisfied, Answer::NotEnoughContact];
}

/// Who the voter is, as a group (行风评议 panels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    EnterpriseServed,
    EnterpriseRepresentative,
    ConductMonitor,
}

impl Category {
    pub const ALL: [Category; 3] =
        [Category::EnterpriseServed, Category::EnterpriseRepresentative, Category::ConductMonitor];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::EnterpriseServed => "enterprise_served",
            Category::EnterpriseRepresentative => "enterprise_representative",
            Category::ConductMonitor => "conduct_monitor",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable key, e.g. `overall`, 1–40 bytes.
    #[schema(min_length = 1, max_length = 40)]
    pub key: String,
    #[schema(pattern = r"\S")]
    pub text_zh: String,
    #[schema(pattern = r"\S")]
    pub text_en: String,
}

/// A round's title in the reader's language: a title written `中文 / English` shows the half
/// in that language; any other title is shown as written.
pub fn title_in(title: &str, lang: crate::complaints::model::Language) -> String {
    match title.split_once(" / ") {
        Some((zh, en)) if !zh.trim().is_empty() && !en.trim().is_empty() => {
            if lang.is_chinese() {
                zh.trim().to_string()
            } else {
                en.trim().to_string()
            }
        }
        _ => title.to_string(),
    }
}

/// The four default questions.
pub fn default_questions() -> Vec<Question> {
    [
        ("overall", "总体行风作风", "Overall conduct"),
        ("efficiency", "办事效率", "Efficiency"),
        ("attitude", "服务态度", "Attitude"),
        ("integrity", "廉洁自律", "Integrity (廉洁)"),
    ]
    .into_iter()
    .map(|(key, zh, en)| Question { key: key.into(), text_zh: zh.into(), text_en: en.into() })
    .collect()
}

/// Points per answer for the conduct index (common local practice: 100 / 70 / 30).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Points {
    #[schema(minimum = 0, maximum = 1000)]
    pub satisfied: f64,
    #[schema(minimum = 0, maximum = 1000)]
    pub basically_satisfied: f64,
    #[schema(minimum = 0, maximum = 1000)]
    pub dissatisfied: f64,
}

impl Default for Points {
    fn default() -> Self {
        Points { satisfied: 100.0, basically_satisfied: 70.0, dissatisfied: 30.0 }
    }
}

impl Points {
    pub fn of(&self, a: Answer) -> Option<f64> {
        match a {
            Answer::Satisfied => Some(self.satisfied),
            Answer::BasicallySatisfied => Some(self.basically_satisfied),
            Answer::Dissatisfied => Some(self.dissatisfied),
            Answer::NotEnoughContact => None,
        }
    }
}

/// One department's part of one ballot: question key → answer.
pub type Answers = BTreeMap<String, Answer>;

/// Where a round is in its life: drafted, open for voting, closed (ballots in), published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    Draft,
    Open,
    Closed,
    Published,
}

impl RoundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Draft => "draft",
            RoundStatus::Open => "open",
            RoundStatus::Closed => "closed",
            RoundStatus::Published => "published",
        }
    }
    pub fn parse(s: &str) -> Option<RoundStatus> {
        [RoundStatus::Draft, RoundStatus::Open, RoundStatus::Closed, RoundStatus::Published]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}
