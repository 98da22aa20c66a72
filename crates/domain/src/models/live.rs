//! The models in force in a running process: the catalog (built in, the operator's file, the
//! operator's stored entries), and the aliases and price table derived from it, swapped as
//! one snapshot when an operator changes an entry, so a request is read, shaped and priced
//! by one consistent catalog and nothing restarts.

use std::sync::{Arc, RwLock};

use super::aliases::{Alias, AliasCatalog};
use super::catalog::{Catalog, CatalogError, Origin};
use super::format::CatalogFile;
use crate::pricing::{PriceRule, PriceTable};

/// One consistent view of the models.
#[derive(Debug, Clone, PartialEq)]
pub struct Models {
    pub catalog: Arc<Catalog>,
    pub aliases: AliasCatalog,
    pub prices: PriceTable,
}

/// What the configuration says about models: the operator's file, and the aliases and prices
/// configured beside the catalog's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelsSetup {
    /// The file named by `rules.catalog`, read at start.
    pub file: Option<CatalogFile>,
    /// Serve the catalog's aliases (`rules.default_aliases`).
    pub default_aliases: bool,
    /// `[[rules.aliases]]`: win over the catalog's.
    pub aliases: Vec<Alias>,
    /// Use the catalog's default prices (`accounting.default_prices`).
    pub default_prices: bool,
    /// `[[accounting.prices]]`: win over the catalog's.
    pub prices: Vec<PriceRule>,
}

/// A stored entry that could not be laid over the catalog (it is skipped, not fatal: the
/// others still apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub problem: String,
}

impl ModelsSetup {
    /// The built-in catalog with the file laid over it: what stored entries go on top of.
    pub fn base(&self) -> Result<Catalog, CatalogError> {
        match &self.file {
            Some(f) => Catalog::built_in().overlay(f, Origin::Operator),
            None => Ok(Catalog::built_in().clone()),
        }
    }

    /// The models with `stored` entries (path, fragment) laid over the base in order; an
    /// entry that does not apply is skipped and named.
    pub fn build(
        &self,
        stored: &[(String, CatalogFile)],
    ) -> Result<(Models, Vec<Skipped>), CatalogError> {
        let mut catalog = self.base()?;
        let mut skipped = Vec::new();
        for (path, file) in stored {
            match catalog.overlay(file, Origin::Operator) {
                Ok(next) => catalog = next,
                Err(e) => skipped.push(Skipped { path: path.clone(), problem: e.0 }),
            }
        }
        Ok((self.derive(catalog)?, skipped))
    }

    /// The aliases and prices of `catalog` under this setup.
    pub fn derive(&self, catalog: Catalog) -> Result<Models, CatalogError> {
        let aliases = AliasCatalog::build(&catalog, self.default_aliases, &self.aliases)
            .map_err(|e| CatalogError(e.to_string()))?;
        let prices = PriceTable::new(&catalog, self.prices.clone(), self.default_prices);
        Ok(Models { catalog: Arc::new(catalog), aliases, prices })
    }
}

/// The snapshot in force, swapped whole.
#[derive(Debug)]
pub struct LiveModels {
    setup: ModelsSetup,
    current: RwLock<Arc<Models>>,
}

impl LiveModels {
    /// The setup's models with no stored entries yet.
    pub fn new(setup: ModelsSetup) -> Result<LiveModels, CatalogError> {
        let (models, _) = setup.build(&[])?;
        Ok(LiveModels { setup, current: RwLock::new(Arc::new(models)) })
    }

    /// The built-in catalog and defaults only (tests, tools).
    pub fn built_in() -> LiveModels {
        let setup =
            ModelsSetup { default_aliases: true, default_prices: true, ..Default::default() };
        let models = Models {
            catalog: Arc::new(Catalog::built_in().clone()),
            aliases: AliasCatalog::defaults(Catalog::built_in()),
            prices: PriceTable::new(Catalog::built_in(), Vec::new(), true),
        };
        LiveModels { setup, current: RwLock::new(Arc::new(models)) }
    }

    pub fn setup(&self) -> &ModelsSetup {
        &self.setup
    }

    /// The snapshot in force.
    pub fn current(&self) -> Arc<Models> {
        match self.current.read() {
            Ok(g) => g.clone(),
            // A writer panicked mid-swap: the Arc inside is still whole.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds from `stored` and puts the result in force; the entries skipped are returned.
    pub fn apply(&self, stored: &[(String, CatalogFile)]) -> Result<Vec<Skipped>, CatalogError> {
        let (models, skipped) = self.setup.build(stored)?;
        let next = Arc::new(models);
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParseOptions, parse_create_request};
    use serde_json::json;

    fn fragment(text: &str) -> CatalogFile {
        CatalogFile::parse(text, false).expect("the fragment parses")
    }

    /// A made-up version laid over the built-in catalog is checked by its own rules, gets a
    /// derived alias and its own price, and says it is the operator's; dropping the entry
    /// takes it away again.
    #[test]
    fn an_operator_version_is_checked_aliased_and_priced_and_can_be_taken_back() {
        let live = LiveModels::new(ModelsSetup {
            default_aliases: true,
            default_prices: true,
            ..Default::default()
        })
        .expect("the built-in catalog builds");
        let entry = fragment(
            r#"
            [[models]]
            name = "Kling"
            [[models.versions]]
            name = "9.0-test"
            as_of = "2026-12-07"
            source = "operator test"
            rules = { durations = { min = 2, max = 20 } }
            aliases = ["kling-nine"]
            [[models.versions.prices]]
            per_second = 2.5
            from = "2026-01-01"
            "#,
        );
        live.apply(&[("Kling/9.0-test".into(), entry)]).expect("it applies");
        let m = live.current();
        let table = m.catalog.table("Kling").expect("Kling");
        let e = table.entry("9.0-test").expect("the new version");
        assert_eq!((e.origin, e.as_of.as_str()), (Origin::Operator, "2026-12-07"));
        assert_eq!(e.rules.resolutions, table.family.resolutions, "inherited from the family");
        assert_eq!(table.entry("2.1").map(|e| e.origin), Some(Origin::BuiltIn));
        for name in ["kling-9.0-test", "kling-nine"] {
            let a = m.aliases.resolve(name).unwrap_or_else(|| panic!("alias {name}"));
            assert_eq!(a.model_version, "9.0-test");
        }
        let opts = ParseOptions::default().with_catalog(m.catalog.clone());
        let body = |d: u32| json!({"model_name": "Kling", "model_version": "9.0-test", "prompt": "p", "output_config": {"duration": d}});
        let req = parse_create_request(&body(20), &opts).expect("20 s is within its own rules");
        let q = crate::pricing::estimate(&m.catalog, &req, &m.prices, 1_796_299_200_000)
            .expect("priced");
        assert_eq!(q.amount.to_string(), "50", "its own price row: 20 s x 2.5");
        let err = parse_create_request(&body(21), &opts).unwrap_err();
        assert_eq!(err[0].path(), "body.output_config.duration");
        live.apply(&[]).expect("it applies");
        let opts = ParseOptions::default().with_catalog(live.current().catalog.clone());
        assert!(parse_create_request(&body(10), &opts).is_err(), "gone with its entry");
    }

    /// The README's example catalog file parses and applies: the new Kling version with its
    /// product, price and alias; the new model with its family limits.
    #[test]
    fn the_readme_example_file_applies() {
        let readme = include_str!("../../../../README.md");
        let start = readme.find("```toml\n# A version the upstream shipped").expect("the example");
        let body = &readme[start + "```toml\n".len()..];
        let example = &body[..body.find("```").expect("the example ends")];
        let live = LiveModels::built_in();
        live.apply(&[("example".into(), fragment(example))]).expect("it applies");
        let m = live.current();
        assert!(m.catalog.rules("Kling", "3.5").is_some());
        // Its own product first, then the ones every Kling version can bill under (avatar).
        assert_eq!(m.catalog.products("Kling", "3.5")[0], "Kling3.5_720P");
        assert!(m.aliases.resolve("kling-latest").is_some());
        let jimeng = m.catalog.table("Jimeng").expect("the new model");
        assert_eq!(jimeng.family.audio, Some(false));
        assert_eq!(jimeng.entry("1.0").map(|e| e.rules.max_images), Some(1));
    }

    /// A bad stored entry is skipped and named; the rest of the catalog stays in force.
    #[test]
    fn an_entry_that_cannot_apply_is_skipped_and_named() {
        let live = LiveModels::built_in();
        let bad = fragment("[[models]]\nname = \"Jimeng\"\n");
        let good = fragment("[[models]]\nname = \"Vidu\"\n[[models.versions]]\nname = \"q9\"\n");
        let skipped = live
            .apply(&[("Jimeng".into(), bad), ("Vidu/q9".into(), good)])
            .expect("the base builds");
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].path, "Jimeng");
        assert!(skipped[0].problem.contains("as_of and source"), "{skipped:?}");
        assert!(live.current().catalog.rules("Vidu", "q9").is_some());
    }
}
