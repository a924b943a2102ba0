//! The mails' words, in English and Korean: a plain-text and an HTML body each. Values put
//! into HTML are escaped.

/// The language of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// English.
    En,
    /// Korean.
    Ko,
}

impl Locale {
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
        (Link::Reset, Locale::En) => (
            "Reset your {product} password",
            "Someone asked to reset the password of your {product} account.",
            "Choose a new password",
            "The link works once, for 30 minutes, and signs out every device. If you did not ask for this, ignore this mail: your password stays as it is.",
        ),
        (Link::Reset, Locale::Ko) => (
            "{product} 비밀번호 재설정",
            "{product} 계정의 비밀번호 재설정을 요청하셨습니다.",
            "새 비밀번호 정하기",
            "이 링크는 30분 동안 한 번만 쓸 수 있으며, 모든 기기에서 로그아웃됩니다. 요청하지 않으셨다면 이 메일을 무시하세요. 비밀번호는 바뀌지 않습니다.",
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
