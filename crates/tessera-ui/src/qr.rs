//! The QR code of a TOTP setup, drawn on the server as SVG: it shows with JavaScript off and
//! under a policy that allows no script, and no image crate is needed. One path of the dark
//! runs of each row, one unit per module, scaled by the stylesheet: a fraction of the size of
//! a shape per module.

use std::fmt::Write;

use minijinja::Value;
use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code, as scanners expect.
const QUIET_ZONE: usize = 4;

/// `qr(text)` in a template: an inline SVG of `text` (an `otpauth://` URI), or nothing when the
/// text is too long for a QR code.
pub(crate) fn qr(text: &str) -> Value {
    // Medium correction keeps the code small enough to scan from a laptop screen.
    let Ok(code) = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) else {
        return Value::from("");
    };
    let width = code.width();
    let size = width + 2 * QUIET_ZONE;
    let mut path = String::new();
    for (y, row) in code.to_colors().chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] == Color::Light {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] == Color::Dark {
                x += 1;
            }
            let run = x - start;
            let _ = write!(
                path,
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    // Drawn here from the code's modules: nothing in it comes from the text as markup.
    Value::from_safe_string(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\" aria-hidden=\"true\" focusable=\"false\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_becomes_an_svg_of_its_modules_and_an_impossible_one_nothing() {
        let uri = "otpauth://totp/Acme:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme";
        let svg = qr(uri).to_string();
        let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M).unwrap();
        let dark: usize = code
            .to_colors()
            .iter()
            .filter(|color| **color == Color::Dark)
            .count();
        let path = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let drawn: usize = path
            .split_terminator('z')
            .map(|run| {
                let width = run.split('h').nth(1).unwrap().split('v').next().unwrap();
                width.parse::<usize>().unwrap()
            })
            .sum();
        assert!(svg.starts_with("<svg "), "{svg}");
        assert_eq!(drawn, dark, "every dark module, once");
        assert!(!svg.contains("otpauth"));
        assert_eq!(qr(&"x".repeat(5000)).to_string(), "");
    }
}
