//! Outbound HTTP to addresses callers choose (webhook URLs, input image URLs) is an SSRF risk:
//! a request could make vidgate call its own metadata service or a private database. The
//! guard refuses loopback, private, link-local, unique-local and other non-public addresses
//! unless an allow-list (`VIDGATE_EGRESS_ALLOW`, CIDRs) permits them. It checks every address a
//! name resolves to, at connection time (so DNS rebinding cannot slip past), and literal IPs
//! before sending. Clients it builds never follow redirects and never use a proxy from the
//! environment (`HTTP_PROXY`, `ALL_PROXY`): a proxy resolves the name itself, past the guard.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Read from configuration (`egress.allow`) as the comma-separated list `parse` takes.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct EgressPolicy {
    allow: AddressList,
}

/// An address-list entry that is neither a CIDR nor an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a CIDR like 10.0.0.0/8 or an IP address")]
pub struct BadAllowEntry(pub String);

/// Networks named in configuration as a comma-separated list of CIDRs or single addresses
/// (`127.0.0.1/32, 10.0.0.0/8, ::1`): `egress.allow`, `server.trusted_proxies`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct AddressList(Vec<IpNet>);

impl AddressList {
    pub fn parse(list: &str) -> Result<Self, BadAllowEntry> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| BadAllowEntry(item.to_owned()))?;
            nets.push(net);
        }
        Ok(AddressList(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer may reach a dual-stack listener as an IPv4-mapped IPv6 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<String> for AddressList {
    type Error = BadAllowEntry;
    fn try_from(list: String) -> Result<Self, BadAllowEntry> {
        AddressList::parse(&list)
    }
}

impl TryFrom<String> for EgressPolicy {
    type Error = BadAllowEntry;
    fn try_from(list: String) -> Result<Self, BadAllowEntry> {
        EgressPolicy::parse(&list)
    }
}

impl std::str::FromStr for EgressPolicy {
    type Err = BadAllowEntry;
    fn from_str(list: &str) -> Result<Self, BadAllowEntry> {
        EgressPolicy::parse(list)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("{0} is not a valid URL")]
    BadUrl(String),
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error(
        "{0} is a private, loopback or link-local address (allow it with VIDGATE_EGRESS_ALLOW)"
    )]
    Blocked(IpAddr),
    #[error("{0} does not resolve to any allowed address")]
    NoAllowedAddress(String),
}

impl EgressPolicy {
    /// `allow`: CIDRs (or single addresses) that are reachable even though not public.
    pub fn new(allow: Vec<IpNet>) -> Self {
        EgressPolicy { allow: AddressList(allow) }
    }

    /// Parses a comma-separated list like `127.0.0.1/32, 10.0.0.0/8, ::1`.
    pub fn parse(list: &str) -> Result<Self, BadAllowEntry> {
        AddressList::parse(list).map(|allow| EgressPolicy { allow })
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allow.0.iter().any(|n| n.contains(&ip))
    }

    /// Checks a URL's scheme, and its host when the host is a literal IP address.
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, EgressError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| EgressError::BadUrl(url.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(EgressError::Scheme);
        }
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(EgressError::BadUrl(url.to_owned())),
        };
        if let Some(ip) = ip.filter(|ip| !self.permits(*ip)) {
            return Err(EgressError::Blocked(ip));
        }
        Ok(parsed)
    }

    /// A client whose every connection goes only to permitted addresses.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy: self.clone() }))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the target's name itself and so bypass the resolver above.
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
    }
}

/// The guard's refusal inside a failed request, if that is why it failed (it sits deep in
/// the error chain: reqwest → hyper → DNS resolver).
pub fn refusal(e: &reqwest::Error) -> Option<&EgressError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<EgressError>() {
            return Some(refused);
        }
        source = err.source();
    }
    None
}

/// Public unicast: not loopback, private, link-local, shared, documentation, multicast, …
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xC0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24
                || (o[0] == 198 && (o[1] & 0xFE) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // Prefixes that embed or tunnel to an IPv4 address (which may be private) or are
            // not globally routable; a host behind them is not known to be public.
            let embeds_v4 = (s[..6] == [0; 6]) // ::/96, IPv4-compatible (deprecated)
                || (s[0] == 0x0064 && s[1] == 0xFF9B) // 64:ff9b::/96 and 64:ff9b:1::/48, NAT64
                || s[0] == 0x2002 // 2002::/16, 6to4
                || (s[0] == 0x2001 && s[1] == 0x0000); // 2001::/32, Teredo
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || embeds_v4
                || (s[0] & 0xFE00) == 0xFC00 // fc00::/7, unique local
                || (s[0] & 0xFFC0) == 0xFE80 // fe80::/10, link local
                || (s[0] & 0xFFC0) == 0xFEC0 // fec0::/10, site local (deprecated)
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // 100::/64, discard
                || (s[0] == 0x2001 && s[1] == 0x0DB8)) // documentation
        }
    }
}

struct GuardedResolver {
    policy: EgressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.into_iter().filter(|a| policy.permits(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(EgressError::NoAllowedAddress(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_refused_by_default() {
        let p = EgressPolicy::default();
        for url in [
            "http://127.0.0.1/x",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://192.168.0.1",
            "http://[fe80::1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
        ] {
            assert!(matches!(p.check_url(url), Err(EgressError::Blocked(_))), "{url}");
        }
        assert!(p.check_url("https://93.184.216.34/hook").is_ok());
        assert!(
            p.check_url("https://example.com/hook").is_ok(),
            "names are checked when they resolve"
        );
        assert_eq!(p.check_url("ftp://example.com/x").unwrap_err(), EgressError::Scheme);
        assert!(matches!(p.check_url("not a url"), Err(EgressError::BadUrl(_))));
    }

    #[test]
    fn the_allow_list_opens_exactly_what_it_names() {
        let p = EgressPolicy::parse("127.0.0.1/32, 10.0.0.0/8, ::1").unwrap();
        assert!(p.check_url("http://127.0.0.1:9000/").is_ok());
        assert!(p.check_url("http://10.200.0.5/").is_ok());
        assert!(p.check_url("http://[::1]/").is_ok());
        assert!(p.check_url("http://127.0.0.2/").is_err());
        assert!(p.check_url("http://169.254.169.254/").is_err());
        assert!(EgressPolicy::parse("10.0.0.0/33").is_err());
        assert!(EgressPolicy::parse("").unwrap().allow.is_empty());
    }

    #[test]
    fn the_address_classifier_knows_every_non_public_range() {
        let blocked = [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.1",
            "240.0.0.1",
            "::",
            "::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "2001::1",
            "fec0::1",
            "feff::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
        ];
        for ip in blocked {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
        }
        let public = [
            "8.8.8.8",
            "93.184.216.34",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "198.17.255.255",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "2001:4860::8888",
        ];
        for ip in public {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} is public");
        }
        let p = EgressPolicy::default();
        for url in [
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[fec0::1]/",
        ] {
            assert!(matches!(p.check_url(url), Err(EgressError::Blocked(_))), "{url}");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_to_blocked_addresses_are_refused_at_connect() {
        let client = EgressPolicy::default().client(Duration::from_secs(2)).unwrap();
        let err = client.get("http://localhost:9/").send().await.unwrap_err();
        assert!(format!("{err:?}").contains("NoAllowedAddress"), "{err:?}");
    }
}
