//! Wake-ups after commits. The bus is never the record: a waiter subscribes, then re-reads the
//! ledger from its cursor, then sleeps until woken — so a wake-up that races the read loses
//! nothing, and a missed one costs at most the waiter's timeout.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

#[derive(Debug, Default)]
pub struct Bus {
    jobs: Mutex<HashMap<String, watch::Sender<i64>>>,
}

impl Bus {
    /// A receiver that changes when `job_id` gets a new event. Subscribe before reading.
    pub fn subscribe(&self, job_id: &str) -> watch::Receiver<i64> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.entry(job_id.to_string()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Called after the commit of event `seq` of `job_id`.
    pub fn publish(&self, job_id: &str, seq: i64, terminal: bool) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = jobs.get(job_id) {
            sender.send_replace(seq);
            // Nobody listening, or nothing more will come: drop the channel. Woken receivers still
            // see the change they were sent.
            if terminal || sender.receiver_count() == 0 {
                jobs.remove(job_id);
            }
        }
    }

    pub fn watched_jobs(&self) -> usize {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_subscriber_is_woken_and_channels_do_not_leak() {
        let bus = Bus::default();
        let mut rx = bus.subscribe("J");
        bus.publish("J", 3, false);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 3);
        bus.publish("J", 4, true);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow_and_update(), 4);
        assert_eq!(bus.watched_jobs(), 0);
        bus.publish("unwatched", 1, false);
        assert_eq!(bus.watched_jobs(), 0);
    }
}
