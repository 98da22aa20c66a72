//! The model catalog in force: the built-in catalog (`builtin/*.toml`, compiled in) with the
//! operator's entries laid over it (a file named in the configuration, then entries stored
//! through `PUT /admin/models/...`). `Catalog::overlay` is the one merge; every reader (rule
//! checks, output shapes, usage specifications, aliases, default prices, the listing) reads
//! a `Catalog` value.

use std::sync::LazyLock;

use serde::Serialize;

use super::format::{
    AudioSpec, CatalogFile, DurationsSpec, LastFrameSpec, LastFrameWord, ModelSpec, PriceSpec,
    RulesSpec, SpecificationSpec, ValuesSpec, ValuesWord, VersionSpec,
};
use super::{Durations, LastFrame, Values, VersionRules};
use crate::pricing::PriceRule;

/// Where an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Shipped with this build.
    BuiltIn,
    /// The operator's catalog file or `PUT /admin/models/...`.
    Operator,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::BuiltIn => "built_in",
            Origin::Operator => "operator",
        }
    }
}

/// One version and where its entry comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionEntry {
    pub name: String,
    pub rules: VersionRules,
    pub as_of: String,
    pub source: String,
    pub origin: Origin,
}

/// One model's table.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTable {
    pub name: String,
    /// The date the table was last checked against the upstream's documentation.
    pub as_of: String,
    pub source: String,
    pub origin: Origin,
    /// The upstream's `SceneType` values this model takes (none: the field is refused).
    pub scene_types: Vec<String>,
    /// The limits the documentation gives the model as a whole: what a version the table
    /// does not list starts from, and is checked against when `rules.unknown_versions =
    /// "pass"`.
    pub family: VersionRules,
    pub versions: Vec<VersionEntry>,
}

impl ModelTable {
    pub fn version(&self, v: &str) -> Option<&VersionRules> {
        self.entry(v).map(|e| &e.rules)
    }

    pub fn entry(&self, v: &str) -> Option<&VersionEntry> {
        self.versions.iter().find(|e| e.name == v)
    }

    pub fn version_names(&self) -> Vec<&str> {
        self.versions.iter().map(|e| e.name.as_str()).collect()
    }
}

/// What picks a usage product besides model, version and resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Any,
    Silent,
    Sound,
    Plain,
    Reference,
    NoVideo,
    WithVideo,
    Scene(String),
}

impl Mode {
    fn parse(s: &str) -> Result<Mode, String> {
        Ok(match s {
            "any" => Mode::Any,
            "silent" => Mode::Silent,
            "sound" => Mode::Sound,
            "plain" => Mode::Plain,
            "reference" => Mode::Reference,
            "no_video" => Mode::NoVideo,
            "with_video" => Mode::WithVideo,
            other => match other.strip_prefix("scene:") {
                Some(scene) if !scene.is_empty() => Mode::Scene(scene.to_owned()),
                _ => {
                    return Err(format!(
                        "mode {other:?}: expected any, silent, sound, plain, reference, no_video, with_video or scene:<scene_type>"
                    ));
                }
            },
        })
    }
}

/// One usage product and what picks it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductRow {
    pub model: String,
    /// `None`: every version of the model.
    pub versions: Option<Vec<String>>,
    pub resolution: Option<String>,
    pub mode: Mode,
    pub product: String,
    pub off_peak: bool,
}

impl ProductRow {
    pub fn covers(&self, model: &str, version: &str) -> bool {
        self.model == model
            && self.versions.as_ref().is_none_or(|vs| vs.iter().any(|v| v == version))
    }
}

/// The catalog in force.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    pub models: Vec<ModelTable>,
    /// Product rows, the operator's first (the first row that fits a request names it).
    pub products: Vec<ProductRow>,
    /// Product names known not to be video requests.
    pub other_products: Vec<String>,
    /// Names besides the derived `<family>-<version>` ones, the operator's last.
    pub aliases: Vec<super::aliases::Alias>,
    /// Default price rows, the operator's first.
    pub prices: Vec<PriceRule>,
}

/// A catalog entry that cannot be used; the message names the entry and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CatalogError(pub String);

/// The built-in catalog's files (`builtin/`, one per model family), in the order they are
/// laid over each other.
const BUILT_IN_FILES: &[(&str, &str)] = &[
    ("common.toml", include_str!("builtin/common.toml")),
    ("kling.toml", include_str!("builtin/kling.toml")),
    ("hailuo.toml", include_str!("builtin/hailuo.toml")),
    ("vidu.toml", include_str!("builtin/vidu.toml")),
    ("gv.toml", include_str!("builtin/gv.toml")),
    ("os.toml", include_str!("builtin/os.toml")),
    ("pixverse.toml", include_str!("builtin/pixverse.toml")),
    ("hunyuan.toml", include_str!("builtin/hunyuan.toml")),
    ("mingmou.toml", include_str!("builtin/mingmou.toml")),
];

// Compiled-in data, not input: every test that reads a model (and CI) proves these files
// parse and apply, so a failure here is a broken build, said by name at the first use.
static BUILT_IN: LazyLock<Catalog> = LazyLock::new(|| {
    let mut catalog = Catalog::default();
    for (name, text) in BUILT_IN_FILES {
        let file = CatalogFile::parse(text, false)
            .unwrap_or_else(|e| panic!("models/builtin/{name} does not parse: {e}"));
        catalog = catalog
            .overlay(&file, Origin::BuiltIn)
            .unwrap_or_else(|e| panic!("models/builtin/{name} is not a valid catalog: {e}"));
    }
    catalog
});

impl Catalog {
    /// The catalog shipped with this build (a test proves it reads).
    pub fn built_in() -> &'static Catalog {
        &BUILT_IN
    }

    pub fn table(&self, model_name: &str) -> Option<&ModelTable> {
        self.models.iter().find(|t| t.name == model_name)
    }

    /// The rules for a model and version, if the catalog lists them.
    pub fn rules(&self, model_name: &str, model_version: &str) -> Option<&VersionRules> {
        self.table(model_name).and_then(|t| t.version(model_version))
    }

    /// The version's rules, or its model's family limits for a version the table does not
    /// list (what a passed unknown version is checked, quoted and shaped by).
    pub fn rules_or_family(&self, model_name: &str, model_version: &str) -> Option<&VersionRules> {
        self.table(model_name).map(|t| t.version(model_version).unwrap_or(&t.family))
    }

    /// This catalog with `file`'s entries laid over it: a model or version it names is
    /// patched (fields left out keep their value) or added; its products, prices and aliases
    /// come before (prices, products) or after (aliases) the ones it overrides.
    pub fn overlay(&self, file: &CatalogFile, origin: Origin) -> Result<Catalog, CatalogError> {
        let mut next = self.clone();
        let mut added = Added::default();
        for spec in &file.models {
            next.overlay_model(spec, origin, &mut added)?;
        }
        let Added { mut products, mut prices, aliases } = added;
        for name in &file.other_products {
            if !next.other_products.contains(name) {
                next.other_products.push(name.clone());
            }
        }
        products.extend(std::mem::take(&mut next.products));
        next.products = products;
        prices.extend(std::mem::take(&mut next.prices));
        next.prices = prices;
        next.aliases.extend(aliases);
        next.aliases.extend(file.aliases.iter().cloned());
        Ok(next)
    }

    fn overlay_model(
        &mut self,
        spec: &ModelSpec,
        origin: Origin,
        added: &mut Added,
    ) -> Result<(), CatalogError> {
        let name = spec.name.trim();
        if name.is_empty() {
            return Err(CatalogError("a model entry needs a name".into()));
        }
        let at = |what: &str| format!("model {name:?}: {what}");
        let index = match self.models.iter().position(|t| t.name == name) {
            Some(i) => i,
            None => {
                let (Some(as_of), Some(source)) = (&spec.as_of, &spec.source) else {
                    return Err(CatalogError(at("a new model needs as_of and source")));
                };
                self.models.push(ModelTable {
                    name: name.to_owned(),
                    as_of: as_of.clone(),
                    source: source.clone(),
                    origin,
                    scene_types: Vec::new(),
                    family: VersionRules::UNDOCUMENTED,
                    versions: Vec::new(),
                });
                self.models.len() - 1
            }
        };
        let table = &mut self.models[index];
        if let Some(as_of) = &spec.as_of {
            check_date(as_of).map_err(|e| CatalogError(at(&e)))?;
            table.as_of.clone_from(as_of);
        }
        if let Some(source) = &spec.source {
            table.source.clone_from(source);
        }
        if let Some(scenes) = &spec.scene_types {
            table.scene_types.clone_from(scenes);
        }
        if !spec.family.is_empty() || spec.as_of.is_some() {
            table.origin = origin;
        }
        table.family = apply(&table.family, &spec.family).map_err(|e| CatalogError(at(&e)))?;
        for v in &spec.versions {
            overlay_version(table, v, origin, added)?;
        }
        for row in &spec.specifications {
            added.products.push(product_row(name, row, None).map_err(|e| CatalogError(at(&e)))?);
        }
        for row in &spec.prices {
            added.prices.push(price_row(name, row, None));
        }
        Ok(())
    }
}

/// What an overlay's entries add besides models and versions.
#[derive(Default)]
struct Added {
    products: Vec<ProductRow>,
    prices: Vec<PriceRule>,
    aliases: Vec<super::aliases::Alias>,
}

fn overlay_version(
    table: &mut ModelTable,
    spec: &VersionSpec,
    origin: Origin,
    added: &mut Added,
) -> Result<(), CatalogError> {
    let name = spec.name.trim();
    let at = |what: &str| format!("{} version {name:?}: {what}", table.name);
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(CatalogError(format!(
            "{}: a version needs a name of 1 to 64 printable characters",
            table.name
        )));
    }
    if let Some(d) = &spec.as_of {
        check_date(d).map_err(|e| CatalogError(at(&e)))?;
    }
    let (base, as_of, source) = match table.entry(name) {
        Some(e) => (e.rules.clone(), e.as_of.clone(), e.source.clone()),
        None => (table.family.clone(), table.as_of.clone(), table.source.clone()),
    };
    let entry = VersionEntry {
        name: name.to_owned(),
        rules: apply(&base, &spec.rules).map_err(|e| CatalogError(at(&e)))?,
        as_of: spec.as_of.clone().unwrap_or(as_of),
        source: spec.source.clone().unwrap_or(source),
        origin,
    };
    match table.versions.iter_mut().find(|e| e.name == name) {
        Some(old) => *old = entry,
        None => table.versions.push(entry),
    }
    let model = table.name.clone();
    for row in &spec.specifications {
        let row = product_row(&model, row, Some(name)).map_err(|e| CatalogError(at(&e)))?;
        added.products.push(row);
    }
    for row in &spec.prices {
        added.prices.push(price_row(&model, row, Some(name)));
    }
    for alias in &spec.aliases {
        added.aliases.push(super::aliases::Alias {
            name: alias.clone(),
            model_name: model.clone(),
            model_version: name.to_owned(),
            scene_type: None,
        });
    }
    Ok(())
}

fn check_date(s: &str) -> Result<(), String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| format!("as_of {s:?} is not a date (YYYY-MM-DD)"))
}

fn product_row(
    model: &str,
    spec: &SpecificationSpec,
    version: Option<&str>,
) -> Result<ProductRow, String> {
    if spec.product.trim().is_empty() {
        return Err("a specification needs a product name".into());
    }
    Ok(ProductRow {
        model: model.to_owned(),
        versions: version.map(|v| vec![v.to_owned()]).or_else(|| spec.versions.clone()),
        resolution: spec.resolution.clone(),
        mode: Mode::parse(&spec.mode)?,
        product: spec.product.clone(),
        off_peak: spec.off_peak,
    })
}

fn price_row(model: &str, spec: &PriceSpec, version: Option<&str>) -> PriceRule {
    PriceRule {
        model: model.to_owned(),
        version: version.map(str::to_owned).or_else(|| spec.version.clone()),
        resolution: spec.resolution.clone(),
        audio: spec.audio,
        per_second: spec.per_second,
        per_request: spec.per_request,
        from: spec.from,
    }
}

/// `base` with the fields `spec` gives replaced, checked for sense.
fn apply(base: &VersionRules, spec: &RulesSpec) -> Result<VersionRules, String> {
    let mut r = base.clone();
    if let Some(d) = &spec.durations {
        r.durations = match d {
            DurationsSpec::OneOf(set)
                if set.is_empty() || set.iter().any(|s| !s.is_finite() || *s <= 0.0) =>
            {
                return Err("durations must be positive seconds".into());
            }
            DurationsSpec::OneOf(set) => Durations::OneOf(set.clone()),
            DurationsSpec::Whole { min, max } if min > max || *min == 0 => {
                return Err(format!(
                    "durations {{ min = {min}, max = {max} }} is not a range of whole seconds"
                ));
            }
            DurationsSpec::Whole { min, max } => Durations::Whole { min: *min, max: *max },
            DurationsSpec::Word(_) => Durations::Undocumented,
        };
    }
    if let Some(d) = spec.default_duration {
        r.default_duration = Some(d).filter(|d| *d > 0.0);
        if r.default_duration.is_none() {
            return Err("default_duration must be positive".into());
        }
    }
    let values = |v: &ValuesSpec| match v {
        ValuesSpec::OneOf(set) => Values::OneOf(set.clone()),
        ValuesSpec::Word(ValuesWord::NotSupported) => Values::NotSupported,
        ValuesSpec::Word(ValuesWord::Undocumented) => Values::Undocumented,
    };
    if let Some(v) = &spec.resolutions {
        r.resolutions = values(v);
    }
    if let Some(v) = &spec.default_resolution {
        r.default_resolution = Some(v.clone());
    }
    if let Some(v) = &spec.aspect_ratios {
        r.aspect_ratios = values(v);
    }
    if let Some(v) = &spec.default_aspect_ratio {
        r.default_aspect_ratio = Some(v.clone());
    }
    if let Some(l) = &spec.last_frame {
        r.last_frame = match l {
            LastFrameSpec::Word(LastFrameWord::Supported) => LastFrame::Supported,
            LastFrameSpec::Word(LastFrameWord::NotSupported) => LastFrame::NotSupported,
            LastFrameSpec::Word(LastFrameWord::WithOneImage) => LastFrame::WithOneImage,
            LastFrameSpec::At { only_at_resolution } => {
                LastFrame::OnlyAtResolution(only_at_resolution.clone())
            }
        };
    }
    if let Some(n) = spec.max_images {
        r.max_images = n;
    }
    if let Some(a) = spec.audio {
        r.audio = match a {
            AudioSpec::Known(b) => Some(b),
            AudioSpec::Word(_) => None,
        };
    }
    Ok(r)
}
