//! Value types of a complaint, parsed at the edge. Pure.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::FieldError;

/// The language an investor or voter reads: simplified Chinese, traditional Chinese (Hong Kong,
/// Macao, Taiwan) or English. Staff read zh or en only ([`Language::for_staff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Language {
    #[serde(rename = "zh")]
    Zh,
    #[serde(rename = "zh-Hant")]
    ZhHant,
    #[serde(rename = "en")]
    En,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Zh, Language::ZhHant, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::ZhHant => "zh-Hant",
            Language::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// As [`Language::parse`], in any letter case (as people type it in a spreadsheet).
    pub fn parse_any_case(s: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(s))
    }

    /// The BCP 47 tag for `lang` attributes: `zh-Hans`, `zh-Hant`, `en`.
    pub fn html_tag(self) -> &'static str {
        match self {
            Language::Zh => "zh-Hans",
            Language::ZhHant => "zh-Hant",
            Language::En => "en",
        }
    }

    /// Either Chinese script: names kept only in Chinese (departments, questions) are shown as stored.
    pub fn is_chinese(self) -> bool {
        matches!(self, Language::Zh | Language::ZhHant)
    }

    /// The staff pages and staff emails are zh or en: a traditional-Chinese reader gets zh there.
    pub fn for_staff(self) -> Language {
        match self {
            Language::ZhHant => Language::Zh,
            other => other,
        }
    }

    /// The first supported language of an `Accept-Language` header, if any. Chinese tags of
    /// Taiwan, Hong Kong and Macao, and any `zh-Hant`, mean traditional Chinese.
    pub fn from_accept_language(header: &str) -> Option<Language> {
        header.split(',').map(|part| part.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()).find_map(
            |tag| {
                if tag == "zh" || tag.starts_with("zh-") {
                    let traditional = ["zh-hant", "zh-tw", "zh-hk", "zh-mo"].iter().any(|t| tag.starts_with(t));
                    Some(if traditional { Language::ZhHant } else { Language::Zh })
                } else if tag == "en" || tag.starts_with("en-") {
                    Some(Language::En)
                } else {
                    None
                }
            },
        )
    }
}

use crate::db::text_enum;

text_enum!(
    /// Who complains (MOFCOM Order 2020 No. 3, art. 2).
    ComplainantType {
        ForeignInvestedEnterprise => "foreign_invested_enterprise",
        ForeignInvestor => "foreign_investor",
        ChamberOfCommerce => "chamber_of_commerce",
    }
);

text_enum!(
    /// What the complaint is about.
    MatterType {
        AdministrativeAct => "administrative_act",
        InvestmentEnvironment => "investment_environment",
    }
);

text_enum!(
    /// How the complaint reached the office.
    Channel { Web => "web", Hotline => "hotline", Email => "email", WalkIn => "walk_in" }
);

text_enum!(
    /// The substance of a department's clear reply.
    ReplyOutcome {
        Resolved => "resolved",
        Explained => "explained",
        PartiallyResolved => "partially_resolved",
        NotCompetent => "not_competent",
    }
);

text_enum!(
    /// Why a clock stopped.
    StopReason {
        /// The department accepted the complaint (the MOFCOM acceptance clock).
        Accepted => "accepted",
        /// The acceptance clock of a complaint refused as not investment-related.
        Refused => "refused",
        Rejected => "rejected",
        /// Refused as a duplicate of another complaint, which carries the matter.
        Duplicate => "duplicate",
        Replied => "replied",
        Closed => "closed",
        Withdrawn => "withdrawn",
    }
);

text_enum!(
    /// The coordination office's answer to a department's extension request.
    ExtensionVerdict { Approved => "approved", Refused => "refused" }
);

text_enum!(
    /// The investor's rating of a reply.
    Rating { Satisfied => "satisfied", BasicallySatisfied => "basically_satisfied", Dissatisfied => "dissatisfied" }
);

/// `CZ-2026-000042`: prefix, local year of receipt, sequence within the year.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackingNumber {
    pub prefix: String,
    pub year: i32,
    pub seq: i64,
}

impl TrackingNumber {
    pub fn new(prefix: &str, year: i32, seq: i64) -> Self {
        TrackingNumber { prefix: prefix.to_string(), year, seq }
    }

    /// Accepts surrounding blanks and lower case; anything else malformed is refused.
    pub fn parse(raw: &str) -> Option<TrackingNumber> {
        let s = raw.trim().to_ascii_uppercase();
        let mut parts = s.split('-');
        let (prefix, year, seq) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || prefix.is_empty()
            || prefix.len() > 8
            || !prefix.chars().all(|c| c.is_ascii_uppercase())
        {
            return None;
        }
        if year.len() != 4 || seq.len() < 6 || seq.len() > 9 {
            return None;
        }
        if !year.bytes().all(|b| b.is_ascii_digit()) || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seq: i64 = seq.parse().ok()?;
        let year: i32 = year.parse().ok()?;
        (seq > 0).then(|| TrackingNumber { prefix: prefix.to_string(), year, seq })
    }
}

impl std::fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{:06}", self.prefix, self.year, self.seq)
    }
}

/// Crockford base32 without I, L, O, U: readable over the phone.
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The investor's secret: 20 symbols of base32 = 100 bits, shown once as `ABCD-EFGH-…`.
/// Only its SHA-256 is stored: at this entropy a fast hash is as good as a slow one.
pub struct AccessCode(String);

impl AccessCode {
    pub fn generate() -> AccessCode {
        let mut rng = rand::rngs::OsRng;
        AccessCode((0..20).map(|_| CODE_ALPHABET[rng.gen_range(0..32)] as char).collect())
    }

    /// Groups of four for display.
    pub fn display(&self) -> String {
        self.0.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join("-")
    }

    pub fn hash(&self) -> String {
        hash_access_code(&self.0)
    }
}

/// Normalises what a person typed (case, blanks, dashes, look-alikes) and hashes it.
pub fn hash_access_code(typed: &str) -> String {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// A phone number: digits with `+`, spaces, dashes, dots and parentheses; 5–40 characters.
pub fn parse_phone(field: &str, raw: &str) -> Result<String, FieldError> {
    let v = raw.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || digits < 5 || v.chars().count() > 40 {
        return Err(FieldError::new(field, "invalid_phone", "digits, with + ( ) - . and spaces; 5 to 40 characters"));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tracking_numbers() {
        let n = TrackingNumber::new("CZ", 2026, 42);
        assert_eq!(n.to_string(), "CZ-2026-000042");
        assert_eq!(TrackingNumber::parse(" cz-2026-000042 "), Some(n));
        for bad in [
            "",
            "CZ-2026",
            "CZ-26-000042",
            "CZ-2026-42",
            "CZ-2026-000000",
            "C1-2026-000001",
            "CZ-2026-000001-1",
            "CZ-２０２６-000001",
        ] {
            assert_eq!(TrackingNumber::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn access_codes_tolerate_how_people_type() {
        let code = AccessCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 24);
        assert_eq!(hash_access_code(&shown), code.hash());
        assert_eq!(hash_access_code(&shown.to_lowercase().replace('-', " ")), code.hash());
        assert_ne!(hash_access_code("0000-0000-0000-0000-0000"), code.hash());
    }

    #[test]
    fn accept_language() {
        assert_eq!(Language::from_accept_language("fr-FR, en-GB;q=0.8, zh;q=0.5"), Some(Language::En));
        assert_eq!(Language::from_accept_language("zh-CN,zh;q=0.9"), Some(Language::Zh));
        assert_eq!(Language::from_accept_language("de"), None);
        for traditional in ["zh-TW", "zh-HK,zh;q=0.9", "zh-MO", "zh-Hant-TW", "zh-Hant", "fr;q=0.9, zh-tw"] {
            assert_eq!(Language::from_accept_language(traditional), Some(Language::ZhHant), "{traditional}");
        }
        assert_eq!(Language::from_accept_language("zh-Hans-CN"), Some(Language::Zh));
        assert_eq!(Language::from_accept_language("zh-SG"), Some(Language::Zh));
    }

    #[test]
    fn languages_are_sent_and_stored_as_their_tags() {
        for lang in Language::ALL {
            assert_eq!(Language::parse(lang.as_str()), Some(lang));
            assert_eq!(serde_json::to_value(lang).unwrap(), lang.as_str());
        }
        assert_eq!(serde_json::from_str::<Language>("\"zh-Hant\"").unwrap(), Language::ZhHant);
        assert!(serde_json::from_str::<Language>("\"zh_hant\"").is_err());
        assert_eq!(Language::ZhHant.for_staff(), Language::Zh);
    }

    proptest! {
        #[test]
        fn tracking_number_parse_never_panics_and_round_trips(s in "\\PC{0,30}") {
            if let Some(n) = TrackingNumber::parse(&s) {
                prop_assert_eq!(TrackingNumber::parse(&n.to_string()), Some(n));
            }
        }

        #[test]
        fn formatted_numbers_parse(year in 2000i32..2100, seq in 1i64..999_999_999) {
            let n = TrackingNumber::new("CZ", year, seq);
            prop_assert_eq!(TrackingNumber::parse(&n.to_string()), Some(n));
        }
    }
}
