//! Model aliases: the short names clients written for other gateways send (`kling-2.1`,
//! `vidu-q2`, `veo-3.1`), each standing for an upstream model, version and, where one
//! applies, scene type. Defaults are derived from the catalog (so a new version gets its
//! alias) plus the names the catalog lists; configuration adds or overrides names.

use serde::{Deserialize, Serialize};

use super::Catalog;

/// One name and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    /// The name clients send (`model` in OpenAI's API; `model` or `model_name` in fal's).
    pub name: String,
    pub model_name: String,
    pub model_version: String,
    /// The upstream's `SceneType` this alias implies (Kling `motion_control`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_type: Option<String>,
}

/// A configured alias that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error(
        "alias name {0:?} must be 1 to 64 characters of a-z, 0-9, '.', '-' or '_' (lower case)"
    )]
    BadName(String),
    #[error("alias {0:?} is configured twice")]
    Duplicate(String),
    #[error("alias {name:?} needs a model_name and a model_version")]
    Incomplete { name: String },
}

/// Every alias this gateway knows, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AliasCatalog {
    /// Sorted by name.
    aliases: Vec<Alias>,
}

/// The family name a model's aliases start with: the upstream's own names, but Google's and
/// OpenAI's models under the names their users know them by.
fn family(model_name: &str) -> String {
    match model_name {
        "GV" => "veo".to_owned(),
        "OS" => "sora".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl AliasCatalog {
    /// `<family>-<version>` for every model and version of the catalog (`kling-2.1`,
    /// `hailuo-02`, `vidu-q2-pro`, `veo-3.1`, `sora-2.0`, `pixverse-v5.6`), then the names
    /// the catalog lists (OpenAI's `sora-2`; an operator's), which win over a derived one.
    pub fn defaults(models: &Catalog) -> Self {
        let derived = models.models.iter().flat_map(|t| {
            t.versions.iter().map(|e| Alias {
                name: format!("{}-{}", family(&t.name), e.name.to_ascii_lowercase()),
                model_name: t.name.clone(),
                model_version: e.name.clone(),
                scene_type: None,
            })
        });
        let mut aliases: Vec<Alias> = Vec::new();
        for a in derived.chain(models.aliases.iter().cloned()).filter(|a| valid_name(&a.name)) {
            aliases.retain(|old| old.name != a.name);
            aliases.push(a);
        }
        aliases.sort_by(|a, b| a.name.cmp(&b.name));
        AliasCatalog { aliases }
    }

    /// The catalog's names (when `with_defaults`) plus `configured`, which override one of the
    /// same name; a configured name twice, or one that is not a clean lower-case token, is
    /// refused.
    pub fn build(
        models: &Catalog,
        with_defaults: bool,
        configured: &[Alias],
    ) -> Result<Self, AliasError> {
        let mut catalog = if with_defaults { Self::defaults(models) } else { Self::default() };
        let mut seen = std::collections::HashSet::new();
        for alias in configured {
            if !valid_name(&alias.name) {
                return Err(AliasError::BadName(alias.name.clone()));
            }
            if alias.model_name.trim().is_empty() || alias.model_version.trim().is_empty() {
                return Err(AliasError::Incomplete { name: alias.name.clone() });
            }
            if !seen.insert(alias.name.as_str()) {
                return Err(AliasError::Duplicate(alias.name.clone()));
            }
            catalog.aliases.retain(|a| a.name != alias.name);
            catalog.aliases.push(alias.clone());
        }
        catalog.aliases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(catalog)
    }

    /// The alias of this name (names are matched ignoring ASCII case).
    pub fn resolve(&self, name: &str) -> Option<&Alias> {
        let name = name.trim().to_ascii_lowercase();
        self.aliases.binary_search_by(|a| a.name.as_str().cmp(&name)).ok().map(|i| &self.aliases[i])
    }

    /// The alias clients see for a model and version: the first name standing for exactly
    /// them (no scene type), if any.
    pub fn name_of(&self, model_name: &str, model_version: &str) -> Option<&str> {
        self.aliases
            .iter()
            .find(|a| {
                a.model_name == model_name
                    && a.model_version == model_version
                    && a.scene_type.is_none()
            })
            .map(|a| a.name.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Alias> {
        self.aliases.iter()
    }

    pub fn len(&self) -> usize {
        self.aliases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.aliases.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(name: &str, model: &str, version: &str) -> Alias {
        Alias {
            name: name.into(),
            model_name: model.into(),
            model_version: version.into(),
            scene_type: None,
        }
    }

    #[test]
    fn defaults_cover_every_model_version_of_the_catalog() {
        let catalog = AliasCatalog::defaults(Catalog::built_in());
        for table in &Catalog::built_in().models {
            for e in &table.versions {
                let name = catalog.name_of(&table.name, &e.name).expect("an alias for each");
                let a = catalog.resolve(name).unwrap();
                assert_eq!((&a.model_name, &a.model_version), (&table.name, &e.name));
            }
        }
        for (name, model, version) in [
            ("kling-2.1", "Kling", "2.1"),
            ("hailuo-02", "Hailuo", "02"),
            ("vidu-q2", "Vidu", "q2"),
            ("veo-3.1", "GV", "3.1"),
            ("sora-2.0", "OS", "2.0"),
            ("kling-3.0-omni", "Kling", "3.0-Omni"),
            ("sora-2", "OS", "2.0"),
        ] {
            let a = catalog.resolve(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((a.model_name.as_str(), a.model_version.as_str()), (model, version));
        }
        assert_eq!(catalog.resolve("KLING-2.1").unwrap().model_version, "2.1");
        assert!(catalog.resolve("kling-9").is_none());
    }

    #[test]
    fn configured_aliases_add_and_override_and_bad_ones_are_refused() {
        let mut motion = alias("kling-motion", "Kling", "2.6");
        motion.scene_type = Some("motion_control".into());
        let c = Catalog::built_in();
        let catalog =
            AliasCatalog::build(c, true, &[motion.clone(), alias("veo-3.1", "GV", "3.1-fast")])
                .unwrap();
        assert_eq!(catalog.resolve("kling-motion"), Some(&motion));
        assert_eq!(catalog.resolve("veo-3.1").unwrap().model_version, "3.1-fast");
        assert_eq!(catalog.len(), AliasCatalog::defaults(c).len() + 1);

        let only = AliasCatalog::build(c, false, &[alias("mine", "Kling", "2.1")]).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(
            AliasCatalog::build(c, false, &[alias("Mine", "Kling", "2.1")]),
            Err(AliasError::BadName("Mine".into()))
        );
        assert_eq!(
            AliasCatalog::build(
                c,
                false,
                &[alias("a", "Kling", "2.1"), alias("a", "Kling", "2.0")]
            ),
            Err(AliasError::Duplicate("a".into()))
        );
        assert_eq!(
            AliasCatalog::build(c, false, &[alias("a", "Kling", " ")]),
            Err(AliasError::Incomplete { name: "a".into() })
        );
    }
}
