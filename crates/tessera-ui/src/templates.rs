//! The templates: built in, each replaced by a file of the same name in `ui.templates_dir` when
//! there is one. Read and compiled once at start-up: restyling needs a restart, not a rebuild.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};

use crate::UiError;

/// The pages, by template name without `.html`.
#[cfg(test)]
pub(crate) const PAGES: [&str; 11] = [
    "login", "signup", "logout", "forgot", "message", "mfa", "link", "reset", "account", "totp",
    "recovery",
];

const BUILT_IN: [(&str, &str); 12] = [
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("signup.html", include_str!("../templates/signup.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("mfa.html", include_str!("../templates/mfa.html")),
    ("link.html", include_str!("../templates/link.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("totp.html", include_str!("../templates/totp.html")),
    ("recovery.html", include_str!("../templates/recovery.html")),
];

/// Every template compiled, overrides from `dir` in place of the built-in ones.
pub(crate) fn environment(dir: Option<&Path>) -> Result<Environment<'static>, UiError> {
    let mut environment = Environment::new();
    // Escaping for `.html`, and a misspelt variable or message id fails loudly (a test renders
    // every page), while `{% if error %}` may still ask about one that is absent.
    environment.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    environment.add_function("qr", |text: &str| crate::qr::qr(text));
    for (name, built_in) in BUILT_IN {
        let source = match dir.map(|dir| dir.join(name)) {
            Some(path) if path.is_file() => {
                std::fs::read_to_string(&path).map_err(|source| UiError::Read {
                    path: path.display().to_string(),
                    source,
                })?
            }
            _ => built_in.to_owned(),
        };
        environment
            .add_template_owned(name, source)
            .map_err(|source| UiError::Template {
                name: name.to_owned(),
                source,
            })?;
    }
    Ok(environment)
}
