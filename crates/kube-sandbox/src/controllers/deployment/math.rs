//! The rolling-update arithmetic of the Deployment controller, as pure functions.
//!
//! Everything here follows `pkg/controller/deployment/util/deployment_util.go` and
//! `pkg/controller/deployment/{rolling,sync}.go` of Kubernetes: how `maxSurge` and
//! `maxUnavailable` resolve to numbers (the "fenceposts"), how far the new ReplicaSet may
//! grow, how far the old ones may shrink (unhealthy replicas first), and proportional
//! scaling when the replica count changes in the middle of a rollout. The controller feeds
//! these functions plain numbers and applies what they return; the tests below replay the
//! documented rollouts step by step.

/// An `IntOrString` of the rolling-update parameters: `3` or `"25%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i64),
    Percent(i64),
}

impl IntOrPercent {
    /// Reads a JSON value (`3`, `"3"`, `"25%"`); `None` when absent or malformed.
    pub fn from_json(v: &serde_json::Value) -> Option<IntOrPercent> {
        if let Some(n) = v.as_i64() {
            return Some(IntOrPercent::Int(n));
        }
        let s = v.as_str()?.trim();
        if let Some(p) = s.strip_suffix('%') {
            return p.parse().ok().map(IntOrPercent::Percent);
        }
        s.parse().ok().map(IntOrPercent::Int)
    }

    /// The value scaled against `total`, rounding percentages up or down.
    pub fn scaled(self, total: i64, round_up: bool) -> i64 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let x = p * total;
                if round_up {
                    (x + 99).div_euclid(100)
                } else {
                    x.div_euclid(100)
                }
            }
        }
    }
}

/// `(maxSurge, maxUnavailable)` as numbers for `replicas` (ResolveFenceposts): surge rounds
/// up, unavailability rounds down, and when both come out 0 unavailability becomes 1 so a
/// rollout can always progress.
pub fn resolve_fenceposts(
    max_surge: IntOrPercent,
    max_unavailable: IntOrPercent,
    replicas: i64,
) -> (i64, i64) {
    let surge = max_surge.scaled(replicas, true);
    let unavailable = max_unavailable.scaled(replicas, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The deployment parameters the arithmetic needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy {
    pub replicas: i64,
    /// `None` for `Recreate`.
    pub rolling: Option<(IntOrPercent, IntOrPercent)>,
}

impl Strategy {
    /// The documented defaults: RollingUpdate with 25% / 25%.
    pub fn rolling_default(replicas: i64) -> Strategy {
        Strategy {
            replicas,
            rolling: Some((IntOrPercent::Percent(25), IntOrPercent::Percent(25))),
        }
    }

    /// MaxSurge: 0 for Recreate.
    pub fn max_surge(&self) -> i64 {
        match self.rolling {
            Some((s, u)) => resolve_fenceposts(s, u, self.replicas).0,
            None => 0,
        }
    }

    /// MaxUnavailable: 0 for Recreate or 0 replicas, never more than `replicas`.
    pub fn max_unavailable(&self) -> i64 {
        match self.rolling {
            Some((s, u)) if self.replicas > 0 => {
                resolve_fenceposts(s, u, self.replicas).1.min(self.replicas)
            }
            _ => 0,
        }
    }

    /// `deployment.kubernetes.io/max-replicas`: replicas + maxSurge.
    pub fn max_replicas(&self) -> i64 {
        self.replicas + self.max_surge()
    }
}

/// What the arithmetic needs to know of one ReplicaSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RsCounts {
    /// `spec.replicas`.
    pub spec: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

/// The size the new ReplicaSet should have (NewRSNewReplicas): under RollingUpdate it may grow
/// until all ReplicaSets together reach `replicas + maxSurge`, never beyond `replicas`; under
/// Recreate it is simply `replicas`. `all_specs` includes the new ReplicaSet's own size.
pub fn new_rs_new_replicas(strategy: &Strategy, all_specs: i64, new_spec: i64) -> i64 {
    if strategy.rolling.is_none() {
        return strategy.replicas;
    }
    let max_total = strategy.replicas + strategy.max_surge();
    if all_specs >= max_total {
        return new_spec;
    }
    let scale_up = (max_total - all_specs).min(strategy.replicas - new_spec);
    new_spec + scale_up.max(0)
}

/// The target of the new ReplicaSet in one rolling sync (reconcileNewReplicaSet), or `None`
/// when it keeps its size.
pub fn reconcile_new(strategy: &Strategy, olds: &[RsCounts], new: RsCounts) -> Option<i64> {
    if new.spec == strategy.replicas {
        return None;
    }
    if new.spec > strategy.replicas {
        return Some(strategy.replicas);
    }
    let all: i64 = olds.iter().map(|r| r.spec).sum::<i64>() + new.spec;
    let target = new_rs_new_replicas(strategy, all, new.spec);
    (target != new.spec).then_some(target)
}

/// New sizes of the old ReplicaSets in one rolling sync (reconcileOldReplicaSets); `olds` is
/// ordered oldest first. Unhealthy replicas go first (they cost no availability), then old
/// replicas beyond `replicas - maxUnavailable` available pods. Returns one size per old
/// ReplicaSet (equal to its current size when untouched).
pub fn reconcile_old(strategy: &Strategy, olds: &[RsCounts], new: RsCounts) -> Vec<i64> {
    let mut sizes: Vec<i64> = olds.iter().map(|r| r.spec).collect();
    let old_pods: i64 = sizes.iter().sum();
    if old_pods == 0 {
        return sizes;
    }
    let all_pods = old_pods + new.spec;
    let min_available = strategy.replicas - strategy.max_unavailable();
    let new_unavailable = new.spec - new.available;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return sizes;
    }
    // cleanupUnhealthyReplicas
    let mut cleaned = 0;
    let mut available: Vec<i64> = olds.iter().map(|r| r.available).collect();
    for (i, rs) in olds.iter().enumerate() {
        if cleaned >= max_scaled_down {
            break;
        }
        if sizes[i] == 0 || sizes[i] == rs.available {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(sizes[i] - rs.available);
        sizes[i] -= down;
        available[i] = available[i].min(sizes[i]);
        cleaned += down;
    }
    // scaleDownOldReplicaSetsForRollingUpdate
    let available_pods: i64 = available.iter().sum::<i64>() + new.available;
    if available_pods <= min_available {
        return sizes;
    }
    let total = available_pods - min_available;
    let mut done = 0;
    for size in sizes.iter_mut() {
        if done >= total {
            break;
        }
        if *size == 0 {
            continue;
        }
        let down = (*size).min(total - done);
        *size -= down;
        done += down;
    }
    sizes
}

/// One ReplicaSet as proportional scaling sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleInput {
    pub spec: i64,
    /// `deployment.kubernetes.io/max-replicas` of the ReplicaSet, when present.
    pub annotated_max: Option<i64>,
    /// Creation order: larger is newer.
    pub age_rank: usize,
}

/// Proportional scaling (`scale` in sync.go) of several active ReplicaSets when the
/// Deployment's replica count changes mid-rollout. `status_replicas` is the Deployment's
/// `status.replicas`, used when a ReplicaSet lacks the max-replicas annotation. Returns the
/// new sizes, index for index.
pub fn proportional_sizes(
    strategy: &Strategy,
    status_replicas: i64,
    rss: &[ScaleInput],
) -> Vec<i64> {
    let active: Vec<usize> = (0..rss.len()).filter(|&i| rss[i].spec > 0).collect();
    let all: i64 = active.iter().map(|&i| rss[i].spec).sum();
    let allowed = if strategy.replicas > 0 {
        strategy.max_replicas()
    } else {
        0
    };
    let to_add = allowed - all;
    let mut order = active.clone();
    // Larger first; ties: newer first when adding, older first when removing.
    order.sort_by(|&a, &b| {
        rss[b].spec.cmp(&rss[a].spec).then_with(|| {
            if to_add > 0 {
                rss[b].age_rank.cmp(&rss[a].age_rank)
            } else {
                rss[a].age_rank.cmp(&rss[b].age_rank)
            }
        })
    });
    let mut sizes: Vec<i64> = rss.iter().map(|r| r.spec).collect();
    let mut added = 0;
    for &i in &order {
        if to_add == 0 || to_add == added {
            continue;
        }
        let rs = rss[i];
        let fraction = if strategy.replicas == 0 {
            -rs.spec
        } else {
            let annotated = rs.annotated_max.unwrap_or(status_replicas);
            if annotated == 0 {
                0
            } else {
                let target =
                    ((rs.spec * strategy.max_replicas()) as f64 / annotated as f64).round() as i64;
                target - rs.spec
            }
        };
        let allowed_left = to_add - added;
        let p = if to_add > 0 {
            fraction.min(allowed_left)
        } else {
            fraction.max(allowed_left)
        };
        sizes[i] += p;
        added += p;
    }
    if let Some(&first) = order.first()
        && to_add != 0
    {
        sizes[first] = (sizes[first] + to_add - added).max(0);
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntOrPercent::{Int, Percent};

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        assert_eq!(resolve_fenceposts(Percent(25), Percent(25), 10), (3, 2));
        assert_eq!(resolve_fenceposts(Percent(25), Percent(25), 1), (1, 0));
        assert_eq!(resolve_fenceposts(Percent(25), Percent(25), 4), (1, 1));
        assert_eq!(resolve_fenceposts(Percent(100), Percent(25), 3), (3, 0));
        assert_eq!(resolve_fenceposts(Int(2), Percent(50), 5), (2, 2));
    }

    #[test]
    fn fenceposts_both_zero_allow_one_unavailable() {
        assert_eq!(resolve_fenceposts(Int(0), Int(0), 3), (0, 1));
        assert_eq!(resolve_fenceposts(Percent(10), Percent(10), 0), (0, 1));
        assert_eq!(resolve_fenceposts(Int(0), Percent(20), 3), (0, 1));
    }

    #[test]
    fn int_or_percent_reads_numbers_strings_and_percentages() {
        assert_eq!(IntOrPercent::from_json(&serde_json::json!(3)), Some(Int(3)));
        assert_eq!(
            IntOrPercent::from_json(&serde_json::json!("25%")),
            Some(Percent(25))
        );
        assert_eq!(
            IntOrPercent::from_json(&serde_json::json!("2")),
            Some(Int(2))
        );
        assert_eq!(IntOrPercent::from_json(&serde_json::json!(null)), None);
    }

    #[test]
    fn max_unavailable_never_exceeds_replicas_and_recreate_has_no_fenceposts() {
        let s = Strategy {
            replicas: 2,
            rolling: Some((Int(0), Int(5))),
        };
        assert_eq!(s.max_unavailable(), 2);
        let r = Strategy {
            replicas: 3,
            rolling: None,
        };
        assert_eq!(
            (r.max_surge(), r.max_unavailable(), r.max_replicas()),
            (0, 0, 3)
        );
        assert_eq!(Strategy::rolling_default(10).max_replicas(), 13);
    }

    #[test]
    fn new_rs_grows_to_replicas_plus_surge() {
        let s = Strategy::rolling_default(10);
        assert_eq!(new_rs_new_replicas(&s, 10, 0), 3);
        assert_eq!(new_rs_new_replicas(&s, 13, 3), 3);
        assert_eq!(new_rs_new_replicas(&s, 11, 3), 5);
        assert_eq!(new_rs_new_replicas(&s, 3, 0), 10);
        assert_eq!(
            new_rs_new_replicas(
                &Strategy {
                    replicas: 4,
                    rolling: None
                },
                9,
                0
            ),
            4
        );
    }

    #[test]
    fn old_rs_cleanup_removes_unhealthy_replicas_first() {
        // 10 replicas, 25%/25%: the old RS has 4 unavailable pods, the new RS is full.
        let s = Strategy::rolling_default(10);
        let olds = [RsCounts {
            spec: 10,
            available: 6,
        }];
        let new = RsCounts {
            spec: 3,
            available: 3,
        };
        // maxScaledDown = 13 - 8 - 0 = 5: 4 unhealthy go, then available 9 - 8 = 1 more.
        assert_eq!(reconcile_old(&s, &olds, new), vec![5]);
    }

    #[test]
    fn old_rs_keeps_size_while_new_pods_are_unavailable() {
        let s = Strategy {
            replicas: 1,
            rolling: Some((Int(1), Int(0))),
        };
        let olds = [RsCounts {
            spec: 1,
            available: 1,
        }];
        assert_eq!(
            reconcile_old(
                &s,
                &olds,
                RsCounts {
                    spec: 1,
                    available: 0
                }
            ),
            vec![1]
        );
        assert_eq!(
            reconcile_old(
                &s,
                &olds,
                RsCounts {
                    spec: 1,
                    available: 1
                }
            ),
            vec![0]
        );
    }

    #[test]
    fn old_rs_scale_down_takes_oldest_first() {
        let s = Strategy {
            replicas: 4,
            rolling: Some((Int(0), Int(2))),
        };
        let olds = [
            RsCounts {
                spec: 2,
                available: 2,
            },
            RsCounts {
                spec: 2,
                available: 2,
            },
        ];
        assert_eq!(
            reconcile_old(
                &s,
                &olds,
                RsCounts {
                    spec: 0,
                    available: 0
                }
            ),
            vec![0, 2]
        );
    }

    /// Replays a rollout from `old` replicas to a new template: each sync runs the rolling
    /// steps of the real controller (new RS first, old RSs only when the new one did not
    /// move), then every pod becomes available. Returns the (old, new) sizes after each
    /// change and checks the availability and surge bounds at every step.
    fn rollout(s: Strategy, old: i64) -> Vec<(i64, i64)> {
        let mut old_rs = RsCounts {
            spec: old,
            available: old,
        };
        let mut new_rs: Option<RsCounts> = None;
        let mut steps = vec![(old, 0)];
        for _ in 0..50 {
            let before = (old_rs, new_rs);
            let mut new = new_rs.unwrap_or(RsCounts {
                spec: new_rs_new_replicas(&s, old_rs.spec, 0),
                available: 0,
            });
            let scaled_up = match reconcile_new(&s, &[old_rs], new) {
                Some(t) => {
                    new.spec = t;
                    true
                }
                None => false,
            };
            if !scaled_up {
                old_rs.spec = reconcile_old(&s, &[old_rs], new)[0];
                old_rs.available = old_rs.available.min(old_rs.spec);
            }
            new_rs = Some(new);
            assert!(
                old_rs.spec + new.spec <= s.max_replicas(),
                "surge bound broken"
            );
            assert!(
                old_rs.available + new.available >= s.replicas - s.max_unavailable(),
                "availability bound broken"
            );
            let changed = (old_rs, new_rs) != before;
            if changed {
                steps.push((old_rs.spec, new.spec));
            } else if old_rs.available == old_rs.spec && new.available == new.spec {
                break;
            }
            // The pods start and become available before the next sync.
            old_rs.available = old_rs.spec;
            new_rs = Some(RsCounts {
                spec: new.spec,
                available: new.spec,
            });
        }
        steps
    }

    #[test]
    fn rolling_update_ten_replicas_default_fenceposts_steps() {
        assert_eq!(
            rollout(Strategy::rolling_default(10), 10),
            vec![(10, 0), (8, 3), (8, 5), (3, 5), (3, 10), (0, 10)]
        );
    }

    #[test]
    fn rolling_update_one_replica_never_drops_below_one_ready() {
        let s = Strategy {
            replicas: 1,
            rolling: Some((Int(1), Int(0))),
        };
        assert_eq!(rollout(s, 1), vec![(1, 0), (1, 1), (0, 1)]);
    }

    #[test]
    fn rolling_update_one_replica_without_surge_goes_through_zero() {
        let s = Strategy {
            replicas: 1,
            rolling: Some((Int(0), Int(1))),
        };
        assert_eq!(rollout(s, 1), vec![(1, 0), (0, 0), (0, 1)]);
    }

    #[test]
    fn rolling_update_full_surge_starts_all_new_pods_at_once() {
        let s = Strategy {
            replicas: 3,
            rolling: Some((Percent(100), Percent(25))),
        };
        assert_eq!(rollout(s, 3), vec![(3, 0), (3, 3), (0, 3)]);
    }

    #[test]
    fn proportional_scaling_splits_new_replicas_by_size() {
        // 10 replicas mid-rollout (old 8 / new 5, max-replicas 13) scaled to 20: allowed 25.
        let s = Strategy::rolling_default(20);
        let rss = [
            ScaleInput {
                spec: 8,
                annotated_max: Some(13),
                age_rank: 0,
            },
            ScaleInput {
                spec: 5,
                annotated_max: Some(13),
                age_rank: 1,
            },
        ];
        let sizes = proportional_sizes(&s, 13, &rss);
        assert_eq!(sizes.iter().sum::<i64>(), 25);
        assert_eq!(sizes, vec![15, 10]);
    }

    #[test]
    fn proportional_scaling_to_zero_empties_everything() {
        let s = Strategy::rolling_default(0);
        let rss = [
            ScaleInput {
                spec: 3,
                annotated_max: Some(5),
                age_rank: 0,
            },
            ScaleInput {
                spec: 2,
                annotated_max: Some(5),
                age_rank: 1,
            },
        ];
        assert_eq!(proportional_sizes(&s, 5, &rss), vec![0, 0]);
    }
}
