//! NHS England's per-provider limits, shared out between several portal instances.
//!
//! NHS England sets its limits per provider, not per process: the Get Appointments API must
//! serve up to 60 requests per second (WF-NFR-03) and a provider may send at most 25 requests
//! per second to the Wayfinder Reporting Service (WF-NFR-MI-03). When a vendor runs several
//! portal instances behind a load balancer, each one holds its share: the limit divided by the
//! configured number of instances. This is the decision for every such limit (rather than a
//! counter shared through PostgreSQL): it needs no extra round trip on the PCA's hot path and
//! keeps working when the database is slow, at the price of a share left unused when the load
//! balancer spreads unevenly. Count an instance a rolling deployment adds while it runs.

use std::num::NonZeroU32;

/// Requests per second the PCA may send to the Get Appointments API (WF-NFR-03).
pub const PCA_API_PER_SECOND: u32 = 60;

/// Requests per second a provider may send to the Wayfinder Reporting Service (WF-NFR-MI-03).
pub const WAYFINDER_PER_SECOND: u32 = 25;

/// One instance's share of `limit` (per second) when `instances` share it: `limit / instances`.
///
/// ```
/// use std::num::NonZeroU32;
/// use nhs_portal_core::limits::per_instance;
/// assert_eq!(per_instance(60.0, NonZeroU32::new(4).unwrap()), 15.0);
/// ```
pub fn per_instance(limit: f64, instances: NonZeroU32) -> f64 {
    limit / f64::from(instances.get())
}

/// One instance's share of a whole-number limit (a count per second, a burst): rounded down,
/// so the instances together never exceed `limit`, but at least 1 so that an instance can
/// still work when there are more instances than the limit allows.
pub fn per_instance_whole(limit: u32, instances: NonZeroU32) -> u32 {
    (limit / instances.get()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[test]
    fn each_instance_holds_its_share() {
        // (limit, instances, share, whole share)
        let table = [
            (60, 1, 60.0, 60),
            (60, 2, 30.0, 30),
            (60, 4, 15.0, 15),
            (25, 1, 25.0, 25),
            (25, 4, 6.25, 6),
            (25, 3, 25.0 / 3.0, 8),
            (25, 25, 1.0, 1),
            (25, 40, 0.625, 1),
        ];
        for (limit, instances, share, whole) in table {
            assert_eq!(
                per_instance(f64::from(limit), n(instances)),
                share,
                "{limit} over {instances}"
            );
            assert_eq!(
                per_instance_whole(limit, n(instances)),
                whole,
                "{limit} over {instances}, whole"
            );
        }
    }

    #[test]
    fn the_instances_together_never_exceed_the_limit_unless_each_needs_one() {
        for limit in [PCA_API_PER_SECOND, WAYFINDER_PER_SECOND] {
            for instances in 1..=limit {
                assert!(per_instance_whole(limit, n(instances)) * instances <= limit);
            }
        }
    }
}
