//! How well predicted times agree with measured ones, over a set of configurations: the
//! geometric-mean error (how far off, typically), the worst error, and Kendall's τ between the two
//! orderings (whether the model ranks configurations as the machine does).

/// Kendall's τ-b of two equally long samples: +1 when they order every pair alike, −1 when
/// opposite; ties in either count as neither (τ-b's correction). `None` below two points or when
/// one sample is constant.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> Option<f64> {
    assert_eq!(a.len(), b.len(), "kendall_tau: samples of different lengths");
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (da, db) = (a[i].total_cmp(&a[j]) as i64, b[i].total_cmp(&b[j]) as i64);
            match (da, db) {
                (0, 0) => {}
                (0, _) => ties_a += 1,
                (_, 0) => ties_b += 1,
                _ if da == db => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n_a = (concordant + discordant + ties_a) as f64;
    let n_b = (concordant + discordant + ties_b) as f64;
    (n_a > 0.0 && n_b > 0.0).then(|| (concordant - discordant) as f64 / (n_a * n_b).sqrt())
}

/// The largest `exp(|ln(predicted / measured)|) − 1` over the pairs (0 for none): half and
/// double are both 100% off, as in the geometric-mean error.
pub fn worst_error(pairs: impl IntoIterator<Item = (f64, f64)>) -> f64 {
    pairs.into_iter().map(|(p, m)| (p / m).ln().abs().exp() - 1.0).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tau_of_orders_alike_opposite_and_with_ties() {
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        // One swapped pair of three: (2 − 1) / 3.
        let tau = kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).unwrap();
        assert!((tau - 1.0 / 3.0).abs() < 1e-12);
        // τ-b with a tie in b (scipy.stats.kendalltau([1,2,3,4], [1,1,2,3]) = 0.9128709...).
        let tau = kendall_tau(&[1.0, 2.0, 3.0, 4.0], &[1.0, 1.0, 2.0, 3.0]).unwrap();
        assert!((tau - 0.912_870_929_175_276_8).abs() < 1e-12, "{tau}");
        assert_eq!(kendall_tau(&[1.0], &[2.0]), None);
        assert_eq!(kendall_tau(&[1.0, 1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn the_worst_error_is_symmetric_in_the_ratio() {
        assert!((worst_error([(1.1, 1.0), (0.5, 1.0), (2.0, 2.0)]) - 1.0).abs() < 1e-12);
        assert!((worst_error([(1.0, 1.25)]) - 0.25).abs() < 1e-12);
        assert_eq!(worst_error(std::iter::empty()), 0.0);
    }
}
