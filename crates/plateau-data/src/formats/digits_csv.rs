//! UCI optical digits as scikit-learn ships them (`digits.csv.gz`): no header, one image per row,
//! 64 pixel values (0..16) of an 8×8 image, then the label.

use std::path::Path;

use crate::error::{DataError, Result};

/// Returns `(pixels [N, 1, 8, 8] scaled to 0..=255, labels)`.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<u8>, Vec<u16>)> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (line_no, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fail =
            |message: String| DataError::format(path, format!("line {}: {message}", line_no + 1));
        let values: Vec<u32> = line
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| fail(format!("`{v}` is not an integer")))
            })
            .collect::<Result<_>>()?;
        if values.len() != 65 {
            return Err(fail(format!(
                "expected 65 values (64 pixels + label), found {}",
                values.len()
            )));
        }
        for &v in &values[..64] {
            if v > 16 {
                return Err(fail(format!("pixel value {v} is outside 0..=16")));
            }
            // 16 → 255; rounding keeps the 17 levels distinct.
            pixels.push(((v * 255 + 8) / 16) as u8);
        }
        if values[64] > 9 {
            return Err(fail(format!("label {} is outside 0..=9", values[64])));
        }
        labels.push(values[64] as u16);
    }
    if labels.is_empty() {
        return Err(DataError::format(path, "no rows"));
    }
    Ok((pixels, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_scales_pixels() {
        let row = |label: u32| {
            let mut v = vec!["0".to_string(); 63];
            v.push("16".into());
            v.push(label.to_string());
            v.join(",")
        };
        let (pixels, labels) = parse(Path::new("d"), &format!("{}\n{}\n", row(3), row(9))).unwrap();
        assert_eq!(labels, vec![3, 9]);
        assert_eq!((pixels[0], pixels[63]), (0, 255));
    }

    #[test]
    fn names_the_line_at_fault() {
        let message = parse(Path::new("digits.csv"), "1,2,3\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("digits.csv") && message.contains("line 1") && message.contains("65"),
            "{message}"
        );
    }
}
