//! Synthetic but schema-faithful pgBackRest data at scale: an info document with thousands of
//! backup sets across several repos (full / diff / incr chains, as `pgbackrest info
//! --output=json` prints them for 2.45) and a repo listing with as many WAL files as asked (as
//! `pgbackrest repo-ls --recurse --output=json` prints them). Used by the planning benchmark
//! and the peak-memory measurement.

#![allow(dead_code)]

use std::fmt::Write as _;

/// Segment size: 16 MiB.
const SEG: u64 = 16 * 1024 * 1024;
/// First backup time (epoch seconds).
const T0: u64 = 1_795_000_000;

/// The generated documents.
pub(crate) struct Synthetic {
    /// `pgbackrest info --output=json`.
    pub(crate) info: String,
    /// `repo-ls` of repo 1's archive.
    pub(crate) listing: String,
    /// A time inside the window, near its end (for a time target).
    pub(crate) target_time: String,
    /// Stop time of the newest set.
    pub(crate) last_stop: u64,
}

fn segment(segno: u64) -> String {
    format!("00000001{:08X}{:08X}", segno >> 8, segno & 0xFF)
}

fn label(t: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(t).unwrap())
        .unwrap()
        .strftime("%Y%m%d-%H%M%S")
        .to_string()
}

/// `sets` backup sets spread over `repos` repos and a listing of `wal_files` WAL files.
pub(crate) fn generate(sets: usize, repos: u32, wal_files: u64) -> Synthetic {
    // Sets are spaced evenly over the WAL; every 10th set of a repo is full, then diffs and
    // incrs in a chain.
    let spacing = (wal_files / sets as u64).max(2);
    let mut backups = String::new();
    let mut last_stop = 0;
    let per_repo = sets.div_ceil(repos as usize);
    for repo in 1..=repos {
        let mut full = String::new();
        let mut prior = String::new();
        let mut chain: Vec<String> = Vec::new();
        for i in 0..per_repo {
            let n = (i * repos as usize + (repo as usize - 1)) as u64;
            let start_seg = 2 + n * spacing;
            let stop_seg = start_seg + 1;
            let start_t = T0 + n * 60;
            let stop_t = start_t + 30;
            last_stop = last_stop.max(stop_t);
            let (kind, lbl) = if i % 10 == 0 {
                full = format!("{}F", label(start_t));
                chain.clear();
                ("full", full.clone())
            } else if i % 10 == 5 {
                ("diff", format!("{full}_{}D", label(start_t)))
            } else {
                ("incr", format!("{full}_{}I", label(start_t)))
            };
            let (prior_json, reference) = if kind == "full" {
                ("null".to_owned(), "null".to_owned())
            } else {
                if kind == "diff" {
                    chain.truncate(1);
                }
                let refs: Vec<String> = chain.iter().map(|l| format!("\"{l}\"")).collect();
                (format!("\"{prior}\""), format!("[{}]", refs.join(",")))
            };
            if !backups.is_empty() {
                backups.push(',');
            }
            let _ = write!(
                backups,
                r#"{{"archive":{{"start":"{}","stop":"{}"}},"backrest":{{"format":5,"version":"2.45"}},"database":{{"id":1,"repo-key":{repo}}},"error":false,"info":{{"delta":1564938,"repository":{{"delta":160272,"size":2819484}},"size":23131830}},"label":"{lbl}","lsn":{{"start":"{:X}/{:X}","stop":"{:X}/{:X}"}},"prior":{prior_json},"reference":{reference},"timestamp":{{"start":{start_t},"stop":{stop_t}}},"type":"{kind}"}}"#,
                segment(start_seg),
                segment(stop_seg),
                (start_seg * SEG) >> 32,
                (start_seg * SEG + 0x28) & 0xFFFF_FFFF,
                (stop_seg * SEG) >> 32,
                (stop_seg * SEG + 0x100) & 0xFFFF_FFFF,
            );
            prior.clone_from(&lbl);
            chain.push(lbl);
        }
    }
    let archives: Vec<String> = (1..=repos)
        .map(|r| {
            format!(
                r#"{{"database":{{"id":1,"repo-key":{r}}},"id":"15-1","max":"{}","min":"{}"}}"#,
                segment(wal_files),
                segment(1)
            )
        })
        .collect();
    let dbs: Vec<String> = (1..=repos)
        .map(|r| {
            format!(r#"{{"id":1,"repo-key":{r},"system-id":7711466294027581737,"version":"15"}}"#)
        })
        .collect();
    let repo_status: Vec<String> = (1..=repos)
        .map(|r| format!(r#"{{"cipher":"none","key":{r},"status":{{"code":0,"message":"ok"}}}}"#))
        .collect();
    let info = format!(
        r#"[{{"archive":[{}],"backup":[{backups}],"cipher":"none","db":[{}],"name":"bench","repo":[{}],"status":{{"code":0,"lock":{{"backup":{{"held":false}}}},"message":"ok"}}}}]"#,
        archives.join(","),
        dbs.join(","),
        repo_status.join(",")
    );

    let mut listing = String::from(r#"{".":{"type":"path"}"#);
    for segno in 1..=wal_files {
        let name = segment(segno);
        let t = T0 + segno * 60 / spacing;
        let _ = write!(
            listing,
            r#","{}/{name}-{:040x}.zst":{{"type":"file","size":{},"time":{t}}}"#,
            &name[..16],
            segno.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            600 + segno % 4000
        );
    }
    listing.push('}');
    let target = last_stop - 300;
    Synthetic {
        info,
        listing,
        target_time: jiff::Timestamp::from_second(i64::try_from(target).unwrap())
            .unwrap()
            .strftime("%Y-%m-%d %H:%M:%S+00")
            .to_string(),
        last_stop,
    }
}
