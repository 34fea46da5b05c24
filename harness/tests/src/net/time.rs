//! Simulated time in a [`Net`]: it starts at [`t0`] and moves only when a test runs the
//! network, to the next deadline of an online engine (or by a fixed amount with
//! [`Net::advance`]). Each step delivers everything queued first (see
//! [`delivery`](super::delivery)).

use super::Net;

/// The start of simulated time: today's midnight (UTC). OpenMLS checks KeyPackage lifetimes
/// against the wall clock, so simulated time must stay near it.
pub fn t0() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64;
    now - now % 86_400_000
}

impl Net {
    /// Runs member `i`'s timers at the current time and carries out what it does.
    fn tick(&mut self, i: usize) {
        let out = self.members[i]
            .engine
            .tick(self.now)
            .unwrap_or_else(|e| panic!("member {i} failed on a tick: {e}"));
        self.apply(i, out);
    }

    /// Runs until nothing is queued and no deadline of an online member falls within `max_ms`
    /// from now. The clock stops at the last deadline run.
    pub fn run(&mut self, max_ms: u64) {
        let end = self.now.plus_ms(max_ms);
        loop {
            self.flush();
            let next = self
                .members
                .iter()
                .filter(|m| m.online)
                .filter_map(|m| m.engine.next_deadline())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.members.len() {
                        if self.members[i].online
                            && self.members[i]
                                .engine
                                .next_deadline()
                                .is_some_and(|d| d <= self.now)
                        {
                            self.tick(i);
                        }
                    }
                }
                _ => break,
            }
        }
    }

    /// Advances the clock by `ms`, running everything due meanwhile, then ticks every online
    /// member at the new time and delivers what that causes.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now.plus_ms(ms);
        self.run(ms);
        self.now = target;
        for i in 0..self.members.len() {
            if self.members[i].online {
                self.tick(i);
            }
        }
        self.flush();
    }
}
