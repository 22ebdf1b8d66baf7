//! Where to connect: `ws://` and `wss://` URLs, and the pieces of URL parsing the matchmaker's
//! `http(s)://` URL shares (`cluster::MatchmakerUrl`).

use std::net::IpAddr;

/// A parsed `ws://` or `wss://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`: WebSocket over TLS.
    pub secure: bool,
    /// Without brackets for IPv6 literals.
    pub host: String,
    /// 80 (`ws://`) or 443 (`wss://`) when the URL has none.
    pub port: u16,
    /// Starts with `/`; includes any query.
    pub path: String,
}

impl WsUrl {
    /// `ws://HOST[:PORT][/PATH]` or `wss://...`; no user info.
    pub fn parse(url: &str) -> Result<WsUrl, String> {
        let (secure, rest) = match split_scheme(url) {
            Some(("ws", rest)) => (false, rest),
            Some(("wss", rest)) => (true, rest),
            _ => return Err(format!("{url:?}: not a ws:// or wss:// URL")),
        };
        let (host, port, path) = split_authority(url, rest, if secure { 443 } else { 80 })?;
        Ok(WsUrl {
            secure,
            host,
            port,
            path,
        })
    }

    /// `host:port` as the `Host` header wants it (IPv6 literals in brackets).
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// The origin of a page served by this server: `http://host:port` (`https://` for wss).
    pub fn origin(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.authority())
    }

    /// True when the host is `localhost` or a loopback address literal (127.0.0.0/8, ::1).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// The scheme of `url` in lower case (schemes are case-insensitive), and what follows `://`.
pub(crate) fn split_scheme(url: &str) -> Option<(&'static str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    ["ws", "wss", "http", "https"]
        .into_iter()
        .find(|known| scheme.eq_ignore_ascii_case(known))
        .map(|known| (known, rest))
}

/// Host, port (`default_port` when absent) and path (`/` by default, starting with `/`) of what
/// follows a URL's `scheme://`; `url` is the whole URL, for errors.
pub(crate) fn split_authority(
    url: &str,
    rest: &str,
    default_port: u16,
) -> Result<(String, u16, String), String> {
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.contains('@') {
        return Err(format!("{url:?}: user info is not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: unclosed '[' in the host"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{url:?}: bad text after the host"))?,
            ),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse().map_err(|_| format!("{url:?}: bad port {p:?}"))?,
    };
    Ok((host.to_owned(), port, path))
}

/// `host:port` as the `Host` header wants it (IPv6 literals in brackets).
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// True when `host` is `localhost` or a loopback address literal (127.0.0.0/8, ::1).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_paths() {
        let u = WsUrl::parse("ws://127.0.0.1:8080/ws").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/ws")
        );
        assert_eq!(u.authority(), "127.0.0.1:8080");
        let u = WsUrl::parse("ws://[::1]:9/ws?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 9, "/ws?x=1")
        );
        assert_eq!(u.authority(), "[::1]:9");
        let u = WsUrl::parse("ws://localhost").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = WsUrl::parse("ws://h:1?q").unwrap();
        assert_eq!(u.path, "/?q");
        assert!(!u.secure);
    }

    #[test]
    fn parses_wss_urls() {
        let u = WsUrl::parse("wss://127.0.0.1:8443/ws").unwrap();
        assert!(u.secure);
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8443, "/ws")
        );
        assert_eq!(u.origin(), "https://127.0.0.1:8443");
        // TLS's port by default; schemes in any case.
        let u = WsUrl::parse("WSS://game.example.com/ws").unwrap();
        assert_eq!((u.secure, u.port), (true, 443));
        assert_eq!(u.authority(), "game.example.com:443");
        let u = WsUrl::parse("wss://[::1]/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 443));
        assert!(u.is_loopback());
        let u = WsUrl::parse("Ws://h/").unwrap();
        assert_eq!((u.secure, u.port), (false, 80));
        assert_eq!(u.origin(), "http://h:80");
    }

    #[test]
    fn refuses_what_it_cannot_speak() {
        for bad in [
            "http://127.0.0.1/ws",
            "https://127.0.0.1/ws",
            "wss:/127.0.0.1/ws",
            "127.0.0.1:80",
            "wss://:443/ws",
            "wss://a@b/ws",
            "ws://:80/ws",
            "ws://a@b/ws",
            "ws://h:port/ws",
            "ws://[::1/ws",
            "ws://h:99999/",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn knows_loopback_hosts() {
        for (url, loopback) in [
            ("ws://127.0.0.1:1/", true),
            ("ws://127.8.9.10:1/", true),
            ("ws://[::1]:1/", true),
            ("ws://LocalHost:1/", true),
            ("ws://10.0.0.1:1/", false),
            ("ws://[::2]:1/", false),
            ("ws://example.com/", false),
            ("ws://localhost.example.com/", false),
        ] {
            assert_eq!(WsUrl::parse(url).unwrap().is_loopback(), loopback, "{url}");
        }
    }
}
