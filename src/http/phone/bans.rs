//! Per-source bans: too many misses in a window bans the source for a while, on every phone
//! path and method.
//!
//! IPv4 sources are counted per address, IPv6 sources per /64 (one subscriber's prefix), so a
//! sweep cannot escape by walking addresses inside its own prefix.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sources tracked before idle entries are pruned.
const PRUNE_ABOVE: usize = 100_000;

/// When a source is banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPolicy {
    /// Misses that trigger a ban.
    pub misses: u32,
    /// Window the misses are counted in.
    pub window: Duration,
    /// How long a ban lasts.
    pub ban_for: Duration,
}

impl Default for BanPolicy {
    fn default() -> Self {
        Self {
            misses: 10,
            window: Duration::from_secs(60),
            ban_for: Duration::from_secs(15 * 60),
        }
    }
}

/// How often a request from a banned source is logged, per source: often enough for a jail
/// to count it, seldom enough that a flood cannot fill the log.
pub const BANNED_LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Source {
    misses: VecDeque<Instant>,
    banned_until: Option<Instant>,
    /// When a request of this banned source was last logged.
    banned_logged: Option<Instant>,
}

/// The miss counts and bans of every source.
#[derive(Debug)]
pub struct BanList {
    policy: BanPolicy,
    sources: Mutex<HashMap<IpAddr, Source>>,
}

/// The bucket an address is counted in.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
    }
}

impl BanList {
    /// An empty list under `policy`.
    pub fn new(policy: BanPolicy) -> Self {
        Self {
            policy,
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> BanPolicy {
        self.policy
    }

    /// Whether `ip` is banned at `now`.
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources
            .get(&bucket(ip))
            .and_then(|s| s.banned_until)
            .is_some_and(|until| now < until)
    }

    /// For a request from `ip` at `now`: `None` when the source is not banned, else whether
    /// this request should be logged (at most once per [`BANNED_LOG_EVERY`] per source).
    pub fn refuse_banned(&self, ip: IpAddr, now: Instant) -> Option<bool> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let source = sources.get_mut(&bucket(ip))?;
        if source.banned_until.is_none_or(|until| now >= until) {
            return None;
        }
        let due = source
            .banned_logged
            .is_none_or(|t| now.duration_since(t) >= BANNED_LOG_EVERY);
        if due {
            source.banned_logged = Some(now);
        }
        Some(due)
    }

    /// How many sources are banned at `now`.
    pub fn banned_now(&self, now: Instant) -> usize {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources
            .values()
            .filter(|s| s.banned_until.is_some_and(|until| now < until))
            .count()
    }

    /// Counts a miss from `ip`; returns `true` when this miss starts a ban.
    pub fn miss(&self, ip: IpAddr, now: Instant) -> bool {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if sources.len() > PRUNE_ABOVE {
            let horizon = self.policy.window.max(self.policy.ban_for);
            sources.retain(|_, s| {
                s.banned_until.is_some_and(|u| now < u)
                    || s.misses
                        .back()
                        .is_some_and(|t| now.duration_since(*t) < horizon)
            });
        }
        let source = sources.entry(bucket(ip)).or_default();
        if source.banned_until.is_some_and(|until| now < until) {
            return false;
        }
        while source
            .misses
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.policy.window)
        {
            source.misses.pop_front();
        }
        source.misses.push_back(now);
        if source.misses.len() >= self.policy.misses as usize {
            source.misses.clear();
            source.banned_until = Some(now + self.policy.ban_for);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> BanList {
        BanList::new(BanPolicy {
            misses: 3,
            window: Duration::from_secs(60),
            ban_for: Duration::from_secs(900),
        })
    }

    #[test]
    fn the_nth_miss_in_the_window_bans_until_the_ban_runs_out() {
        let bans = list();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let t0 = Instant::now();
        assert!(!bans.miss(ip, t0));
        assert!(!bans.miss(ip, t0 + Duration::from_secs(1)));
        assert!(
            bans.miss(ip, t0 + Duration::from_secs(2)),
            "third miss bans"
        );
        assert!(bans.is_banned(ip, t0 + Duration::from_secs(3)));
        assert!(
            !bans.is_banned("203.0.113.10".parse().unwrap(), t0),
            "other sources are not affected"
        );
        assert!(bans.is_banned(ip, t0 + Duration::from_secs(901)));
        assert!(!bans.is_banned(ip, t0 + Duration::from_secs(903)));
    }

    #[test]
    fn misses_outside_the_window_do_not_add_up() {
        let bans = list();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(!bans.miss(ip, t0 + Duration::from_secs(31 * i)), "miss {i}");
        }
    }

    #[test]
    fn ipv6_sources_count_per_64() {
        let bans = list();
        let t0 = Instant::now();
        bans.miss("2001:db8:1:2::1".parse().unwrap(), t0);
        bans.miss("2001:db8:1:2::2".parse().unwrap(), t0);
        assert!(bans.miss("2001:db8:1:2:ffff::3".parse().unwrap(), t0));
        assert!(bans.is_banned("2001:db8:1:2::99".parse().unwrap(), t0));
        assert!(!bans.is_banned("2001:db8:1:3::1".parse().unwrap(), t0));
    }

    #[test]
    fn requests_of_a_banned_source_are_logged_at_most_every_ten_seconds() {
        let bans = BanList::new(BanPolicy {
            misses: 1,
            ..BanPolicy::default()
        });
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(bans.refuse_banned(ip, t0), None);
        assert!(bans.miss(ip, t0));
        assert_eq!(bans.refuse_banned(ip, t0), Some(true));
        assert_eq!(
            bans.refuse_banned(ip, t0 + Duration::from_secs(9)),
            Some(false)
        );
        assert_eq!(
            bans.refuse_banned(ip, t0 + Duration::from_secs(10)),
            Some(true)
        );
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        assert_eq!(bans.refuse_banned(other, t0), None);
    }
}
