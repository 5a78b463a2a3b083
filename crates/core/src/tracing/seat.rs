//! Seat rows as tickets write them.

/// The row number of a seat row as written on tickets: `12`, `12F`, `012A` → 12. The leading
/// digits count (after trimming); a row without leading digits (`A12`, ``) has no number and
/// is never near anyone — it is reported by the import, not guessed.
pub fn row_number(row: &str) -> Option<u32> {
    let row = row.trim();
    let digits = row.len() - row.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    row[..digits].parse().ok()
}
