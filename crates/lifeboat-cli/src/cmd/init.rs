//! `lifeboat init`.

use crate::{output, session::Session};
use anyhow::Result;
use clap::Args;
use lifeboat_ops::init::{self, InitRequest};

/// `lifeboat init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Minimum chunk size in KiB
    #[arg(long, default_value_t = 32)]
    chunk_min_kib: u32,
    /// Average chunk size in KiB
    #[arg(long, default_value_t = 128)]
    chunk_avg_kib: u32,
    /// Maximum chunk size in KiB
    #[arg(long, default_value_t = 512)]
    chunk_max_kib: u32,
    /// zstd compression level (0 = off)
    #[arg(long, default_value_t = 3)]
    compression: i32,
    /// Target pack size in MiB
    #[arg(long, default_value_t = 16)]
    pack_size_mib: u32,
    /// Do not train a compression dictionary from the first backup's data (by default new data
    /// blobs are compressed with 16 KiB of history picked from the repository's own data)
    #[arg(long)]
    no_compression_dictionary: bool,
    /// Give every object S3 Object Lock retention: MODE:DAYS (COMPLIANCE or GOVERNANCE)
    #[arg(long, value_name = "MODE:DAYS")]
    object_lock: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Runs `lifeboat init`.
pub fn run(s: &Session, a: &InitArgs) -> Result<i32> {
    let (named, password) = s.location_and_password(true)?;
    let configured_lock = s
        .repo
        .as_deref()
        .and_then(|r| r.strip_prefix('@'))
        .and_then(|n| s.config().ok().flatten()?.repositories.get(n)?.object_lock)
        .map(|l| l.to_string());
    let req = InitRequest {
        chunk_min_kib: a.chunk_min_kib,
        chunk_avg_kib: a.chunk_avg_kib,
        chunk_max_kib: a.chunk_max_kib,
        compression: a.compression,
        pack_size_mib: a.pack_size_mib,
        compression_dictionary: !a.no_compression_dictionary,
        object_lock: a.object_lock.clone().or(configured_lock),
    };
    let (_, info) = init::init(&s.ctx, &named.location, &password, &req)?;
    if a.json {
        output::json(&info);
    } else {
        println!(
            "created lifeboat repository {} at {}",
            &info.id[..10],
            info.location
        );
        println!("Keep your password safe: without it the data cannot be recovered.");
    }
    Ok(0)
}
