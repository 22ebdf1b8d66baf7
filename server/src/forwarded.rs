//! The client's address behind a reverse proxy. `X-Forwarded-For` is believed only from a peer
//! in `--trusted-proxy`: anyone else could write any address in it and escape the per-IP
//! limits. Each proxy appends the address it got the request from, so the client is the
//! rightmost entry that is not itself a trusted proxy.

use std::net::IpAddr;

use hyper::HeaderMap;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The address a request came from: `peer`, or what trusted proxies forwarded.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several headers are one list, in order; walked from its right end.
    let entries = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    let mut client = peer;
    for entry in entries.rev() {
        match parse(entry) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Garbage ends what can be believed: the last good hop stands.
            None => break,
        }
    }
    client
}

/// One entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse().ok())
}

/// A `--trusted-proxy` value: a CIDR range or a single address.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?}: expected an address range (10.0.0.0/8) or an address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| parse_net(s).unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_trusted_peer_forwards_the_rightmost_untrusted_address() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.2"]);
        // The client wrote a forged first entry; the proxies appended what they saw.
        let h = headers(&["6.6.6.6, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(client_ip(ip("127.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(
            client_ip(ip("127.0.0.2"), &HeaderMap::new(), &trusted),
            ip("127.0.0.2")
        );
        // Every hop trusted: the leftmost.
        let h = headers(&["10.0.0.7, 10.0.0.8"]);
        assert_eq!(client_ip(ip("10.0.0.9"), &h, &trusted), ip("10.0.0.7"));
    }

    #[test]
    fn garbage_stops_the_walk_and_ports_and_brackets_are_read() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&["203.0.113.9, not-an-ip, 10.0.0.5"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.5"));
        let h = headers(&["[2001:db8::1]:443"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("2001:db8::1"));
        let h = headers(&["[2001:db8::2]"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("2001:db8::2"));
        let h = headers(&["192.0.2.1:80"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("192.0.2.1"));
    }

    #[test]
    fn ranges_and_single_addresses_parse() {
        assert!(parse_net("10.0.0.0/8").is_ok());
        assert!(parse_net("::1").is_ok());
        assert!(parse_net("fd00::/8").is_ok());
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("nginx").is_err());
    }
}
