//! Runs one `hash_chain` check against a running server and prints its detail and how long it
//! took (the entry point of `bench/hash_chain.sh`).
//!
//! ```text
//! check_hash_chain --host SOCKET_DIR --port PORT --user USER --db DATABASE --table TABLE \
//!     [--partition-by COLUMN]... --order-by EXPR --hash COLUMN --prev COLUMN --input EXPR \
//!     [--genesis TEXT]
//! ```
//!
//! Exits 0 when the chain is intact, 1 when it is broken or could not be read, 2 on bad usage.
use lifeboat_config::{Check, CheckKind, HashAlgorithm};
use lifeboat_core::cancel::CancelToken;
use lifeboat_drill::checks::{run_check, PgConn, Subject, Verdict};
use lifeboat_postgres::tools::PgTools;
use std::collections::BTreeMap;
use std::path::PathBuf;

const USAGE: &str = "usage: check_hash_chain --host SOCKET_DIR --port PORT --user USER --db DATABASE --table TABLE [--partition-by COLUMN]... --order-by EXPR --hash COLUMN --prev COLUMN --input EXPR [--genesis TEXT]";

fn main() {
    let mut opts: BTreeMap<String, String> = BTreeMap::new();
    let mut partition_by = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(name) = flag.strip_prefix("--") else {
            usage(&format!("unexpected argument {flag}"));
        };
        let Some(value) = args.next() else {
            usage(&format!("{flag} needs a value"));
        };
        match name {
            "partition-by" => partition_by.push(value),
            "host" | "port" | "user" | "db" | "table" | "order-by" | "hash" | "prev" | "input"
            | "genesis" => {
                opts.insert(name.to_string(), value);
            }
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    let mut take = |name: &str| {
        opts.remove(name)
            .unwrap_or_else(|| usage(&format!("--{name} is required")))
    };
    let socket_dir = PathBuf::from(take("host"));
    let port = take("port")
        .parse()
        .unwrap_or_else(|_| usage("--port must be a number"));
    let user = take("user");
    let database = take("db");
    let table = take("table");
    let order_by = take("order-by");
    let hash = take("hash");
    let prev = take("prev");
    let input = take("input");
    let genesis = opts.remove("genesis").unwrap_or_else(|| "0".repeat(64));

    let check = Check {
        name: format!("hash_chain {table}"),
        database: None,
        line: 0,
        kind: CheckKind::HashChain {
            table,
            partition_by,
            order_by,
            hash,
            prev,
            input,
            genesis,
            algorithm: HashAlgorithm::Sha256,
        },
    };
    let subject = Subject {
        pg: Some(PgConn {
            tools: PgTools::locate(None),
            socket_dir,
            port,
            user,
        }),
        database,
        ..Subject::default()
    };
    let r = run_check(&check, &subject, &CancelToken::new());
    println!("{:?}: {}", r.result, r.detail);
    println!("seconds: {:.3}", r.seconds);
    std::process::exit(if r.result == Verdict::Passed { 0 } else { 1 });
}

fn usage(problem: &str) -> ! {
    eprintln!("check_hash_chain: {problem}\n{USAGE}");
    std::process::exit(2)
}
