//! Choosing the recovery point a drill restores: a pure function over the source's snapshots,
//! so every pick (and the seeded random one) is unit-tested without a repository.

use lifeboat_config::Pick;
use lifeboat_core::snapshot::SnapshotEntry;
use rand::{Rng, SeedableRng};

/// Why nothing could be picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    /// The source has no snapshots at all.
    #[error("source '{source_name}' has no snapshots in the repository: back it up first (`lifeboat backup --source {source_name}`)")]
    NoSnapshots {
        /// The source.
        source_name: String,
    },
    /// None within the random window.
    #[error("source '{source_name}' has no snapshots within the last {window}: widen the window or pick latest")]
    NoneInWindow {
        /// The source.
        source_name: String,
        /// The window as written.
        window: String,
    },
    /// The named snapshot is not one of the source's.
    #[error("snapshot '{id}' is not a snapshot of source '{source_name}' (or matches several); see `lifeboat snapshots`")]
    NotOfSource {
        /// The id asked.
        id: String,
        /// The source.
        source_name: String,
    },
}

/// Picks from `candidates` (the source's snapshots, oldest first). A random pick uses `seed`
/// when given, else a fresh one; the seed used is returned.
pub fn pick<'a>(
    candidates: &'a [SnapshotEntry],
    how: &Pick,
    source: &str,
    now: jiff::Timestamp,
    seed: Option<u64>,
) -> Result<(&'a SnapshotEntry, Option<u64>), PickError> {
    let none = || PickError::NoSnapshots {
        source_name: source.to_string(),
    };
    match how {
        Pick::Latest => candidates.last().map(|s| (s, None)).ok_or_else(none),
        Pick::Oldest => candidates.first().map(|s| (s, None)).ok_or_else(none),
        Pick::Snapshot(id) => {
            let matching: Vec<&SnapshotEntry> = candidates
                .iter()
                .filter(|s| s.id.starts_with(id.as_str()))
                .collect();
            match matching.as_slice() {
                [one] => Ok((one, None)),
                _ => Err(PickError::NotOfSource {
                    id: id.clone(),
                    source_name: source.to_string(),
                }),
            }
        }
        Pick::Random { within } => {
            if candidates.is_empty() {
                return Err(none());
            }
            let pool: Vec<&SnapshotEntry> = match within {
                None => candidates.iter().collect(),
                Some(w) => {
                    let span =
                        jiff::SignedDuration::try_from(*w).unwrap_or(jiff::SignedDuration::MAX);
                    let from = now.checked_sub(span).unwrap_or(jiff::Timestamp::MIN);
                    candidates
                        .iter()
                        .filter(|s| s.snapshot.timestamp() >= from)
                        .collect()
                }
            };
            if pool.is_empty() {
                return Err(PickError::NoneInWindow {
                    source_name: source.to_string(),
                    window: how.to_string().trim_start_matches("random:").to_string(),
                });
            }
            let seed = seed.unwrap_or_else(rand::random);
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let i = rng.gen_range(0..pool.len());
            Ok((pool[i], Some(seed)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn snap(id: &str, time: &str) -> SnapshotEntry {
        SnapshotEntry {
            id: id.into(),
            snapshot: serde_json::from_value(serde_json::json!({
                "time": time,
                "hostname": "h",
                "username": "u",
                "source": "files",
                "tree": "00".repeat(32),
                "program_version": "test",
            }))
            .unwrap(),
        }
    }

    fn list() -> Vec<SnapshotEntry> {
        vec![
            snap("aa11", "2026-11-01T00:00:00Z"),
            snap("bb22", "2026-11-20T00:00:00Z"),
            snap("cc33", "2026-11-30T00:00:00Z"),
        ]
    }

    fn now() -> jiff::Timestamp {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn latest_oldest_and_ids_pick_the_right_snapshot() {
        let l = list();
        assert_eq!(
            pick(&l, &Pick::Latest, "s", now(), None).unwrap().0.id,
            "cc33"
        );
        assert_eq!(
            pick(&l, &Pick::Oldest, "s", now(), None).unwrap().0.id,
            "aa11"
        );
        assert_eq!(
            pick(&l, &Pick::Snapshot("bb".into()), "s", now(), None)
                .unwrap()
                .0
                .id,
            "bb22"
        );
        assert!(matches!(
            pick(&l, &Pick::Snapshot("dd".into()), "s", now(), None),
            Err(PickError::NotOfSource { .. })
        ));
        assert!(matches!(
            pick(&[], &Pick::Latest, "s", now(), None),
            Err(PickError::NoSnapshots { .. })
        ));
    }

    #[test]
    fn random_pick_is_repeatable_with_its_seed_and_respects_the_window() {
        let l = list();
        let (first, seed) = pick(&l, &Pick::Random { within: None }, "s", now(), None).unwrap();
        let (again, _) = pick(&l, &Pick::Random { within: None }, "s", now(), seed).unwrap();
        assert_eq!(first.id, again.id);
        let window = Pick::Random {
            within: Some(Duration::from_secs(15 * 86_400)),
        };
        for s in 0..50 {
            let (p, _) = pick(&l, &window, "s", now(), Some(s)).unwrap();
            assert!(
                p.id == "bb22" || p.id == "cc33",
                "{} is outside the window",
                p.id
            );
        }
        let tiny = Pick::Random {
            within: Some(Duration::from_secs(3600)),
        };
        assert!(matches!(
            pick(&l, &tiny, "s", now(), None),
            Err(PickError::NoneInWindow { .. })
        ));
    }
}
