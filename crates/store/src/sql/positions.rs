//! Queue positions in SQL: the expression both backends count a queued task's place with.
//! (It expands `st!` where it is used, so callers bring `crate::states::st` into scope.)

/// A task's queue position as a correlated expression over the task's own row `t`: counters
/// for whole ranks and whole buckets ahead, and an index range for the rest of its bucket (see
/// migrations/sqlite/0002_queue_counts.sql). The range is counted from whichever end of the
/// bucket is nearer in seqs: from the bucket's start (the tasks before `t`), or from `t` to
/// the bucket's end or the newest seq (the tasks after `t`, taken from the whole bucket's
/// counter). A create reads its own position just after inserting the newest seq, so it
/// counts the few tasks inserted since rather than up to 4,095 before it.
macro_rules! position_of_t {
    () => {
        concat!("CAST((SELECT coalesce(sum(n), 0) FROM queue_rank_counts r WHERE r.pool = t.pool AND r.rank > t.rank)
            + CASE WHEN (t.seq & 4095) <= 4096 - (t.seq & 4095)
                        AND (t.seq & 4095) <= (SELECT max(m.seq) FROM tasks m) + 1 - t.seq
              THEN (SELECT coalesce(sum(n), 0) FROM queue_counts c
                     WHERE c.pool = t.pool AND c.rank = t.rank AND c.bucket < (t.seq >> 12))
                 + (SELECT count(*) FROM tasks u WHERE u.pool = t.pool AND u.state = ", st!(queued), "
                     AND u.rank = t.rank AND u.seq >= ((t.seq >> 12) << 12) AND u.seq < t.seq)
              ELSE (SELECT coalesce(sum(n), 0) FROM queue_counts c
                     WHERE c.pool = t.pool AND c.rank = t.rank AND c.bucket <= (t.seq >> 12))
                 - CASE WHEN t.state = ", st!(queued), " THEN 1 ELSE 0 END
                 - (SELECT count(*) FROM tasks u WHERE u.pool = t.pool AND u.state = ", st!(queued), "
                     AND u.rank = t.rank AND u.seq > t.seq AND u.seq < (((t.seq >> 12) + 1) << 12))
              END AS BIGINT)")
    };
}
pub(crate) use position_of_t;
