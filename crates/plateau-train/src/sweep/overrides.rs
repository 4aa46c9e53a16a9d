//! `--set key=value` overrides of a sweep config, applied to its TOML table before parsing.

use std::collections::BTreeMap;

/// Sets `a.b.c = value` in `table`; the value is read as TOML (`3`, `1e-3`, `[8, 16]`, `"x"`),
/// or taken as a plain string when it does not parse.
pub(crate) fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| format!("--set {assignment:?}: expected key=value"))?;
    let value: toml::Value = toml::from_str::<BTreeMap<String, toml::Value>>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut m| m.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut current = table;
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            current.insert(part.to_string(), value);
            return Ok(());
        }
        current = match current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()))
        {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => {
                let index: usize = parts[i + 1].parse().map_err(|_| {
                    format!("--set {key}: `{part}` is a list; index it like {part}.0.field")
                })?;
                return set_in_array(items, index, &parts[i + 2..], value, key);
            }
            _ => return Err(format!("--set {key}: `{part}` is not a table")),
        };
    }
    Ok(())
}

fn set_in_array(
    items: &mut [toml::Value],
    index: usize,
    rest: &[&str],
    value: toml::Value,
    key: &str,
) -> Result<(), String> {
    let item = items
        .get_mut(index)
        .ok_or_else(|| format!("--set {key}: index {index} is out of range"))?;
    if rest.is_empty() {
        *item = value;
        return Ok(());
    }
    let toml::Value::Table(table) = item else {
        return Err(format!("--set {key}: item {index} is not a table"));
    };
    apply_override(
        table,
        &format!("{}={}", rest.join("."), toml_literal(&value)),
    )
}

fn toml_literal(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
