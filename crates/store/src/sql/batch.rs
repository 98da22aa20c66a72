//! Multi-row statements: `n` rows go as statements of 64, 32, 16, 8, 4, 2 and 1 rows, seven
//! texts in all, each assembled once, so every shape stays in the connection's statement
//! cache. (One text per batch size would be up to 64 shapes, and preparing one costs about as
//! much as the insert itself.) Placeholders are numbered (`$1`, `$2`, …), which both
//! backends read.

use std::sync::Arc;

/// Most rows one statement carries (far below either backend's parameter limit for the
/// widest row here, 13 parameters).
pub(crate) const MAX_ROWS: usize = 64;

/// `n` as a sum of powers of two no larger than `MAX_ROWS`, largest first.
pub(crate) fn chunk_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    let mut size = MAX_ROWS;
    std::iter::from_fn(move || {
        while size > n {
            size /= 2;
        }
        (n > 0).then(|| {
            n -= size;
            size
        })
    })
}

/// The texts of one multi-row statement, for 1, 2, 4, … 64 rows.
#[derive(Debug)]
pub(crate) struct MultiRow {
    texts: Vec<Arc<str>>,
}

impl MultiRow {
    /// `head VALUES row, row, … tail`, where each `?` in `row` is the next numbered parameter.
    pub(crate) fn new(head: &str, row: &str, tail: &str) -> MultiRow {
        let texts = (0..=MAX_ROWS.trailing_zeros())
            .map(|shift| {
                let mut n = 0;
                let rows: Vec<String> = (0..1usize << shift)
                    .map(|_| {
                        row.split('?').enumerate().fold(String::new(), |mut out, (i, piece)| {
                            if i > 0 {
                                n += 1;
                                out.push_str(&format!("${n}"));
                            }
                            out.push_str(piece);
                            out
                        })
                    })
                    .collect();
                Arc::from(format!("{head} VALUES {} {tail}", rows.join(", ")))
            })
            .collect();
        MultiRow { texts }
    }

    /// The text for `rows` rows (a power of two up to `MAX_ROWS`).
    pub(crate) fn text(&self, rows: usize) -> &Arc<str> {
        debug_assert!(rows.is_power_of_two() && rows <= MAX_ROWS);
        &self.texts[rows.trailing_zeros() as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_power_of_two_statements() {
        for n in 0..300 {
            let sizes: Vec<usize> = chunk_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n, "{n}: every row once");
            assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= 64), "{n}: {sizes:?}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{n}: largest first");
        }
        assert_eq!(chunk_sizes(100).collect::<Vec<_>>(), [64, 32, 4]);
    }

    #[test]
    fn each_shape_numbers_its_parameters_in_order() {
        let m = MultiRow::new("INSERT INTO t (a, b, c)", "(?, 'x', ?)", "RETURNING a");
        assert_eq!(m.text(1).as_ref(), "INSERT INTO t (a, b, c) VALUES ($1, 'x', $2) RETURNING a");
        assert_eq!(
            m.text(2).as_ref(),
            "INSERT INTO t (a, b, c) VALUES ($1, 'x', $2), ($3, 'x', $4) RETURNING a"
        );
        for size in chunk_sizes(127) {
            assert_eq!(m.text(size).matches("'x'").count(), size, "{size}");
            assert!(m.text(size).contains(&format!("${}", 2 * size)));
        }
    }
}
