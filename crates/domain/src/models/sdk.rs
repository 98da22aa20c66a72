//! What the official SDK says the upstream sells, read from its own field documentation
//! (`tencentcloud/vod/v20180717/models.py` of `tencentcloud-sdk-python-vod`): the model
//! versions and `SceneType` values of `CreateAigcVideoTaskRequest` and the `Specification`
//! names of `AigcUsageDataItem`. `drift` names everything the SDK lists that vidgate's catalog
//! lacks, so bumping the pinned SDK makes a test (and `vidgate models check`) say what changed.

use std::collections::BTreeMap;

use super::Catalog;

/// The SDK's lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdkCatalog {
    /// Model name → its versions, in the SDK's order.
    pub versions: BTreeMap<String, Vec<String>>,
    /// Model name → its `SceneType` values.
    pub scene_types: BTreeMap<String, Vec<String>>,
    /// Every `Specification` name of the usage data.
    pub specifications: Vec<String>,
}

/// The documentation of field `name` in class `class` (its `:param _Name:` line).
fn param_doc<'a>(src: &'a str, class: &str, name: &str) -> Result<&'a str, String> {
    let start = src
        .find(&format!("class {class}("))
        .ok_or_else(|| format!("the SDK file has no class {class}"))?;
    let body = &src[start..];
    let marker = format!(":param _{name}:");
    let at = body.find(&marker).ok_or_else(|| format!("{class} documents no field {name}"))?;
    let doc = &body[at + marker.len()..];
    Ok(doc.lines().next().unwrap_or("").trim())
}

/// The text between `after` and the next of `ends`.
fn until<'a>(s: &'a str, ends: &[&str]) -> &'a str {
    let end = ends.iter().filter_map(|e| s.find(e)).min().unwrap_or(s.len());
    &s[..end]
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-&".contains(&b))
}

impl SdkCatalog {
    /// Reads the SDK's `models.py`. Fails, naming what it could not find, when the file does
    /// not document the lists the way 3.1.x does (a format change is a difference too).
    pub fn parse(src: &str) -> Result<SdkCatalog, String> {
        let mut catalog = SdkCatalog::default();
        // "当 ModelName 是 Kling，可选值为 1.6、2.0、…；"
        let doc = param_doc(src, "CreateAigcVideoTaskRequest", "ModelVersion")?;
        for part in doc.split("当 ModelName 是").skip(1) {
            let (model, rest) = part.split_once('，').ok_or("a ModelVersion entry has no '，'")?;
            let values = rest.split_once("可选值为").map(|(_, v)| v).unwrap_or(rest);
            let values = until(values, &["；", "<", ";"]);
            let versions: Vec<String> = values
                .split('、')
                .map(str::trim)
                .filter(|v| is_token(v))
                .map(str::to_owned)
                .collect();
            if versions.is_empty() {
                return Err(format!("no versions listed for {}", model.trim()));
            }
            catalog.versions.insert(model.trim().to_owned(), versions);
        }
        if catalog.versions.is_empty() {
            return Err("CreateAigcVideoTaskRequest.ModelVersion lists no versions".into());
        }
        // "当 ModelName 为 Kling 时：    motion_control 表示动作控制；    avatar_i2v 表示…"
        let doc = param_doc(src, "CreateAigcVideoTaskRequest", "SceneType")?;
        for part in doc.split("当 ModelName 为").skip(1) {
            let (model, rest) = part.split_once('时').ok_or("a SceneType entry has no '时'")?;
            let rest = until(rest, &["</li>"]);
            let scenes: Vec<String> = rest
                .split("表示")
                .filter_map(|chunk| chunk.split_whitespace().last())
                .map(|t| t.trim_start_matches('：').trim_start_matches('；'))
                .filter(|t| is_token(t) && t.contains(|c: char| c.is_ascii_lowercase()))
                .map(str::to_owned)
                .collect();
            catalog.scene_types.insert(model.trim().to_owned(), scenes);
        }
        // "<li>Qwen2.0</li><li>Hunyuan3.0_1K</li>…"
        let doc = param_doc(src, "AigcUsageDataItem", "Specification")?;
        for item in doc.split("<li>").skip(1) {
            let name = until(item, &["</li>"]).trim().replace("&amp;", "&");
            if !catalog.specifications.contains(&name) {
                catalog.specifications.push(name);
            }
        }
        if catalog.specifications.is_empty() {
            return Err("AigcUsageDataItem.Specification lists no names".into());
        }
        Ok(catalog)
    }
}

/// Everything `sdk` lists that `catalog` lacks, one line each.
pub fn drift(sdk: &SdkCatalog, catalog: &Catalog) -> Vec<String> {
    let mut missing = Vec::new();
    for (model, versions) in &sdk.versions {
        let Some(table) = catalog.table(model) else {
            missing.push(format!("model {model} (the SDK lists versions {})", versions.join(", ")));
            continue;
        };
        for v in versions {
            if table.version(v).is_none() {
                missing.push(format!("{model} version {v}"));
            }
        }
    }
    for (model, scenes) in &sdk.scene_types {
        let known = catalog.table(model).map_or(&[][..], |t| t.scene_types.as_slice());
        for s in scenes {
            if !known.contains(s) {
                missing.push(format!("{model} scene type {s}"));
            }
        }
    }
    for name in &sdk.specifications {
        if !catalog.is_known_product(name) {
            missing.push(format!("usage specification {name}"));
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of SDK 3.1.194's documentation, cut down.
    const SAMPLE: &str = r#"
class CreateAigcVideoTaskRequest(AbstractModel):
        :param _ModelVersion: <p>模型版本。取值：<br>当 ModelName 是 Hailuo，可选值为 02、2.3、H3-Max；<br>当 ModelName 是 Kling，可选值为 2.1、scene；</p>
        :type ModelVersion: str
        :param _SceneType: <p>场景类型。取值如下：</p><li>当 ModelName 为 Kling 时：    motion_control 表示动作控制；    avatar_i2v 表示数字人；    lip_sync 表示对口型；</li><li>当 ModelName 为 Vidu 时：    template_effect 表示特效模板；</li><li>其他 ModelName 暂不支持。</li>
class AigcUsageDataItem(AbstractModel):
        :param _Specification: <p>AIGC规格。<br>取值有：</p><li>Kling2.0&amp;2.1std_720P</li><li>ViduQ2_720P</li><li>unknown</li>
"#;

    #[test]
    fn the_sdk_documentation_is_read_into_its_lists() {
        let c = SdkCatalog::parse(SAMPLE).expect("the sample parses");
        assert_eq!(c.versions["Hailuo"], ["02", "2.3", "H3-Max"]);
        assert_eq!(c.versions["Kling"], ["2.1", "scene"]);
        assert_eq!(c.scene_types["Kling"], ["motion_control", "avatar_i2v", "lip_sync"]);
        assert_eq!(c.scene_types["Vidu"], ["template_effect"]);
        assert_eq!(c.specifications, ["Kling2.0&2.1std_720P", "ViduQ2_720P", "unknown"]);
        let drift = drift(&c, Catalog::built_in());
        assert!(drift.is_empty(), "{drift:?}");
    }

    #[test]
    fn drift_names_each_thing_the_catalog_lacks() {
        let mut c = SdkCatalog::parse(SAMPLE).expect("the sample parses");
        c.versions.get_mut("Kling").expect("the sample lists Kling").push("9.9-new".into());
        c.versions.insert("Jimeng".into(), vec!["1.0".into()]);
        c.scene_types.get_mut("Vidu").expect("the sample lists Vidu scenes").push("dance".into());
        c.specifications.push("Kling9.9_8K".into());
        assert_eq!(
            drift(&c, Catalog::built_in()),
            [
                "model Jimeng (the SDK lists versions 1.0)",
                "Kling version 9.9-new",
                "Vidu scene type dance",
                "usage specification Kling9.9_8K",
            ]
        );
    }

    /// A catalog with one version removed fails against the same SDK, naming the version.
    #[test]
    fn a_catalog_missing_one_version_is_caught() {
        let sdk = SdkCatalog::parse(SAMPLE).expect("the sample parses");
        let mut cut = Catalog::built_in().clone();
        let kling = cut.models.iter_mut().find(|t| t.name == "Kling").expect("Kling is listed");
        kling.versions.retain(|e| e.name != "scene");
        assert_eq!(drift(&sdk, &cut), ["Kling version scene"]);
        assert!(drift(&sdk, Catalog::built_in()).is_empty());
    }

    #[test]
    fn a_file_that_is_not_the_sdk_is_refused_by_name() {
        let err = SdkCatalog::parse("print('hi')").unwrap_err();
        assert!(err.contains("CreateAigcVideoTaskRequest"), "{err}");
    }
}
