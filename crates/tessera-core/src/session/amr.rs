//! How a session's user proved who they are: the RFC 8176 `amr` values access tokens carry,
//! fixed at login and kept through every refresh.

use std::fmt;

/// One way of proving identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// A password (`pwd`).
    Password,
    /// A one-time code: TOTP or a recovery code (`otp`).
    Otp,
    /// A passkey, a hardware-bound key (`hwk`).
    Passkey,
    /// An upstream identity provider (`fed`).
    Federated,
    /// A single-use link mailed to the account's address (`email`: RFC 8176 registers no
    /// value for it; this is the name other servers use).
    Email,
}

impl Method {
    /// The RFC 8176 value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::Otp => "otp",
            Self::Passkey => "hwk",
            Self::Federated => "fed",
            Self::Email => "email",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Password,
            Self::Otp,
            Self::Passkey,
            Self::Federated,
            Self::Email,
        ]
        .into_iter()
        .find(|method| method.as_str() == text)
    }
}

/// The methods a login used, in a fixed order; `mfa` is added when there were two.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Amr(Vec<Method>);

impl Amr {
    /// A login by `method` alone.
    pub fn single(method: Method) -> Self {
        Self(vec![method])
    }

    /// This login completed by a second `method`.
    #[must_use]
    pub fn and(mut self, method: Method) -> Self {
        if !self.0.contains(&method) {
            self.0.push(method);
            self.0.sort_unstable();
        }
        self
    }

    /// Whether two different methods were used (`mfa`).
    pub fn is_multi_factor(&self) -> bool {
        self.0.len() > 1
    }

    /// The claim's values: the methods, then `mfa` when there were two.
    pub fn values(&self) -> Vec<&'static str> {
        let mut values: Vec<&'static str> = self.0.iter().map(|m| m.as_str()).collect();
        if self.is_multi_factor() {
            values.push("mfa");
        }
        values
    }

    /// Reads what [`Display`](fmt::Display) wrote; unknown values are skipped, so a newer
    /// method stored by a newer instance does not fail an older one.
    pub fn parse(text: &str) -> Self {
        text.split_whitespace()
            .filter_map(Method::parse)
            .fold(Self::default(), Self::and)
    }
}

impl fmt::Display for Amr {
    /// The methods separated by spaces (`mfa` is derived, not stored).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods: Vec<&str> = self.0.iter().map(|m| m.as_str()).collect();
        f.write_str(&methods.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_methods_make_mfa_and_survive_storage() {
        let amr = Amr::single(Method::Password).and(Method::Otp);
        assert_eq!(amr.values(), vec!["pwd", "otp", "mfa"]);
        assert_eq!(Amr::parse(&amr.to_string()), amr);
        assert_eq!(Amr::single(Method::Password).values(), vec!["pwd"]);
        assert_eq!(
            Amr::parse("otp pwd later").values(),
            vec!["pwd", "otp", "mfa"]
        );
    }
}
