//! A backend's request rate, per server: requests are spaced evenly, `1/rate` apart, so no
//! rolling second ever holds more than `rate + 1` of them. Cognito's quotas are per account
//! and region, shared by every client; this bounds one backend only.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spacing {
    next_free: Option<Instant>,
}

impl Spacing {
    pub const fn new() -> Spacing {
        Spacing { next_free: None }
    }

    /// Take the right to start a request at `now`, or learn when it may start.
    pub fn take(&mut self, now: Instant, per_second: u32) -> Result<(), Instant> {
        let interval = Duration::from_secs(1) / per_second.max(1);
        match self.next_free {
            Some(at) if now < at => Err(at),
            _ => {
                self.next_free = Some(now + interval);
                Ok(())
            }
        }
    }
}

impl Default for Spacing {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    static BY_SERVER: RefCell<HashMap<u32, Spacing>> = RefCell::new(HashMap::new());
}

/// `Spacing::take` on this backend's spacing for `server`.
pub fn take(server: u32, now: Instant, per_second: u32) -> Result<(), Instant> {
    BY_SERVER.with(|all| {
        all.borrow_mut()
            .entry(server)
            .or_default()
            .take(now, per_second)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spaced_by_the_rate() {
        let t0 = Instant::now();
        let mut s = Spacing::new();
        assert_eq!(s.take(t0, 25), Ok(()));
        let next = t0 + Duration::from_millis(40);
        assert_eq!(s.take(t0 + Duration::from_millis(10), 25), Err(next));
        assert_eq!(s.take(next, 25), Ok(()));
        // Idle time is not saved up into a burst.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(s.take(later, 25), Ok(()));
        assert!(s.take(later + Duration::from_millis(1), 25).is_err());
    }

    #[test]
    fn no_rolling_second_holds_more_than_rate_plus_one() {
        let t0 = Instant::now();
        let mut s = Spacing::new();
        let mut started = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(3) {
            if s.take(now, 30).is_ok() {
                started.push(now);
            }
            now += Duration::from_millis(3);
        }
        for (i, &start) in started.iter().enumerate() {
            let in_window = started[i..]
                .iter()
                .take_while(|&&t| t < start + Duration::from_secs(1))
                .count();
            assert!(in_window <= 31, "{in_window} requests in one second");
        }
        assert!(started.len() >= 80, "{} requests in 3 s", started.len());
    }
}
