//! The QR code of a TOTP setup, drawn on the server as SVG: it shows with JavaScript off and
//! under a policy that allows no script, and no image crate is needed.

use minijinja::Value;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// `qr(text)` in a template: an inline SVG of `text` (an `otpauth://` URI), or nothing when the
/// text is too long for a QR code.
pub(crate) fn qr(text: &str) -> Value {
    // Medium correction keeps the code small enough to scan from a laptop screen.
    let Ok(code) = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) else {
        return Value::from("");
    };
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(192, 192)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .quiet_zone(true)
        .build();
    // Drawn here from a URI's bytes as modules: nothing in it comes from the text as markup.
    let svg = svg.replacen(
        "<svg ",
        "<svg role=\"img\" aria-hidden=\"true\" focusable=\"false\" ",
        1,
    );
    Value::from_safe_string(svg.replace("<?xml version=\"1.0\" standalone=\"yes\"?>", ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_becomes_an_svg_and_an_impossible_one_nothing() {
        let svg = qr("otpauth://totp/Acme:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme")
            .to_string();
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("<path"), "{svg}");
        assert!(!svg.contains("otpauth"));
        assert_eq!(qr(&"x".repeat(5000)).to_string(), "");
    }
}
