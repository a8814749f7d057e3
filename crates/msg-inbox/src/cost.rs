//! Numbers written the way the Python original wrote them, so that files stay comparable.
//!
//! Python's `f"{x:.2f}"` rounds the exact binary value of the double, ties to even; Rust's
//! `{:.2}` does the same. The arithmetic must also happen in the same order on doubles:
//! `tokens / 1000 * 0.015`, so 5,000 tokens cost `$0.07` (0.075 is 0.07499… in binary), not
//! the `$0.08` the original's documentation shows.

/// `ESTIMATED_COST` for an estimate of `tokens`: `$` and two decimals of
/// `tokens / 1000 × $0.015`.
pub(crate) fn estimated_cost(tokens: u64) -> String {
    format!("${}", two_decimals(tokens as f64 / 1000.0 * 0.015))
}

/// A number with two decimals (`QUALITY_SCORE`).
pub(crate) fn two_decimals(value: f64) -> String {
    format!("{value:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Printed by CPython 3 (`f"${t/1000*0.015:.2f}"`), including the binary near-ties.
    const PYTHON_COSTS: &[(u64, &str)] = &[
        (0, "$0.00"),
        (1, "$0.00"),
        (100, "$0.00"),
        (333, "$0.00"),
        (334, "$0.01"),
        (500, "$0.01"),
        (666, "$0.01"),
        (667, "$0.01"),
        (1000, "$0.01"),
        (1500, "$0.02"),
        (2000, "$0.03"),
        (3000, "$0.04"),
        (3333, "$0.05"),
        (5000, "$0.07"),
        (7000, "$0.10"),
        (8500, "$0.13"),
        (9000, "$0.14"),
        (10000, "$0.15"),
        (12345, "$0.19"),
        (15000, "$0.22"),
        (25000, "$0.38"),
        (35000, "$0.53"),
        (45000, "$0.67"),
        (55000, "$0.82"),
        (65000, "$0.97"),
        (75000, "$1.12"),
        (85000, "$1.27"),
        (95000, "$1.43"),
        (99999, "$1.50"),
        (100000, "$1.50"),
        (123456, "$1.85"),
        (250000, "$3.75"),
        (1000000, "$15.00"),
        (16666667, "$250.00"),
    ];

    /// Printed by CPython 3 (`f"{q:.2f}"`): exact ties (0.125, 0.375, 0.625) go to even.
    const PYTHON_SCORES: &[(f64, &str)] = &[
        (0.0, "0.00"),
        (0.005, "0.01"),
        (0.015, "0.01"),
        (0.125, "0.12"),
        (0.375, "0.38"),
        (0.85, "0.85"),
        (0.87, "0.87"),
        (0.995, "0.99"),
        (1.0, "1.00"),
        (0.625, "0.62"),
        (0.335, "0.34"),
        (2.675, "2.67"),
    ];

    #[test]
    fn costs_match_the_python_original() {
        for &(tokens, expected) in PYTHON_COSTS {
            assert_eq!(estimated_cost(tokens), expected, "{tokens} tokens");
        }
    }

    #[test]
    fn scores_match_the_python_original() {
        for &(score, expected) in PYTHON_SCORES {
            assert_eq!(two_decimals(score), expected, "{score}");
        }
    }
}
