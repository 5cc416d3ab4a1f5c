//! Configured sources and policies (`lifeboat-config`) as operation requests, so every front
//! end (`backup --source`, the scheduler, restore points) runs a configured source the same
//! way.

use crate::backup::{
    self, BackupReport, DatabaseSelection, FilesRequest, Method, PhysicalReport, PhysicalRequest,
    PostgresReport, PostgresRequest, SnapshotLabels, SqliteReport, SqliteRequest, StreamRequest,
};
use crate::filter::SnapshotFilter;
use crate::forget::Policy;
use crate::open::Location;
use crate::{Context, OpsError, Result};
use lifeboat_config::{
    Checkpoint, CountRows, PgDatabases, PhysicalMethod, RepositoryConfig, RetentionPolicy, Source,
    SourceKind, SqliteCheck,
};
use lifeboat_core::Repository;
use lifeboat_postgres::counts::RowCounts;
use lifeboat_storage::choose::S3Overrides;
use serde::Serialize;

/// The backup a configured source asks for.
#[derive(Clone, Debug)]
pub enum SourceRequest {
    /// `kind = "files"`.
    Files(FilesRequest),
    /// `kind = "command"`.
    Command(StreamRequest),
    /// `kind = "postgres"`.
    Postgres(PostgresRequest),
    /// `kind = "postgres-physical"`.
    PostgresPhysical(PhysicalRequest),
    /// `kind = "sqlite"`.
    Sqlite(SqliteRequest),
}

impl SourceRequest {
    /// The request of `source`.
    pub fn of(source: &Source) -> Result<SourceRequest> {
        let labels = SnapshotLabels {
            tags: source.tags.clone(),
            host: source.host.clone(),
        };
        Ok(match &source.kind {
            SourceKind::Files(f) => SourceRequest::Files(FilesRequest {
                paths: f.paths.clone(),
                excludes: f.exclude.clone(),
                one_file_system: f.one_file_system,
                no_xattrs: !f.xattrs,
                labels,
                ..Default::default()
            }),
            SourceKind::Command(c) => SourceRequest::Command(StreamRequest {
                name: c.stream_name.clone(),
                command: c.command.clone(),
                content_type: None,
                labels,
            }),
            SourceKind::Postgres(pg) => SourceRequest::Postgres(PostgresRequest {
                dsn: pg.dsn.clone(),
                databases: match &pg.databases {
                    PgDatabases::FromDsn => DatabaseSelection::FromDsn,
                    PgDatabases::Named(d) => DatabaseSelection::Named(d.clone()),
                    PgDatabases::All => DatabaseSelection::All,
                },
                count_rows: match &pg.count_rows {
                    CountRows::All => RowCounts::All,
                    CountRows::None => RowCounts::None,
                    CountRows::Tables(t) => RowCounts::Tables(t.clone()),
                },
                labels,
            }),
            SourceKind::PostgresPhysical(pg) => SourceRequest::PostgresPhysical(PhysicalRequest {
                dsn: pg.dsn.clone(),
                cluster: pg.cluster.clone(),
                fast_checkpoint: matches!(pg.checkpoint, Checkpoint::Fast),
                wal_timeout_seconds: pg.wal_timeout.as_secs(),
                include_wal: false,
                method: match pg.method {
                    PhysicalMethod::Auto => Method::Auto,
                    PhysicalMethod::Copy => Method::Copy,
                    PhysicalMethod::PgBasebackup => Method::PgBasebackup,
                },
                force: false,
                labels,
            }),
            SourceKind::Sqlite(s) => SourceRequest::Sqlite(SqliteRequest {
                paths: s.paths.clone(),
                block_size: None,
                check: match s.check {
                    SqliteCheck::Full => lifeboat_sqlite::Check::Full,
                    SqliteCheck::Quick => lifeboat_sqlite::Check::Quick,
                    SqliteCheck::Pragma => lifeboat_sqlite::Check::Pragma,
                },
                labels,
            }),
        })
    }

    /// The tags and host every kind records.
    pub fn labels_mut(&mut self) -> &mut SnapshotLabels {
        match self {
            SourceRequest::Files(r) => &mut r.labels,
            SourceRequest::Command(r) => &mut r.labels,
            SourceRequest::Postgres(r) => &mut r.labels,
            SourceRequest::PostgresPhysical(r) => &mut r.labels,
            SourceRequest::Sqlite(r) => &mut r.labels,
        }
    }
}

/// What backing up a source stored.
// One per backup, returned once: boxing would only add an indirection for every caller.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum SourceReport {
    /// A file or stream snapshot.
    Snapshot(BackupReport),
    /// One snapshot per dumped database.
    Postgres(Vec<PostgresReport>),
    /// A base backup.
    PostgresPhysical(PhysicalReport),
    /// One snapshot per SQLite database.
    Sqlite(Vec<SqliteReport>),
}

/// Backs up a configured source.
pub fn backup(ctx: &Context, repo: &Repository, req: &SourceRequest) -> Result<SourceReport> {
    Ok(match req {
        SourceRequest::Files(r) => SourceReport::Snapshot(backup::files(ctx, repo, r)?),
        SourceRequest::Command(r) => SourceReport::Snapshot(backup::command(ctx, repo, r)?),
        SourceRequest::Postgres(r) => SourceReport::Postgres(backup::postgres(ctx, repo, r)?),
        SourceRequest::PostgresPhysical(r) => {
            SourceReport::PostgresPhysical(backup::postgres_physical(ctx, repo, r)?)
        }
        SourceRequest::Sqlite(r) => SourceReport::Sqlite(backup::sqlite(ctx, repo, r)?),
    })
}

/// A configured retention policy as a forget policy and the snapshots it considers.
pub fn policy(p: &RetentionPolicy) -> (Policy, SnapshotFilter) {
    (
        Policy {
            keep_last: p.keep_last,
            keep_hourly: p.keep_hourly,
            keep_daily: p.keep_daily,
            keep_weekly: p.keep_weekly,
            keep_monthly: p.keep_monthly,
            keep_yearly: p.keep_yearly,
            keep_within: p.keep_within.clone(),
        },
        SnapshotFilter {
            host: p.host.clone(),
            tags: p.tags.clone(),
        },
    )
}

/// A configured repository's location (with its S3 settings).
pub fn location(r: &RepositoryConfig) -> Result<Location> {
    let s3 = match &r.s3 {
        None => S3Overrides::default(),
        Some(o) => S3Overrides {
            endpoint: o.endpoint.clone(),
            region: o.region.clone(),
            access_key_id: o.access_key_id.clone(),
            secret_access_key: o.read_secret_access_key().map_err(|e| {
                OpsError::invalid(
                    "secret_access_key_file",
                    format!("repository '{}': {e}", r.name),
                )
            })?,
            session_token: o.session_token.as_ref().map(|t| t.expose().to_string()),
            virtual_host_style: o.virtual_host_style,
        },
    };
    Ok(Location {
        url: r.url.clone(),
        s3,
        name: Some(r.name.clone()),
    })
}
