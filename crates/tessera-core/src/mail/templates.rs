//! The mails' words, in English and Korean: a plain-text and an HTML body each. Values put
//! into HTML are escaped.

use super::Notice;

/// The language of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// English.
    En,
    /// Korean.
    Ko,
}

impl Locale {
    /// `en` or `ko`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ko => "ko",
        }
    }

    /// The first of English and Korean an `Accept-Language` value prefers (by `q`, then by
    /// order), if it names either.
    pub fn preferred(accept_language: &str) -> Option<Self> {
        let mut ranked: Vec<(f32, usize, Self)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let primary = tag.split('-').next()?;
                let locale = Self::parse(primary)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, position, locale))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|(_, _, locale)| *locale)
    }

    /// `en` or `ko`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "ko" => Some(Self::Ko),
            _ => None,
        }
    }
}

/// A mail ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The recipient's address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Which link a mail carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Link {
    Verify,
    Reset,
    Magic,
    EmailChange,
}

/// The mail for `link` to `to`, pointing at `url`, from `product`.
pub(crate) fn render(link: Link, locale: Locale, product: &str, to: &str, url: &str) -> Message {
    let (subject, lead, action, note) = words(link, locale);
    let subject = subject.replace("{product}", product);
    let lead = lead.replace("{product}", product);
    let text = format!("{lead}\n\n{action}:\n{url}\n\n{note}\n");
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>{lead}</p><p><a href=\"{url}\">{action}</a></p><p>{note}</p></body></html>",
        lead = escape_html(&lead),
        url = escape_html(url),
        action = escape_html(action),
        note = escape_html(note),
    );
    Message {
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

fn words(link: Link, locale: Locale) -> (&'static str, &'static str, &'static str, &'static str) {
    match (link, locale) {
        (Link::Verify, Locale::En) => (
            "Confirm your email for {product}",
            "Please confirm that this address belongs to your {product} account.",
            "Confirm my email",
            "The link works once, for 24 hours. If you did not ask for this, ignore this mail.",
        ),
        (Link::Verify, Locale::Ko) => (
            "{product} 이메일 주소 확인",
            "이 주소가 {product} 계정의 주소인지 확인해 주세요.",
            "이메일 확인하기",
            "이 링크는 24시간 동안 한 번만 쓸 수 있습니다. 요청하지 않으셨다면 이 메일을 무시하세요.",
        ),
        (Link::EmailChange, Locale::En) => (
            "Confirm your new email for {product}",
            "Please confirm that your {product} account should use this address from now on.",
            "Use this address",
            "The link works once, for 24 hours. Until it is followed, the account keeps its old address. If you did not ask for this, ignore this mail.",
        ),
        (Link::EmailChange, Locale::Ko) => (
            "{product} 새 이메일 주소 확인",
            "앞으로 {product} 계정에 이 주소를 쓸지 확인해 주세요.",
            "이 주소 사용하기",
            "이 링크는 24시간 동안 한 번만 쓸 수 있습니다. 링크를 따르기 전까지 계정은 기존 주소를 유지합니다. 요청하지 않으셨다면 이 메일을 무시하세요.",
        ),
        (Link::Magic, Locale::En) => (
            "Sign in to {product}",
            "Here is the sign-in link you asked for.",
            "Sign me in",
            "The link works once, for 15 minutes. If you did not ask for it, ignore this mail: nobody can use it without your mailbox.",
        ),
        (Link::Magic, Locale::Ko) => (
            "{product} 로그인 링크",
            "요청하신 로그인 링크입니다.",
            "로그인하기",
            "이 링크는 15분 동안 한 번만 쓸 수 있습니다. 요청하지 않으셨다면 이 메일을 무시하세요.",
        ),
        (Link::Reset, Locale::En) => (
            "Reset your {product} password",
            "Someone asked to choose a new password for your {product} account.",
            "Choose a new password",
            "The link works once, for 30 minutes, and signs out every device. If you did not ask for this, ignore this mail: your password stays as it is.",
        ),
        (Link::Reset, Locale::Ko) => (
            "{product} 비밀번호 재설정",
            "{product} 계정의 새 비밀번호 설정을 요청하셨습니다.",
            "새 비밀번호 정하기",
            "이 링크는 30분 동안 한 번만 쓸 수 있으며, 모든 기기에서 로그아웃됩니다. 요청하지 않으셨다면 이 메일을 무시하세요. 비밀번호는 바뀌지 않습니다.",
        ),
    }
}

/// A security notice to `to`: what changed, and what to do if it was not them.
pub(crate) fn render_notice(notice: Notice, locale: Locale, product: &str, to: &str) -> Message {
    let (subject, what) = notice_words(notice, locale);
    let advice = match locale {
        Locale::En => "If this was not you, reset your password now and sign out every device.",
        Locale::Ko => {
            "본인이 한 일이 아니라면 지금 비밀번호를 재설정하고 모든 기기에서 로그아웃하세요."
        }
    };
    let subject = subject.replace("{product}", product);
    let what = what.replace("{product}", product);
    Message {
        to: to.to_owned(),
        text: format!("{what}\n\n{advice}\n"),
        html: format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{}</p><p>{}</p></body></html>",
            escape_html(&what),
            escape_html(advice)
        ),
        subject,
    }
}

fn notice_words(notice: Notice, locale: Locale) -> (&'static str, &'static str) {
    match (notice, locale) {
        (Notice::NewDevice, Locale::En) => (
            "New sign-in to {product}",
            "Your {product} account was just signed in to from a device it had not seen before.",
        ),
        (Notice::NewDevice, Locale::Ko) => (
            "{product} 새 기기 로그인",
            "처음 보는 기기에서 {product} 계정에 로그인했습니다.",
        ),
        (Notice::RefreshReuse, Locale::En) => (
            "A {product} session was ended",
            "A sign-in token of your {product} account was used twice, which happens when it is stolen. That session was ended.",
        ),
        (Notice::RefreshReuse, Locale::Ko) => (
            "{product} 세션이 종료되었습니다",
            "{product} 계정의 로그인 토큰이 두 번 사용되어 해당 세션을 종료했습니다. 토큰을 도난당하면 이런 일이 생깁니다.",
        ),
        (Notice::PasswordChanged, Locale::En) => (
            "Your {product} password was changed",
            "The password of your {product} account was just changed.",
        ),
        (Notice::PasswordChanged, Locale::Ko) => (
            "{product} 비밀번호가 변경되었습니다",
            "{product} 계정의 비밀번호가 방금 변경되었습니다.",
        ),
        (Notice::EmailChanged, Locale::En) => (
            "Your {product} email was changed",
            "The email address of your {product} account was changed; mail now goes to the new address.",
        ),
        (Notice::EmailChanged, Locale::Ko) => (
            "{product} 이메일 주소가 변경되었습니다",
            "{product} 계정의 이메일 주소가 변경되었습니다. 이제 메일은 새 주소로 갑니다.",
        ),
        (Notice::MfaDisabled, Locale::En) => (
            "Two-factor sign-in was turned off for {product}",
            "Two-factor sign-in was just turned off for your {product} account.",
        ),
        (Notice::MfaDisabled, Locale::Ko) => (
            "{product} 2단계 인증이 꺼졌습니다",
            "{product} 계정의 2단계 인증이 방금 꺼졌습니다.",
        ),
        (Notice::PasskeyAdded, Locale::En) => (
            "A passkey was added to {product}",
            "A passkey was just added to your {product} account.",
        ),
        (Notice::PasskeyAdded, Locale::Ko) => (
            "{product}에 패스키가 추가되었습니다",
            "{product} 계정에 패스키가 방금 추가되었습니다.",
        ),
    }
}

/// HTML text and attribute escaping.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_language_follows_q_then_order() {
        assert_eq!(
            Locale::preferred("ko-KR,ko;q=0.9,en;q=0.8"),
            Some(Locale::Ko)
        );
        assert_eq!(
            Locale::preferred("fr, en;q=0.5, ko;q=0.7"),
            Some(Locale::Ko)
        );
        assert_eq!(Locale::preferred("en-GB, ko"), Some(Locale::En));
        assert_eq!(Locale::preferred("fr, de"), None);
        assert_eq!(Locale::preferred("ko;q=0"), None);
    }

    #[test]
    fn both_languages_carry_the_link_and_html_is_escaped() {
        let url = "https://auth.example.test/ui/reset?token=abc&x=1";
        let en = render(
            Link::Reset,
            Locale::En,
            "Acme <Movies>",
            "kate@example.test",
            url,
        );
        assert!(en.text.contains(url));
        assert!(en.html.contains("token=abc&amp;x=1"));
        assert!(en.html.contains("Acme &lt;Movies&gt;"));
        assert_eq!(en.subject, "Reset your Acme <Movies> password");
        let ko = render(Link::Verify, Locale::Ko, "Acme", "kate@example.test", url);
        assert!(ko.subject.contains("이메일"));
        assert!(ko.text.contains(url));
    }
}
