//! Metric tests on hand-computed cases. Each expected value has its derivation in a comment;
//! where sklearn documents the case, its docstring is cited.

use super::*;

const TOL: f64 = 1e-12;

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} != {b} (tol {tol})");
}

fn mat(data: &[f32], cols: usize) -> Matrix<'_> {
    Matrix::new(data, data.len() / cols, cols).unwrap()
}

#[test]
fn ari_sklearn_docstring_cases() {
    // sklearn adjusted_rand_score docstring: permuted labels are a perfect match.
    close(
        adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(),
        1.0,
        TOL,
    );
    // [0,0,1,2] vs [0,0,1,1]: row sums (true) [2,1,1], column sums (pred) [2,2], Σn_ij² = 6, n = 4.
    // tp = 6 − 4 = 2, fp = Σcol² − 6 = 8 − 6 = 2, fn = Σrow² − 6 = 6 − 6 = 0,
    // tn = 16 − 2 − 2 − 0 − 4 = 8. ARI = 2(2·8 − 0·2) / ((2+0)(0+8) + (2+2)(2+8)) = 32/56 = 4/7.
    close(
        adjusted_rand_index(&[0, 0, 1, 2], &[0, 0, 1, 1]).unwrap(),
        4.0 / 7.0,
        TOL,
    );
    // Symmetric in its arguments.
    close(
        adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap(),
        4.0 / 7.0,
        TOL,
    );
    // sklearn docstring: [0,0,1,1] vs [0,0,0,0] → 0.0 (every pair is "same cluster": tp = 4,
    // fp = 16 − 8 = 8, fn = 0, tn = 0 → 2(0 − 0) / … = 0).
    close(
        adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 0, 0]).unwrap(),
        0.0,
        TOL,
    );
    // sklearn docstring: [0,0,1,1] vs [0,1,0,1] → −0.5. Table [[1,1],[1,1]]: Σn_ij² = 4, tp = 0,
    // fp = fn = 8 − 4 = 4, tn = 16 − 0 − 4 − 4 − 4 = 4. ARI = 2(0 − 16)/((4)(8) + (4)(8)) = −0.5.
    close(
        adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(),
        -0.5,
        TOL,
    );
}

#[test]
fn ari_edge_cases() {
    // Single cluster on both sides, and all singletons on both sides: fn = fp = 0 → 1.0 (sklearn).
    close(
        adjusted_rand_index(&[3, 3, 3], &[7, 7, 7]).unwrap(),
        1.0,
        TOL,
    );
    close(
        adjusted_rand_index(&[0, 1, 2, 3], &[3, 2, 1, 0]).unwrap(),
        1.0,
        TOL,
    );
    // Single cluster vs all singletons: tp = 0, fp = 0, fn = 12, tn = 0 → 0.
    close(
        adjusted_rand_index(&[0, 0, 0, 0], &[0, 1, 2, 3]).unwrap(),
        0.0,
        TOL,
    );
}

#[test]
fn nmi_hand_computed() {
    // Perfect matches up to permutation (sklearn docstring).
    close(
        normalized_mutual_info(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(),
        1.0,
        TOL,
    );
    // [0,0,1,1] vs [0,0,1,2]: H(U) = ln 2; H(V) = −(½ln½ + 2·¼ln¼) = 1.5 ln 2.
    // MI = ½·ln(½/(½·½)) + 2·¼·ln(¼/(½·¼)) = ½ln2 + ½ln2 = ln 2.
    // NMI = ln2 / ((ln2 + 1.5 ln2)/2) = 1/1.25 = 0.8.
    close(
        normalized_mutual_info(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap(),
        0.8,
        1e-12,
    );
    // Independent labellings: table [[1,1],[1,1]], every p_ij = p_i p_j → MI = 0 → NMI = 0.
    close(
        normalized_mutual_info(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(),
        0.0,
        TOL,
    );
}

#[test]
fn nmi_edge_cases() {
    // sklearn docstring: [0,0,0,0] vs [0,1,2,3] → 0 (MI = 0).
    close(
        normalized_mutual_info(&[0, 0, 0, 0], &[0, 1, 2, 3]).unwrap(),
        0.0,
        TOL,
    );
    // Both single-cluster: 1.0 by sklearn's convention.
    close(
        normalized_mutual_info(&[5, 5, 5], &[1, 1, 1]).unwrap(),
        1.0,
        TOL,
    );
    // All singletons on both sides: MI = H(U) = H(V) = ln 4 → 1.0.
    close(
        normalized_mutual_info(&[0, 1, 2, 3], &[9, 8, 7, 6]).unwrap(),
        1.0,
        1e-12,
    );
}

#[test]
fn accuracy_uses_the_best_one_to_one_matching() {
    // Permutation: pred 1→true 0, pred 0→true 1; every row matched → 1.0.
    close(
        cluster_accuracy(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(),
        1.0,
        TOL,
    );
    // Contingency (true × pred) = [[2,1,0],[0,2,0],[0,0,1]] for the rows below; the best
    // matching is 0→0, 1→1, 2→2 with 2 + 2 + 1 = 5 hits out of 6.
    let t = [0, 0, 0, 1, 1, 2];
    let p = [0, 0, 1, 1, 1, 2];
    close(cluster_accuracy(&t, &p).unwrap(), 5.0 / 6.0, TOL);
    // A greedy matcher gets this one wrong. Table (true × pred) = [[3,3],[3,0]]: taking the
    // first largest cell (0→0, 3 hits) forces 1→1 (0 hits) = 3; the optimum 0→1 & 1→0 = 6 → 6/9.
    let t = [0, 0, 0, 0, 0, 0, 1, 1, 1];
    let p = [0, 0, 0, 1, 1, 1, 0, 0, 0];
    close(cluster_accuracy(&t, &p).unwrap(), 6.0 / 9.0, TOL);
}

#[test]
fn accuracy_with_more_clusters_than_classes() {
    // 3 predicted clusters, 2 classes: cluster 2 stays unmatched, its row counts as a miss.
    let t = [0, 0, 1, 1, 1];
    let p = [0, 0, 1, 1, 2];
    close(cluster_accuracy(&t, &p).unwrap(), 4.0 / 5.0, TOL);
    let pairs = match_clusters(&t, &p).unwrap();
    assert_eq!(pairs, vec![(0, 0), (1, 1)]);
    // The reverse: 3 classes, 2 clusters.
    close(cluster_accuracy(&p, &t).unwrap(), 4.0 / 5.0, TOL);
}

#[test]
fn hungarian_matches_brute_force_on_a_4x4() {
    // Weights chosen so the optimum (rows 0..4 → cols 2,0,3,1: 9 + 8 + 7 + 9 = 33) is not the
    // greedy choice. Brute force over all 24 permutations confirms it.
    let w = [
        9.0, 2.0, 9.0, 1.0, //
        8.0, 1.0, 3.0, 2.0, //
        1.0, 9.0, 3.0, 7.0, //
        2.0, 9.0, 1.0, 4.0,
    ];
    let a = max_weight_assignment(&w, 4, 4);
    let total: f64 = a.iter().enumerate().map(|(i, &j)| w[i * 4 + j]).sum();
    let mut best = 0.0f64;
    for p in permutations(4) {
        best = best.max(p.iter().enumerate().map(|(i, &j)| w[i * 4 + j]).sum());
    }
    close(total, best, TOL);
    close(total, 33.0, TOL);
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 1 {
        return vec![vec![0]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..n {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn external_metrics_reject_length_mismatch() {
    assert!(matches!(
        adjusted_rand_index(&[0, 1], &[0]),
        Err(ClusterError::LabelLength { .. })
    ));
    assert!(matches!(
        normalized_mutual_info(&[], &[]),
        Err(ClusterError::EmptyLabels)
    ));
}

/// Four 1-D points, two clusters: A = {0, 1}, B = {4, 5}.
const LINE: [f32; 4] = [0.0, 1.0, 4.0, 5.0];
const LINE_LABELS: [usize; 4] = [0, 0, 1, 1];

#[test]
fn silhouette_hand_computed() {
    // x=0: a = 1, b = (4 + 5)/2 = 4.5, s = 3.5/4.5. x=1: a = 1, b = (3 + 4)/2 = 3.5, s = 2.5/3.5.
    // By symmetry x=5 and x=4 mirror them. Mean = (3.5/4.5 + 2.5/3.5) / 2.
    let expected = (3.5 / 4.5 + 2.5 / 3.5) / 2.0;
    close(
        silhouette(mat(&LINE, 1), &LINE_LABELS, 4000, 0).unwrap(),
        expected,
        1e-12,
    );
}

#[test]
fn silhouette_singleton_cluster_scores_zero() {
    // Clusters {0, 1} and {10}: the singleton scores 0 (sklearn). x=0: a = 1, b = 10 → 0.9;
    // x=1: a = 1, b = 9 → 8/9. Mean over 3 rows = (0.9 + 8/9 + 0) / 3.
    let d = [0.0, 1.0, 10.0];
    close(
        silhouette(mat(&d, 1), &[0, 0, 1], 4000, 0).unwrap(),
        (0.9 + 8.0 / 9.0) / 3.0,
        1e-12,
    );
}

#[test]
fn silhouette_sampling_is_seeded() {
    let data: Vec<f32> = (0..600)
        .map(|i| (i % 300) as f32 + if i < 300 { 0.0 } else { 1000.0 })
        .collect();
    let labels: Vec<usize> = (0..600).map(|i| usize::from(i >= 300)).collect();
    let m = mat(&data, 1);
    let a = silhouette(m, &labels, 100, 3).unwrap();
    assert_eq!(a, silhouette(m, &labels, 100, 3).unwrap());
    let exact = silhouette(m, &labels, 4000, 3).unwrap();
    close(a, exact, 0.05);
}

#[test]
fn internal_metrics_reject_single_cluster_and_all_singletons() {
    let m = mat(&LINE, 1);
    for labels in [[0, 0, 0, 0], [0, 1, 2, 3]] {
        assert!(matches!(
            silhouette(m, &labels, 4000, 0),
            Err(ClusterError::DegenerateLabels { .. })
        ));
        assert!(matches!(
            calinski_harabasz(m, &labels),
            Err(ClusterError::DegenerateLabels { .. })
        ));
        assert!(matches!(
            davies_bouldin(m, &labels),
            Err(ClusterError::DegenerateLabels { .. })
        ));
    }
}

#[test]
fn calinski_harabasz_hand_computed() {
    // Centroids 0.5 and 4.5, grand mean 2.5. B = 2·(2)² + 2·(2)² = 16.
    // W = 4 · 0.5² = 1. CH = (16 / (2 − 1)) / (1 / (4 − 2)) = 32.
    close(
        calinski_harabasz(mat(&LINE, 1), &LINE_LABELS).unwrap(),
        32.0,
        1e-12,
    );
}

#[test]
fn calinski_harabasz_zero_within_dispersion_is_one() {
    let d = [1.0, 1.0, 3.0, 3.0];
    close(
        calinski_harabasz(mat(&d, 1), &LINE_LABELS).unwrap(),
        1.0,
        TOL,
    );
}

#[test]
fn davies_bouldin_hand_computed() {
    // s_A = s_B = 0.5 (each point 0.5 from its centroid), d_AB = 4. Both clusters score
    // (0.5 + 0.5)/4 = 0.25, mean 0.25.
    close(
        davies_bouldin(mat(&LINE, 1), &LINE_LABELS).unwrap(),
        0.25,
        1e-12,
    );
    // Three clusters on a line: {0,2} c=1 s=1; {10} c=10 s=0; {20,22} c=21 s=1.
    // R_A = max((1+0)/9, (1+1)/20) = 1/9; R_B = max(1/9, 1/11) = 1/9; R_C = max(1/11, 2/20) = 1/10.
    // DB = (1/9 + 1/9 + 1/10) / 3.
    let d = [0.0, 2.0, 10.0, 20.0, 22.0];
    let expected = (1.0 / 9.0 + 1.0 / 9.0 + 0.1) / 3.0;
    close(
        davies_bouldin(mat(&d, 1), &[0, 0, 1, 2, 2]).unwrap(),
        expected,
        1e-12,
    );
}

#[test]
fn davies_bouldin_zero_spread_is_zero() {
    let d = [1.0, 1.0, 3.0, 3.0];
    close(davies_bouldin(mat(&d, 1), &LINE_LABELS).unwrap(), 0.0, TOL);
}

#[test]
fn internal_metrics_ignore_label_values() {
    // Labels {7, 42} instead of {0, 1} give the same scores.
    let m = mat(&LINE, 1);
    let l = [42, 42, 7, 7];
    close(calinski_harabasz(m, &l).unwrap(), 32.0, 1e-12);
    close(davies_bouldin(m, &l).unwrap(), 0.25, 1e-12);
}

/// Cross-check against scikit-learn 1.9.1 on a formula-generated data set, produced by:
///
/// ```python
/// import numpy as np
/// from sklearn import metrics as M
/// from scipy.optimize import linear_sum_assignment
/// n, d = 60, 3
/// i = np.arange(n)[:, None]; j = np.arange(d)[None, :]
/// X = (((i * 31 + j * 17) % 23) / 5.0 + 4.0 * (i % 3)).astype(np.float32).astype(np.float64)
/// weak, strong = (i[:, 0] * 7 % 5) % 3, i[:, 0] % 3
/// M.silhouette_score(X, weak), M.calinski_harabasz_score(X, weak), M.davies_bouldin_score(X, weak)
/// M.silhouette_score(X, strong), M.calinski_harabasz_score(X, strong), M.davies_bouldin_score(X, strong)
/// t, p = i[:, 0] % 5, (i[:, 0] ** 2 + 3) % 7
/// M.normalized_mutual_info_score(t, p), M.adjusted_rand_score(t, p)
/// C = M.cluster.contingency_matrix(t, p); r, c = linear_sum_assignment(-C); C[r, c].sum() / n
/// ```
#[test]
fn matches_sklearn_on_a_formula_dataset() {
    let (n, d) = (60usize, 3usize);
    let x: Vec<f32> = (0..n)
        .flat_map(|i| {
            (0..d).map(move |j| ((i * 31 + j * 17) % 23) as f32 / 5.0 + 4.0 * (i % 3) as f32)
        })
        .collect();
    let m = mat(&x, d);
    let weak: Vec<usize> = (0..n).map(|i| (i * 7 % 5) % 3).collect();
    let strong: Vec<usize> = (0..n).map(|i| i % 3).collect();
    close(
        silhouette(m, &weak, 4000, 0).unwrap(),
        -0.056971092939509214,
        1e-9,
    );
    close(
        calinski_harabasz(m, &weak).unwrap(),
        0.0357006554773132,
        1e-9,
    );
    close(davies_bouldin(m, &weak).unwrap(), 138.4741614378888, 1e-7);
    close(
        silhouette(m, &strong, 4000, 0).unwrap(),
        0.5985341405022979,
        1e-9,
    );
    close(
        calinski_harabasz(m, &strong).unwrap(),
        185.5186762542134,
        1e-9,
    );
    close(
        davies_bouldin(m, &strong).unwrap(),
        0.6300752873592851,
        1e-9,
    );
    let t: Vec<usize> = (0..n).map(|i| i % 5).collect();
    let p: Vec<usize> = (0..n).map(|i| (i * i + 3) % 7).collect();
    close(
        normalized_mutual_info(&t, &p).unwrap(),
        0.012541663640444744,
        1e-12,
    );
    close(
        adjusted_rand_index(&t, &p).unwrap(),
        -0.04858209370995599,
        1e-12,
    );
    close(
        cluster_accuracy(&t, &p).unwrap(),
        0.23333333333333334,
        1e-12,
    );
}
