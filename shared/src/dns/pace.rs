//! Route 53 answers at most five requests a second per account (Route 53 Developer Guide,
//! "Quotas": "Number of requests ... five requests per second per AWS account"), and throttles
//! beyond. Every Route 53 call of this process takes its turn here first, so that a plan of
//! many zones never sends faster than that; the SDK's adaptive retry handles what other
//! callers in the account add.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// A burst of `burst` requests, then one every `interval` (a generic cell rate algorithm).
#[derive(Debug)]
pub struct Pace {
    /// When the next request would be due if requests came steadily.
    due: Mutex<Option<Instant>>,
    interval: Duration,
    burst: u32,
}

impl Pace {
    pub fn new(per_second: u32, burst: u32) -> Pace {
        Pace {
            due: Mutex::new(None),
            interval: Duration::from_secs(1) / per_second.max(1),
            burst: burst.max(1),
        }
    }

    /// Waits for this request's turn.
    pub async fn turn(&self) {
        let at = {
            let now = Instant::now();
            // A poisoned lock only means another task panicked mid-update: the time is still valid.
            let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
            let next = due.map_or(now, |d| d.max(now));
            *due = Some(next + self.interval);
            next.checked_sub(self.interval * (self.burst - 1))
                .map_or(now, |at| at.max(now))
        };
        tokio::time::sleep_until(at).await;
    }
}

/// The process's Route 53 pace: one request every 200 ms, so that no second holds more than
/// five.
pub fn route53() -> &'static Pace {
    static PACE: OnceLock<Pace> = OnceLock::new();
    PACE.get_or_init(|| Pace::new(5, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn five_at_once_then_five_a_second() {
        let pace = Pace::new(5, 5);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..15 {
            pace.turn().await;
            at.push((Instant::now() - start).as_millis());
        }
        assert_eq!(at[..5], [0, 0, 0, 0, 0]);
        assert_eq!(at[5..], [200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000]);
        // In no one-second window are there more than five requests after the first burst.
        for (i, t) in at.iter().enumerate().skip(5) {
            let window = at.iter().filter(|u| **u > t.saturating_sub(1000) && *u <= t).count();
            assert!(window <= 5, "{i}: {window} requests in the second up to {t} ms");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pace_lets_a_burst_through_again() {
        let pace = Pace::new(5, 5);
        for _ in 0..10 {
            pace.turn().await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let start = Instant::now();
        for _ in 0..5 {
            pace.turn().await;
        }
        assert_eq!((Instant::now() - start).as_millis(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_the_rate() {
        let pace = std::sync::Arc::new(Pace::new(5, 1));
        let start = Instant::now();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let pace = pace.clone();
                tokio::spawn(async move {
                    pace.turn().await;
                    (Instant::now() - start).as_millis()
                })
            })
            .collect();
        let mut at = Vec::new();
        for t in tasks {
            at.push(t.await.expect("task"));
        }
        at.sort();
        assert_eq!(at, [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
    }
}
