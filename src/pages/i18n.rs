//! The pages' text in Chinese and English. Each page group keeps its own catalogue file
//! (`src/pages/text/<group>.toml`, tables of `key = { zh = "…", en = "…" }`); every entry must
//! carry both languages, and templates ask for text with `t("group.key")`.

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
}

impl Catalogue {
    pub fn shipped() -> Result<Catalogue, CatalogueError> {
        let mut catalogue = Catalogue::default();
        for (group, source) in CATALOGUES {
            catalogue.add(group, source)?;
        }
        Ok(catalogue)
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
        self.texts.get(key).map(|both| match lang {
            Language::Zh => both[0].as_str(),
            Language::En => both[1].as_str(),
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }
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
}
