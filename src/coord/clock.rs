//! The clock: every input's frontier follows the wall clock when nothing is written, so reads
//! happen at the current time and rows whose temporal filter (now()) lets them expire leave the
//! views on time, with no writes to carry the time forward.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{now_ms, Command, Coordinator};

/// How often the clock advances the inputs when nothing is written: the resolution of
/// temporal filters, and how stale a read can be on an idle server.
const TICK: std::time::Duration = std::time::Duration::from_millis(100);

impl Coordinator {
    /// Advances every input's frontier with the wall clock, every `TICK`, when nothing is
    /// written: reads then happen at the current time, and rows whose temporal filter (now())
    /// lets them expire leave the views on time, with no writes to carry the time forward.
    pub(super) fn start_clock(self: &Arc<Self>) {
        let coord = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("runnel-clock".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                match coord.upgrade() {
                    Some(c) => c.tick(),
                    None => return,
                }
            })
            .expect("spawning a thread");
    }

    fn tick(&self) {
        let mut st = self.lock();
        let now = now_ms();
        if st.replaying || now <= st.write_ts {
            return;
        }
        // Later writes are timed after `now`; the workers learn of it behind earlier writes.
        st.write_ts = now;
        let (workers, read_ts) = (Arc::clone(&self.workers), Arc::clone(&self.read_ts));
        self.log.after_pending(move || {
            workers.broadcast(|| Command::AdvanceTo {
                time: now + 1,
                since: now.saturating_sub(super::workers::SINCE_LAG),
            });
            read_ts.store(now, Ordering::SeqCst);
        });
    }
}
