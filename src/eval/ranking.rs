//! Ranking metrics of a recommender under leave-last-out, in two protocols:
//!
//! - **sampled** (He et al. 2017, NCF): the held-out item is ranked among `1 + n` candidates, `n`
//!   (default 99) items the user never interacted with, sampled uniformly with a fixed seed (all
//!   unseen items when fewer exist: with a 40-offer catalogue this protocol is a full ranking).
//! - **full** (RecBole): the held-out item is ranked among every item the user has not interacted
//!   with in training/validation.
//!
//! Rank is 1-based and pessimistic on ties: a candidate scoring the same as the held-out item is
//! counted as ranked above it (a constant scorer gets the worst rank, not the best).
//! HR@K = 1 if rank ≤ K; NDCG@K = 1 / log2(rank + 1) if rank ≤ K, else 0; MRR = 1 / rank (no
//! cut-off). Catalogue coverage = distinct items in the full-ranking top-K lists of the evaluated
//! users / number of items.

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::interactions::{Pair, PositiveSet, sample_distinct_negatives};

/// Anything that scores every item for a batch of users.
pub trait Scorer {
    /// Number of items scored per user.
    fn n_items(&self) -> usize;
    /// Scores `[users.len(), n_items]`, row-major. Higher is better.
    fn score_users(&self, users: &[u32]) -> Vec<f32>;
}

/// The popularity baseline: every user gets the item's training positive count.
#[derive(Debug, Clone)]
pub struct Popularity {
    pub counts: Vec<f32>,
}

impl Popularity {
    /// Counts of `pairs` per item.
    pub fn fit(pairs: &[Pair], n_items: usize) -> Self {
        let mut counts = vec![0f32; n_items];
        for &(_, i) in pairs {
            counts[i as usize] += 1.0;
        }
        Self { counts }
    }
}

impl Scorer for Popularity {
    fn n_items(&self) -> usize {
        self.counts.len()
    }
    fn score_users(&self, users: &[u32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(users.len() * self.counts.len());
        for _ in users {
            out.extend_from_slice(&self.counts);
        }
        out
    }
}

/// 1-based pessimistic rank of `target` among `others` (ties count as ranked above).
pub fn rank_of(target: f32, others: impl IntoIterator<Item = f32>) -> usize {
    // NaN scores (never produced by a finite model) count as ranked above, like ties.
    1 + others
        .into_iter()
        .filter(|s| s.partial_cmp(&target) != Some(std::cmp::Ordering::Less))
        .count()
}

/// 1 if `rank ≤ k`.
pub fn hit(rank: usize, k: usize) -> f64 {
    if rank <= k { 1.0 } else { 0.0 }
}

/// `1 / log2(rank + 1)` if `rank ≤ k`, else 0 (one relevant item: IDCG = 1).
pub fn ndcg(rank: usize, k: usize) -> f64 {
    if rank <= k {
        1.0 / ((rank + 1) as f64).log2()
    } else {
        0.0
    }
}

/// Means over the evaluated users of one protocol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RankingMetrics {
    pub users: usize,
    pub hr: f64,
    pub ndcg: f64,
    pub mrr: f64,
}

impl RankingMetrics {
    /// Means of the ranks' metrics.
    pub fn from_ranks(ranks: &[usize], k: usize) -> Self {
        let n = ranks.len().max(1) as f64;
        Self {
            users: ranks.len(),
            hr: ranks.iter().map(|&r| hit(r, k)).sum::<f64>() / n,
            ndcg: ranks.iter().map(|&r| ndcg(r, k)).sum::<f64>() / n,
            mrr: ranks.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n,
        }
    }
}

/// The result of [`evaluate`] for one scorer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub k: usize,
    /// Negatives per user of the sampled protocol as configured (fewer when the user has fewer
    /// unseen items).
    pub sampled_negatives: usize,
    /// Mean candidates per user in the sampled protocol (1 + negatives actually drawn).
    pub sampled_candidates_mean: f64,
    /// He et al. 2017: 1 held-out + sampled negatives.
    pub sampled: RankingMetrics,
    /// RecBole: all items not in the user's history.
    pub full: RankingMetrics,
    /// Distinct items in the full-ranking top-K lists / items.
    pub coverage: f64,
}

/// How to run [`evaluate`].
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    pub k: usize,
    pub sampled_negatives: usize,
    /// Seed of the sampled negatives (the same for every scorer compared).
    pub seed: u64,
    /// Users scored per batch.
    pub batch_users: usize,
}

/// Indices of the `k` largest scores, best first, skipping `exclude`d items (ties: lower index
/// first).
pub fn top_k_indices(scores: &[f32], k: usize, exclude: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..scores.len() as u32).filter(|&j| !exclude(j)).collect();
    let cmp = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    if idx.len() > k && k > 0 {
        idx.select_nth_unstable_by(k - 1, cmp);
        idx.truncate(k);
    }
    idx.sort_unstable_by(cmp);
    idx.truncate(k);
    idx
}

/// Evaluates `scorer` on the held-out `test` pairs. `history` holds each user's known
/// positives other than the test item (training + validation): they are excluded from the full
/// ranking and never sampled as negatives.
pub fn evaluate(
    scorer: &dyn Scorer,
    test: &[Pair],
    history: &PositiveSet,
    opts: &EvalOptions,
) -> Evaluation {
    let n_items = scorer.n_items();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut sampled_ranks = Vec::with_capacity(test.len());
    let mut full_ranks = Vec::with_capacity(test.len());
    let mut covered = vec![false; n_items];
    let mut negatives = Vec::new();
    let mut candidates = 0usize;
    for chunk in test.chunks(opts.batch_users.max(1)) {
        let users: Vec<u32> = chunk.iter().map(|p| p.0).collect();
        let scores = scorer.score_users(&users);
        for (row, &(u, target)) in chunk.iter().enumerate() {
            let s = &scores[row * n_items..(row + 1) * n_items];
            let t = s[target as usize];
            sample_distinct_negatives(
                u,
                target,
                history,
                opts.sampled_negatives,
                &mut rng,
                &mut negatives,
            );
            candidates += 1 + negatives.len();
            sampled_ranks.push(rank_of(t, negatives.iter().map(|&j| s[j as usize])));
            let unseen = (0..n_items as u32)
                .filter(|&j| j != target && !history.contains(u, j))
                .map(|j| s[j as usize]);
            full_ranks.push(rank_of(t, unseen));
            for j in top_k_indices(s, opts.k, |j| history.contains(u, j)) {
                covered[j as usize] = true;
            }
        }
    }
    Evaluation {
        k: opts.k,
        sampled_negatives: opts.sampled_negatives,
        sampled_candidates_mean: candidates as f64 / test.len().max(1) as f64,
        sampled: RankingMetrics::from_ranks(&sampled_ranks, opts.k),
        full: RankingMetrics::from_ranks(&full_ranks, opts.k),
        coverage: covered.iter().filter(|&&c| c).count() as f64 / n_items.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_pessimistic_on_ties() {
        assert_eq!(rank_of(0.9, [0.1, 0.5]), 1);
        assert_eq!(rank_of(0.5, [0.1, 0.5, 0.7]), 3);
        assert_eq!(rank_of(1.0, [1.0, 1.0]), 3);
    }

    #[test]
    fn metrics_on_hand_computed_ranks() {
        // Ranks 1, 3, 12 at K = 10:
        // HR = (1 + 1 + 0) / 3 = 0.6667
        // NDCG = (1/log2(2) + 1/log2(4) + 0) / 3 = (1 + 0.5) / 3 = 0.5
        // MRR = (1 + 1/3 + 1/12) / 3 = 0.47222
        let m = RankingMetrics::from_ranks(&[1, 3, 12], 10);
        assert_eq!(m.users, 3);
        assert!((m.hr - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.ndcg - 0.5).abs() < 1e-12);
        assert!((m.mrr - (1.0 + 1.0 / 3.0 + 1.0 / 12.0) / 3.0).abs() < 1e-12);
        // Rank 2: NDCG = 1/log2(3) = 0.63093.
        assert!((ndcg(2, 10) - 0.630_929_753_571_457_4).abs() < 1e-12);
        assert_eq!(ndcg(11, 10), 0.0);
    }

    #[test]
    fn top_k_skips_excluded_and_orders_best_first() {
        let s = [0.1, 0.9, 0.5, 0.9, 0.3];
        assert_eq!(top_k_indices(&s, 3, |_| false), vec![1, 3, 2]);
        assert_eq!(top_k_indices(&s, 2, |j| j == 1), vec![3, 2]);
        assert_eq!(top_k_indices(&s, 10, |j| j < 3), vec![3, 4]);
    }

    /// Scores given per user.
    struct Fixed(Vec<Vec<f32>>);
    impl Scorer for Fixed {
        fn n_items(&self) -> usize {
            self.0[0].len()
        }
        fn score_users(&self, users: &[u32]) -> Vec<f32> {
            users
                .iter()
                .flat_map(|&u| self.0[u as usize].clone())
                .collect()
        }
    }

    #[test]
    fn evaluate_excludes_history_in_both_protocols() {
        // 2 users, 5 items. User 0 history {0}; test item 2. Scores: item 0 (history) is best
        // but excluded; unseen {1, 3, 4} score 0.3, 0.9, 0.1 → full rank of item 2 (0.5) = 2.
        // User 1 history {}; test item 4 scores lowest of 5 → full rank 5.
        let scorer = Fixed(vec![
            vec![1.0, 0.3, 0.5, 0.9, 0.1],
            vec![0.5, 0.4, 0.3, 0.2, 0.1],
        ]);
        let history = PositiveSet::new(2, 5, &[(0, 0)]);
        let opts = EvalOptions {
            k: 2,
            sampled_negatives: 99,
            seed: 1,
            batch_users: 1,
        };
        let e = evaluate(&scorer, &[(0, 2), (1, 4)], &history, &opts);
        // Fewer than 99 unseen items: the sampled protocol ranks among all of them too.
        assert_eq!(e.sampled, e.full);
        assert_eq!(e.sampled_candidates_mean, (4.0 + 5.0) / 2.0);
        assert_eq!(e.full.hr, 0.5);
        assert!((e.full.ndcg - 0.5 * 0.630_929_753_571_457_4).abs() < 1e-12);
        assert!((e.full.mrr - (0.5 + 0.2) / 2.0).abs() < 1e-12);
        // Top-2 lists: user 0 {3, 2}, user 1 {0, 1} → 4 of 5 items.
        assert!((e.coverage - 0.8).abs() < 1e-12);
    }
}
