//! The pages' text in Chinese and English, and in traditional Chinese for the pages investors
//! and voters read. Each page group keeps its own catalogue file (`src/pages/text/<group>.toml`,
//! tables of `key = { zh = "…", en = "…" }`); every entry must carry both languages, and
//! templates ask for text with `t("group.key")`. The groups an investor or voter reads also have
//! `<group>.zh-Hant.toml`: the same tables and keys, each value the traditional-Chinese text —
//! a key missing there, or there and not in the group, stops the start. Staff pages are zh/en:
//! a traditional-Chinese reader of a staff group gets its zh text.

use std::collections::HashMap;

use crate::complaints::model::Language;

/// The shipped catalogues, by group name (the first part of every key).
const CATALOGUES: &[(&str, &str)] = &[
    ("common", include_str!("text/common.toml")),
    ("investor", include_str!("text/investor.toml")),
    ("signin", include_str!("text/signin.toml")),
    ("vote", include_str!("text/vote.toml")),
    ("staff", include_str!("text/staff.toml")),
    ("commission", include_str!("text/commission.toml")),
];

/// The traditional-Chinese text of the groups investors and voters read.
const TRADITIONAL: &[(&str, &str)] = &[
    ("common", include_str!("text/common.zh-Hant.toml")),
    ("investor", include_str!("text/investor.zh-Hant.toml")),
    ("vote", include_str!("text/vote.zh-Hant.toml")),
];

/// A page text catalogue that does not hold: the key at fault and what is wrong with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("page text {key}: {problem}")]
pub struct CatalogueError {
    key: String,
    problem: String,
}

#[derive(Debug, Default)]
pub struct Catalogue {
    texts: HashMap<String, [String; 2]>,
    traditional: HashMap<String, String>,
}

impl Catalogue {
    pub fn shipped() -> Result<Catalogue, CatalogueError> {
        let mut catalogue = Catalogue::default();
        for (group, source) in CATALOGUES {
            catalogue.add(group, source)?;
        }
        for (group, source) in TRADITIONAL {
            catalogue.add_traditional(group, source)?;
        }
        Ok(catalogue)
    }

    /// Adds a group's traditional-Chinese text; it must give every key of the group, and no other.
    fn add_traditional(&mut self, group: &str, source: &str) -> Result<(), CatalogueError> {
        let table: toml::Table = toml::from_str(source)
            .map_err(|e| CatalogueError { key: format!("{group} (zh-Hant)"), problem: e.to_string() })?;
        let mut found = HashMap::new();
        collect_strings(group, &table, &mut found)?;
        let prefix = format!("{group}.");
        for key in self.texts.keys().filter(|k| k.starts_with(&prefix)) {
            if !found.contains_key(key) {
                return Err(CatalogueError { key: key.clone(), problem: "has no zh-Hant text".into() });
            }
        }
        for (key, text) in found {
            if !self.texts.contains_key(&key) {
                return Err(CatalogueError { key, problem: "zh-Hant text for a key the group does not have".into() });
            }
            self.traditional.insert(key, text);
        }
        Ok(())
    }

    fn add(&mut self, group: &str, source: &str) -> Result<(), CatalogueError> {
        let table: toml::Table =
            toml::from_str(source).map_err(|e| CatalogueError { key: group.to_string(), problem: e.to_string() })?;
        self.add_table(group, &table)
    }

    fn add_table(&mut self, prefix: &str, table: &toml::Table) -> Result<(), CatalogueError> {
        for (key, value) in table {
            let full = format!("{prefix}.{key}");
            let Some(inner) = value.as_table() else {
                return Err(CatalogueError {
                    key: full,
                    problem: "expected { zh = \"…\", en = \"…\" } or a table".into(),
                });
            };
            let is_entry = inner.contains_key("zh") || inner.contains_key("en");
            if !is_entry {
                self.add_table(&full, inner)?;
                continue;
            }
            let text = |lang: &str| {
                inner.get(lang).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty()).map(str::to_string)
            };
            match (text("zh"), text("en"), inner.len()) {
                (Some(zh), Some(en), 2) => {
                    if self.texts.insert(full.clone(), [zh, en]).is_some() {
                        return Err(CatalogueError { key: full, problem: "defined twice".into() });
                    }
                }
                _ => return Err(CatalogueError { key: full, problem: "needs exactly a non-empty zh and en".into() }),
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str, lang: Language) -> Option<&str> {
        let both = self.texts.get(key)?;
        Some(match lang {
            Language::Zh => both[0].as_str(),
            Language::ZhHant => self.traditional.get(key).unwrap_or(&both[0]).as_str(),
            Language::En => both[1].as_str(),
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }
}

/// The non-empty strings of a zh-Hant table, by full key.
fn collect_strings(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) -> Result<(), CatalogueError> {
    for (key, value) in table {
        let full = format!("{prefix}.{key}");
        match value {
            toml::Value::String(s) if !s.trim().is_empty() => {
                out.insert(full, s.clone());
            }
            toml::Value::Table(inner) => collect_strings(&full, inner, out)?,
            _ => return Err(CatalogueError { key: full, problem: "zh-Hant text must be a non-empty string".into() }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_both_languages_and_a_broken_one_is_named() {
        let shipped = Catalogue::shipped().expect("shipped catalogue parses");
        assert!(shipped.get("common.brand", Language::En).is_some());
        let mut c = Catalogue::default();
        let err = c.add("x", "[a]\nb = { zh = \"乙\" }\n").unwrap_err().to_string();
        assert!(err.contains("x.a.b"), "{err}");
        let err = c.add("x", "b = { zh = \"乙\", en = \"\" }\n").unwrap_err().to_string();
        assert!(err.contains("x.b"), "{err}");
        c.add("y", "[a]\nb = { zh = \"乙\", en = \"B\" }\n").unwrap();
        assert_eq!(c.get("y.a.b", Language::Zh), Some("乙"));
        assert_eq!(c.get("y.a.b", Language::En), Some("B"));
    }

    #[test]
    fn investor_and_voter_groups_have_every_key_in_traditional_chinese_and_staff_groups_fall_back_to_zh() {
        let shipped = Catalogue::shipped().expect("shipped catalogue parses");
        assert_eq!(shipped.get("investor.tracking_number", Language::ZhHant), Some("投訴編號"));
        assert_eq!(shipped.get("investor.tracking_number", Language::Zh), Some("投诉编号"));
        let staff_key = shipped.keys().find(|k| k.starts_with("staff.")).unwrap().to_string();
        assert_eq!(shipped.get(&staff_key, Language::ZhHant), shipped.get(&staff_key, Language::Zh));

        let mut c = Catalogue::default();
        c.add("y", "a = { zh = \"甲\", en = \"A\" }\nb = { zh = \"乙\", en = \"B\" }\n").unwrap();
        let missing = c.add_traditional("y", "a = \"甲\"\n").unwrap_err().to_string();
        assert!(missing.contains("y.b") && missing.contains("no zh-Hant"), "{missing}");
        let extra = c.add_traditional("y", "a = \"甲\"\nb = \"乙\"\nc = \"丙\"\n").unwrap_err().to_string();
        assert!(extra.contains("y.c"), "{extra}");
    }
}
