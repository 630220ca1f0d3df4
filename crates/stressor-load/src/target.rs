//! Where the load goes: an `http://` URL resolved to a socket address, loopback unless the
//! caller allows other hosts.

use std::net::SocketAddr;

use crate::LoadError;

/// A resolved HTTP target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address connections go to.
    pub addr: SocketAddr,
    /// The `Host` header (`host:port` as written in the URL).
    pub host: String,
    /// The path and query (`/v2/models/m/infer`).
    pub path: String,
}

impl Target {
    /// Parses and resolves `url` (`http://host[:port][/path]`).
    ///
    /// Load only goes to loopback addresses (127.0.0.0/8, ::1) unless `allow_host` names the
    /// URL's host, so a typo cannot point a load test at someone else's server.
    ///
    /// # Errors
    /// [`LoadError::Url`] for a malformed URL or an unsupported scheme, [`LoadError::Resolve`]
    /// when the host does not resolve, [`LoadError::NotLoopback`] for a host that resolves
    /// outside loopback and is not allowed.
    pub async fn resolve(url: &str, allow_host: Option<&str>) -> Result<Target, LoadError> {
        let bad =
            |reason: &str| LoadError::Url { url: url.to_string(), reason: reason.to_string() };
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some(("https", _)) => {
                return Err(bad("https is not supported yet; use http on loopback"));
            }
            Some((scheme, _)) => return Err(bad(&format!("unsupported scheme `{scheme}`"))),
            None => return Err(bad("expected http://host:port/path")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected a host (and no user info)"));
        }
        let (host, port_text) = if authority.starts_with('[') {
            match authority.find(']') {
                Some(i) => (&authority[..=i], authority[i + 1..].strip_prefix(':')),
                None => return Err(bad("unclosed `[` in an IPv6 host")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("expected a host"));
        }
        let port = match port_text {
            Some(port) => {
                port.parse::<u16>().map_err(|_| bad(&format!("`{port}` is not a port")))?
            }
            None => 80,
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|source| LoadError::Resolve { host: host.to_string(), source })?
            .collect();
        let allowed = allow_host.is_some_and(|allowed| allowed == bare || allowed == host);
        let addr = addrs
            .iter()
            .copied()
            .find(|a| a.ip().is_loopback())
            .or_else(|| if allowed { addrs.first().copied() } else { None });
        let Some(addr) = addr else {
            return Err(LoadError::NotLoopback { host: host.to_string() });
        };
        Ok(Target { addr, host: authority.to_string(), path: path.to_string() })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_urls_resolve_and_others_need_permission() {
        let target =
            Target::resolve("http://127.0.0.1:8080/v2/models/m/infer", None).await.unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target.path, "/v2/models/m/infer");
        assert_eq!(target.host, "127.0.0.1:8080");
        let target = Target::resolve("http://[::1]:9000", None).await.unwrap();
        assert_eq!(target.addr, "[::1]:9000".parse().unwrap());
        assert_eq!(target.path, "/");
        let error = Target::resolve("http://10.1.2.3:80/", None).await.unwrap_err();
        assert!(matches!(error, LoadError::NotLoopback { .. }), "{error}");
        let allowed = Target::resolve("http://10.1.2.3:80/", Some("10.1.2.3")).await.unwrap();
        assert_eq!(allowed.addr, "10.1.2.3:80".parse().unwrap());
        for url in [
            "ftp://x/",
            "127.0.0.1:80",
            "http://:80/",
            "http://127.0.0.1:port/",
            "https://127.0.0.1/",
        ] {
            assert!(
                matches!(Target::resolve(url, None).await, Err(LoadError::Url { .. })),
                "{url}"
            );
        }
    }
}
