//! `amcheck`: `pg_amcheck --heapallindexed` on every database.
//!
//! Runs `pg_amcheck --all --heapallindexed --install-missing` against the restored server
//! (creating the amcheck extension in the scratch copy where it is missing). It passes when
//! pg_amcheck exits 0 and prints nothing; otherwise the detail is the end of its output
//! (the corruption it found, or why it could not check).
use super::{client, Outcome, PgConn};
use lifeboat_postgres::tools::{describe_status, last_lines};

pub(crate) fn run(pg: &PgConn) -> Outcome {
    let mut c = pg.tools.command("pg_amcheck");
    c.args(["--all", "--heapallindexed", "--install-missing", "-w"])
        .arg("-h")
        .arg(&pg.socket_dir)
        .arg("-p")
        .arg(pg.port.to_string())
        .arg("-U")
        .arg(&pg.user)
        .env_remove("PGDATABASE")
        .env_remove("PGSERVICE");
    let out = client::output(c)?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let text = text.trim();
    if out.status.success() && text.is_empty() {
        return Ok("pg_amcheck --all --heapallindexed found no corruption in any database".into());
    }
    let how = if out.status.success() {
        "reported problems".to_string()
    } else {
        describe_status(&out.status)
    };
    Err(format!(
        "pg_amcheck --all --heapallindexed {how}{}{}",
        if text.is_empty() { "" } else { ":\n" },
        last_lines(text, 20)
    ))
}
