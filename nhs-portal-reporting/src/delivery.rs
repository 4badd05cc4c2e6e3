//! The delivery ratio: how much of what the portal generated has reached the Reporting Service
//! (WF-NFR-MI-06 asks for at least 98%), and how long the oldest waiting event has waited
//! (WF-NFR-MI-04: at most twelve hours), read from the store's outbox for metrics and alerts.

use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::store::{Outbox, StoreError};

/// Delivered / total and the oldest undelivered event's age, at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRatio {
    /// Events delivered.
    pub delivered: u64,
    /// Every event stored: delivered, waiting (including ones being retried) and set aside.
    pub total: u64,
    /// Events set aside after a permanent refusal (part of `total`, never delivered).
    pub quarantined: u64,
    /// How long the oldest waiting event has waited since it happened; `None` when none waits.
    pub oldest_undelivered_age: Option<Duration>,
}

impl DeliveryRatio {
    /// Reads it from `outbox` as of `now`.
    pub async fn read(outbox: &dyn Outbox, now: DateTime<Utc>) -> Result<Self, StoreError> {
        let stats = outbox.outbox_stats().await?;
        let oldest = outbox.oldest_waiting_event_at().await?;
        Ok(Self {
            delivered: stats.delivered,
            total: stats.delivered + stats.pending + stats.quarantined,
            quarantined: stats.quarantined,
            oldest_undelivered_age: oldest.map(|at| (now - at).max(Duration::zero())),
        })
    }

    /// `delivered / total`, 1.0 when nothing was generated.
    ///
    /// ```
    /// use nhs_portal_reporting::DeliveryRatio;
    /// let r = DeliveryRatio { delivered: 49, total: 50, quarantined: 0, oldest_undelivered_age: None };
    /// assert_eq!(r.ratio(), 0.98);
    /// ```
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.delivered as f64 / self.total as f64
        }
    }
}

impl std::fmt::Display for DeliveryRatio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "delivered {}/{}", self.delivered, self.total)?;
        if let Some(age) = self.oldest_undelivered_age {
            write!(f, ", oldest undelivered {}s old", age.num_seconds())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nhs_portal_core::ReportingEvent;
    use nhs_portal_core::store::memory::MemoryStore;

    fn event(at: DateTime<Utc>) -> ReportingEvent {
        ReportingEvent::DidNotAttend {
            at,
            appointment: nhs_portal_core::AppointmentId::parse("a-1").unwrap(),
        }
    }

    #[tokio::test]
    async fn the_ratio_counts_every_state_and_ages_the_oldest_waiting() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let empty = DeliveryRatio::read(&store, now).await.unwrap();
        assert_eq!((empty.total, empty.ratio()), (0, 1.0));
        assert_eq!(empty.oldest_undelivered_age, None);
        let at = |mins| now - Duration::minutes(mins);
        store
            .enqueue_events(&[event(at(90)), event(at(60)), event(at(30)), event(at(5))])
            .await
            .unwrap();
        let items = store
            .claim_events("t", 10, now, Duration::minutes(1))
            .await
            .unwrap();
        store.mark_delivered(&[items[0].id]).await.unwrap();
        store.quarantine(&[items[1].id], "bad").await.unwrap();
        let r = DeliveryRatio::read(&store, now).await.unwrap();
        assert_eq!((r.delivered, r.total, r.quarantined), (1, 4, 1));
        assert_eq!(r.ratio(), 0.25);
        assert_eq!(r.oldest_undelivered_age, Some(Duration::minutes(30)));
        assert_eq!(r.to_string(), "delivered 1/4, oldest undelivered 1800s old");
    }
}
