//! A `[[grid]]` entry: a model (a preset or a full config) and the axes to sweep it along. Its
//! keys come from the table of axes, so an axis added there is a key here, with its own
//! "unknown field" list and type errors (line and column from the TOML parser).

use std::collections::BTreeMap;

use plateau_models::ModelConfig;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sweep::axes::{AXES, Axis, GRID_KEYS, Values, axis};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GridEntry {
    pub preset: Option<String>,
    pub model: Option<ModelConfig>,
    /// The values of each swept axis, by axis name; an axis not listed is not swept.
    pub axes: BTreeMap<&'static str, Vec<Value>>,
}

impl GridEntry {
    /// The values swept along axis `name`, if it is swept.
    pub fn axis(&self, name: &str) -> Option<&[Value]> {
        self.axes.get(name).map(Vec::as_slice)
    }

    /// Sweeps axis `name` along `values`, replacing earlier values. Panics on a name that is not
    /// in the table of axes, or on values of the wrong kind (a program's mistake, not a user's).
    pub fn set_axis<T: Serialize>(&mut self, name: &str, values: &[T]) {
        let axis = axis(name).unwrap_or_else(|| {
            panic!("no sweep axis `{name}`; the axes are {:?}", &GRID_KEYS[2..])
        });
        let values: Vec<Value> = values
            .iter()
            .map(|v| serde_json::to_value(v).expect("axis values serialise"))
            .collect();
        assert!(
            values.iter().all(|v| fits(axis.values, v)),
            "axis `{name}` takes {:?}, not {values:?}",
            axis.values
        );
        self.axes.insert(axis.meaning.name, values);
    }

    /// The grid's points: one value per swept axis, axes in table order, the last axis varying
    /// fastest.
    pub(crate) fn points(&self) -> Vec<Vec<(&'static Axis, &Value)>> {
        let mut points = vec![Vec::new()];
        for axis in &AXES {
            let Some(values) = self.axes.get(axis.meaning.name) else {
                continue;
            };
            points = points
                .into_iter()
                .flat_map(|point| {
                    values.iter().map(move |value| {
                        let mut next = point.clone();
                        next.push((axis, value));
                        next
                    })
                })
                .collect();
        }
        points
    }

    /// How many runs this entry expands to (saturating), without building them.
    pub(crate) fn size(&self) -> usize {
        self.axes
            .values()
            .map(Vec::len)
            .fold(1, usize::saturating_mul)
    }
}

fn fits(kind: Values, value: &Value) -> bool {
    match kind {
        Values::Integers => value.is_u64(),
        Values::Numbers => value.is_number(),
        Values::Names(names) => value.as_str().is_some_and(|v| names.contains(&v)),
        Values::Booleans => value.is_boolean(),
    }
}

/// A key of a grid entry, checked while it is read (so errors point at the key).
enum Key {
    Preset,
    Model,
    Axis(&'static Axis),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a grid key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                match key {
                    "preset" => Ok(Key::Preset),
                    "model" => Ok(Key::Model),
                    _ => axis(key)
                        .map(Key::Axis)
                        .ok_or_else(|| E::unknown_field(key, &GRID_KEYS)),
                }
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for GridEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = GridEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a grid entry: a `preset` or a `model`, and axes to sweep")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GridEntry, A::Error> {
                let mut entry = GridEntry::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Preset if entry.preset.is_some() => {
                            return Err(de::Error::duplicate_field("preset"));
                        }
                        Key::Model if entry.model.is_some() => {
                            return Err(de::Error::duplicate_field("model"));
                        }
                        Key::Preset => entry.preset = Some(map.next_value()?),
                        Key::Model => entry.model = Some(map.next_value()?),
                        Key::Axis(axis) => {
                            let name = axis.meaning.name;
                            if entry.axes.contains_key(name) {
                                return Err(de::Error::duplicate_field(name));
                            }
                            let values: Vec<Value> = match axis.values {
                                Values::Integers => {
                                    let v: Vec<u64> = map.next_value()?;
                                    v.into_iter().map(Value::from).collect()
                                }
                                Values::Numbers => {
                                    let v: Vec<f64> = map.next_value()?;
                                    if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                                        return Err(de::Error::custom(format!(
                                            "`{name}` values must be finite numbers, not {bad}"
                                        )));
                                    }
                                    v.into_iter().map(Value::from).collect()
                                }
                                Values::Booleans => {
                                    let v: Vec<bool> = map.next_value()?;
                                    v.into_iter().map(Value::from).collect()
                                }
                                Values::Names(names) => {
                                    let v: Vec<String> = map.next_value()?;
                                    if let Some(bad) =
                                        v.iter().find(|x| !names.contains(&x.as_str()))
                                    {
                                        return Err(de::Error::custom(format!(
                                            "`{name}` values are {}, not {bad:?}",
                                            names.join(", ")
                                        )));
                                    }
                                    v.into_iter().map(Value::from).collect()
                                }
                            };
                            entry.axes.insert(name, values);
                        }
                    }
                }
                Ok(entry)
            }
        }
        deserializer.deserialize_map(EntryVisitor)
    }
}

impl Serialize for GridEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(preset) = &self.preset {
            map.serialize_entry("preset", preset)?;
        }
        if let Some(model) = &self.model {
            map.serialize_entry("model", model)?;
        }
        for axis in &AXES {
            if let Some(values) = self.axes.get(axis.meaning.name) {
                map.serialize_entry(axis.meaning.name, values)?;
            }
        }
        map.end()
    }
}
