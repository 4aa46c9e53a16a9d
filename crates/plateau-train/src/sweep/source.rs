//! A config's `dataset`: a registry name (`dataset = "fashion-mnist"`), or a dataset of one's
//! own named by where it lies:
//!
//! ```toml
//! dataset = { folder = "data/flowers" }                       # root/<class>/<image>.png|jpg
//! dataset = { idx = { images = "x.idx", labels = "y.idx" } }
//! dataset = { cifar = "data/cifar-10-batches-bin" }
//! dataset = { npz = "data/set.npz", test = { npz = "data/test.npz" } }
//! dataset = { safetensors = "data/set.safetensors" }
//! ```
//!
//! Relative paths are relative to the config file. A registry name serialises as the plain
//! string it always was, so run ids of configs that name registry sets do not change.

use std::path::{Path, PathBuf};

use plateau_data::OwnSource;
use serde::{Deserialize, Deserializer, Serialize};

/// Where a sweep's (or a task's) images come from.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum DatasetSource {
    /// A dataset plateau knows by name (`plateau datasets list`).
    Named(String),
    Own(OwnDataset),
}

/// A dataset of one's own: exactly one of its sources, and an optional test set of the same kinds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OwnDataset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idx: Option<IdxFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cifar: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npz: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safetensors: Option<PathBuf>,
    /// The test images (otherwise a seeded stratified split of these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Box<OwnDataset>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdxFiles {
    pub images: PathBuf,
    pub labels: PathBuf,
}

impl<'de> Deserialize<'de> for DatasetSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DatasetSource;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a dataset name (\"fashion-mnist\") or a table naming your own data \
                     ({ folder = \"path\" }, { idx = { images, labels } }, { cifar = \"path\" }, \
                     { npz = \"file\" }, { safetensors = \"file\" })",
                )
            }

            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(DatasetSource::Named(name.to_string()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                // The table's own errors (an unknown key) name its fields.
                OwnDataset::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(DatasetSource::Own)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl DatasetSource {
    /// The name a task takes by default: the registry name, or the last part of the path.
    pub fn short_name(&self) -> &str {
        match self {
            DatasetSource::Named(name) => name,
            DatasetSource::Own(own) => own
                .path()
                .and_then(|p| p.file_stem())
                .and_then(|s| s.to_str())
                .unwrap_or("own"),
        }
    }

    pub fn is_own(&self) -> bool {
        matches!(self, DatasetSource::Own(_))
    }

    /// What is wrong with the source as written, if anything (`field` names it in the message).
    pub fn check(&self) -> Result<(), String> {
        match self {
            DatasetSource::Named(name) => plateau_data::registry::spec(name)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            DatasetSource::Own(own) => {
                own.one_kind()?;
                if let Some(test) = &own.test {
                    test.one_kind()?;
                    if test.test.is_some() || test.cifar.is_some() {
                        return Err(
                            "`test` names one set of images: a folder, idx files, npz or \
                             safetensors, without a test of its own"
                                .into(),
                        );
                    }
                }
                Ok(())
            }
        }
    }
}

impl OwnDataset {
    fn kinds(&self) -> Vec<&'static str> {
        [
            ("folder", self.folder.is_some()),
            ("idx", self.idx.is_some()),
            ("cifar", self.cifar.is_some()),
            ("npz", self.npz.is_some()),
            ("safetensors", self.safetensors.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    fn one_kind(&self) -> Result<(), String> {
        match self.kinds()[..] {
            [_] => Ok(()),
            [] => Err("name your data with one of folder, idx, cifar, npz, safetensors".into()),
            ref many => Err(format!(
                "{} name two sources; give exactly one",
                many.join(" and ")
            )),
        }
    }

    fn path(&self) -> Option<&Path> {
        self.folder
            .as_deref()
            .or(self.idx.as_ref().map(|i| i.images.as_path()))
            .or(self.cifar.as_deref())
            .or(self.npz.as_deref())
            .or(self.safetensors.as_deref())
    }

    /// The source for plateau-data, its paths taken relative to `base` (the config's folder).
    pub fn resolve(&self, base: &Path) -> OwnSource {
        let at = |p: &Path| base.join(p);
        if let Some(p) = &self.folder {
            OwnSource::Folder(at(p))
        } else if let Some(idx) = &self.idx {
            OwnSource::Idx {
                images: at(&idx.images),
                labels: at(&idx.labels),
            }
        } else if let Some(p) = &self.cifar {
            OwnSource::Cifar(at(p))
        } else if let Some(p) = &self.npz {
            OwnSource::Npz(at(p))
        } else {
            OwnSource::Safetensors(at(self.safetensors.as_deref().unwrap_or(Path::new(""))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct Holder {
        dataset: DatasetSource,
    }

    fn parse(text: &str) -> Result<DatasetSource, String> {
        toml::from_str::<Holder>(text)
            .map(|h| h.dataset)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_name_stays_a_string_and_a_table_names_own_data() {
        let named = parse(r#"dataset = "digits""#).unwrap();
        assert_eq!(named, DatasetSource::Named("digits".into()));
        let json = serde_json::to_string(&Holder { dataset: named }).unwrap();
        assert_eq!(
            json, r#"{"dataset":"digits"}"#,
            "run ids of named sets are unchanged"
        );

        let own =
            parse(r#"dataset = { folder = "data/flowers", test = { npz = "t.npz" } }"#).unwrap();
        assert_eq!(own.short_name(), "flowers");
        own.check().unwrap();
        let DatasetSource::Own(table) = &own else {
            panic!("{own:?}")
        };
        assert_eq!(
            table.resolve(Path::new("/cfg")),
            OwnSource::Folder("/cfg/data/flowers".into())
        );
    }

    #[test]
    fn bad_tables_say_what_to_write() {
        let typo = parse(r#"dataset = { foldr = "x" }"#).unwrap_err();
        assert!(typo.contains("foldr") && typo.contains("folder"), "{typo}");
        let two = parse(r#"dataset = { folder = "x", npz = "y.npz" }"#)
            .unwrap()
            .check()
            .unwrap_err();
        assert!(two.contains("folder and npz"), "{two}");
        let none = parse(r#"dataset = { }"#).unwrap().check().unwrap_err();
        assert!(none.contains("one of folder"), "{none}");
    }
}
