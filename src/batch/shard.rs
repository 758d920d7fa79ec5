//! `--shard K/N`: this worker's share of the inputs, chosen by a hash of each relative path.
//!
//! The rule is part of warta's interface and never changes: a file belongs to shard
//! `1 + (u64::from_le_bytes(first 8 bytes of blake3(relative path)) mod N)`, the relative path being
//! UTF-8 with `/` separators. It depends on nothing else (not the machine, not the walk order, not the
//! other files), so every worker of a Slurm array or Kubernetes Indexed Job picks a disjoint share and
//! together they cover the archive.

use std::fmt;
use std::str::FromStr;

use super::BatchError;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The shard (1-based) that owns `rel` among `count` shards.
    pub fn owner(rel: &str, count: u64) -> u64 {
        let hash = blake3::hash(rel.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        1 + u64::from_le_bytes(first) % count
    }

    pub fn contains(&self, rel: &str) -> bool {
        Shard::owner(rel, self.count) == self.index
    }
}

impl FromStr for Shard {
    type Err = BatchError;

    fn from_str(spec: &str) -> Result<Shard, BatchError> {
        let bad = |reason: &str| BatchError::BadShard {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let (k, n) = spec
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 2/8 for the second of eight shards"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| bad("K is not a whole number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if n == 0 {
            return Err(bad("N must be at least 1"));
        }
        if k == 0 || k > n {
            return Err(bad(
                "K must be between 1 and N (shards are numbered from 1; with Slurm use \
                 $((SLURM_ARRAY_TASK_ID+1)), with Kubernetes $((JOB_COMPLETION_INDEX+1)))",
            ));
        }
        Ok(Shard { index: k, count: n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        assert_eq!(
            "2/8".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 8 }
        );
        for bad in ["0/3", "4/3", "1/0", "a/3", "3", "1/-2", ""] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("--shard"), "{bad}: {e}");
        }
    }

    #[test]
    fn shards_partition_and_are_stable() {
        let paths: Vec<String> = (0..300)
            .map(|i| format!("dir{}/file{i}.html", i % 7))
            .collect();
        let mut seen = vec![0; paths.len()];
        for k in 1..=3 {
            let shard = Shard { index: k, count: 3 };
            for (i, p) in paths.iter().enumerate() {
                seen[i] += usize::from(shard.contains(p));
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        // Pinned values: changing the rule would reshuffle every running deployment.
        let pinned: Vec<u64> = ["a/b/x.html", "kompas/2021/10/nato.html", "z.txt"]
            .iter()
            .map(|p| Shard::owner(p, 1000))
            .collect();
        assert_eq!(pinned, [866, 782, 450]);
    }
}
