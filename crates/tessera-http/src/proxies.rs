//! The client's address behind reverse proxies (API.md §4): the TCP peer, unless the peer is a
//! trusted proxy; then the right-most address of `X-Forwarded-For` (or `Forwarded`) that is not
//! itself a trusted proxy. Whatever a client writes to the left of that is its own claim and is
//! never believed, so a forged header can neither dodge a limit nor land in another's bucket.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;
use axum::http::header::FORWARDED;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The networks whose forwarded headers are believed.
#[derive(Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    /// Set once the operator has been told that forwarded headers arrive and are ignored.
    warned: AtomicBool,
}

/// An entry of `trusted_proxies` that is neither a CIDR nor an address.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a CIDR like 10.0.0.0/8 or an address like 192.0.2.1")]
pub struct ProxyParseError(String);

impl TrustedProxies {
    /// Parses CIDRs; a bare address stands for itself alone.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ProxyParseError> {
        let networks = entries
            .iter()
            .map(|entry| {
                let text = entry.as_ref().trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ProxyParseError(text.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            networks,
            warned: AtomicBool::new(false),
        })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.networks.iter().any(|net| net.contains(&address))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if self.networks.is_empty() {
            if has_forwarding(headers) && !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "requests carry X-Forwarded-For or Forwarded, which are ignored because \
                     trusted_proxies is empty; set it to your proxies' addresses so that \
                     sessions and rate limits see the clients' addresses"
                );
            }
            return peer;
        }
        if !self.trusts(peer) {
            return peer;
        }
        // Walk from the proxy nearest to us towards the client: each trusted hop vouches for
        // the address to its left; the first address no trusted proxy owns is the client.
        let mut client = peer;
        for hop in forwarded_chain(headers).into_iter().rev() {
            let Some(address) = hop else {
                // An obfuscated or malformed hop: nothing further left can be believed.
                break;
            };
            client = canonical(address);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so `::ffff:10.0.0.1` matches `10.0.0.0/8`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

fn has_forwarding(headers: &HeaderMap) -> bool {
    headers.contains_key(X_FORWARDED_FOR) || headers.contains_key(FORWARDED)
}

/// The forwarded addresses, client side first: `X-Forwarded-For` when present, else the `for=`
/// of `Forwarded` (RFC 7239). Several header lines form one list, in order.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let lines = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .collect::<Vec<_>>()
    };
    let x_forwarded_for = lines(X_FORWARDED_FOR);
    if !x_forwarded_for.is_empty() {
        return x_forwarded_for.into_iter().map(parse_node).collect();
    }
    lines(FORWARDED.as_str())
        .into_iter()
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| parse_node(value.trim().trim_matches('"')))
        })
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn peer(text: &str) -> SocketAddr {
        SocketAddr::new(text.parse().unwrap(), 40_000)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let forged = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            proxies(&[]).client(peer("198.51.100.4"), &forged),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let forged = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(peer("198.51.100.4"), &forged),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_right_most_untrusted_address_wins() {
        // The client forged the first entry; its proxy appended the real address; a second
        // trusted proxy appended the first proxy's.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(peer("10.0.0.1"), &chain),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn several_header_lines_form_one_list() {
        let chain = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            proxies(&["10.0.0.1"]).client(peer("10.0.0.1"), &chain),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_is_read_when_x_forwarded_for_is_absent() {
        let chain = headers(&[(
            "forwarded",
            r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https"#,
        )]);
        assert_eq!(
            proxies(&["::1/128", "127.0.0.1"]).client(peer("127.0.0.1"), &chain),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_obfuscated_hop_stops_the_walk_at_the_last_trusted_address() {
        let chain = headers(&[("forwarded", "for=203.0.113.9, for=_hidden")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(peer("10.0.0.1"), &chain),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_chain_of_only_trusted_addresses_gives_the_left_most() {
        let chain = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.2")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(peer("10.0.0.1"), &chain),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks_and_bad_entries_are_named() {
        let chain = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            proxies(&["127.0.0.0/8"]).client(peer("::ffff:127.0.0.1"), &chain),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let error = TrustedProxies::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(error.to_string().contains("10.0.0.0/33"));
    }
}
