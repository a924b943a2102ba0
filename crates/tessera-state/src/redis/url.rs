//! Reads `redis_url` (API.md §6) into the clients to connect with, without connecting.
//! Error messages never repeat the URL: it may carry a password.

use redis::RedisError;
use redis::cluster::ClusterClient;

use super::{CONNECTION_TIMEOUT, RESPONSE_TIMEOUT};

const CLUSTER_SCHEME: &str = "redis+cluster://";

/// What `redis_url` names.
pub(super) enum Endpoint {
    /// One Redis server.
    Single(redis::Client),
    /// A Redis Cluster, with a plain client per listed node for pub/sub.
    Cluster {
        // Boxed: it is several times the size of a plain client.
        client: Box<ClusterClient>,
        nodes: Vec<redis::Client>,
    },
}

/// Why `redis_url` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not a URL the Redis client understands (scheme, host, port or database).
    #[error("redis_url is not a valid Redis URL")]
    Invalid(#[source] RedisError),
    /// `redis+cluster://` without any `host:port`.
    #[error("a redis+cluster:// URL needs at least one host:port")]
    NoClusterNodes,
    /// A database other than 0 in a cluster URL.
    #[error("Redis Cluster has only database 0; remove the database from redis_url")]
    ClusterDatabase,
}

impl Endpoint {
    /// Parses `redis://[user:password@]host:port[/db]` or
    /// `redis+cluster://[user:password@]host:port,host:port,...`; the credentials apply to every
    /// node.
    pub(super) fn parse(url: &str) -> Result<Self, UrlError> {
        let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
            return redis::Client::open(url)
                .map(Self::Single)
                .map_err(UrlError::Invalid);
        };
        let node_urls = cluster_node_urls(rest)?;
        let nodes = node_urls
            .iter()
            .map(|node| redis::Client::open(node.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(UrlError::Invalid)?;
        // Few retries: a request must fail within the publish bound, not after the library's
        // default of 16 exponential retries; the next request tries again anyway.
        let client = ClusterClient::builder(node_urls)
            .connection_timeout(CONNECTION_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(2)
            .build()
            .map_err(UrlError::Invalid)?;
        Ok(Self::Cluster {
            client: Box::new(client),
            nodes,
        })
    }
}

/// One `redis://` URL per node of `rest` (the cluster URL after its scheme).
fn cluster_node_urls(rest: &str) -> Result<Vec<String>, UrlError> {
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), authority),
    };
    let path = tail.split('?').next().unwrap_or_default();
    if !matches!(path.trim_matches('/'), "" | "0") {
        return Err(UrlError::ClusterDatabase);
    }
    let urls: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| format!("redis://{credentials}{host}{tail}"))
        .collect();
    if urls.is_empty() {
        return Err(UrlError::NoClusterNodes);
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_lists_one_url_per_node_with_the_shared_credentials() {
        let urls = cluster_node_urls(":secret@10.0.0.1:7000, 10.0.0.2:7001/?protocol=resp3")
            .expect("valid");
        assert_eq!(
            urls,
            [
                "redis://:secret@10.0.0.1:7000/?protocol=resp3",
                "redis://:secret@10.0.0.2:7001/?protocol=resp3",
            ]
        );
    }

    #[test]
    fn a_cluster_url_refuses_no_nodes_and_other_databases() {
        assert!(matches!(
            cluster_node_urls(""),
            Err(UrlError::NoClusterNodes)
        ));
        assert!(matches!(
            cluster_node_urls("h:1/3"),
            Err(UrlError::ClusterDatabase)
        ));
        assert!(cluster_node_urls("h:1/0").is_ok());
    }

    #[test]
    fn errors_never_repeat_the_url() {
        let Err(error) = Endpoint::parse("http://user:hunter2@example.test") else {
            panic!("http is not a Redis URL");
        };
        assert!(!format!("{error:?} {error}").contains("hunter2"));
    }
}
